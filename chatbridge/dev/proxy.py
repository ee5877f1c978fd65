"""nginx in front of ChatBridge, terminating TLS, from the configuration the repository ships.

deploy/nginx/chatbridge.conf is a sample for operators, with {{placeholders}}; here it is
filled in for loopback (free ports, a throw-away certificate of chatbridge.dev.tls, the
ChatBridge processes as upstream servers, one `server` line each) and included in an nginx
main configuration of its own, so that nginx runs in the foreground as a child process with
every file in a temporary directory. For the tests behind a proxy and `make bench-rolling`;
where nginx is missing, `missing_nginx` says whether that fails the run (CI) or not.
"""

import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from chatbridge.dev.programs import MissingProgram, missing_program
from chatbridge.dev.services import child_options, stop_process
from chatbridge.dev.tls import Certificates

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "nginx" / "chatbridge.conf"
NGINX = os.environ.get("NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"
STARTUP_TIMEOUT = 30.0

MAIN = """\
daemon off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
{user}
events {{
    worker_connections {worker_connections};
}}
http {{
    access_log {directory}/access.log;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    include {directory}/chatbridge.conf;
}}
"""


def missing_nginx(path: str = NGINX, env: Mapping[str, str] = os.environ) -> MissingProgram | None:
    """None when nginx is there to run; otherwise whether its absence fails the run."""
    return missing_program(
        path,
        env,
        ci=f"CI is set, so the production profile must run, but there is no nginx at {path}: "
        "install Debian's nginx-light (.ci/run does) or point NGINX at it.",
        local=f"No nginx at {path} (apt-get install nginx-light, or set NGINX)",
    )


def render(
    template: str,
    values: Mapping[str, str],
    upstreams: Sequence[str] = (),
    starts_upstreams: Sequence[str] = (),
) -> str:
    """The template with every {{placeholder}} filled in; a placeholder left over fails.
    The line naming {{upstream}} is repeated for each of `upstreams`, and the one naming
    {{starts_upstream}} for each of `starts_upstreams` (`upstreams` when none), as the
    template's header tells operators with several processes to do."""
    pools = {"{{upstream}}": upstreams, "{{starts_upstream}}": starts_upstreams or upstreams}
    for placeholder, addresses in pools.items():
        lines = []
        for line in template.splitlines(keepends=True):
            if placeholder not in line:
                lines.append(line)
            elif line.lstrip().startswith("#"):
                lines.append(line.replace(placeholder, ", ".join(addresses)))
            else:
                lines.extend(line.replace(placeholder, address) for address in addresses)
        template = "".join(lines)
    for name, value in values.items():
        template = template.replace("{{" + name + "}}", value)
    assert "{{" not in template, f"unfilled placeholders in {TEMPLATE}"
    return template


@dataclass(frozen=True)
class Proxy:
    https_url: str
    http_url: str
    directory: Path


@contextmanager
def serving_proxy(
    nginx: str,
    directory: Path,
    certificates: Certificates,
    upstreams: Sequence[str],
    https_port: int,
    http_port: int,
    *,
    worker_connections: int = 256,
    starts_upstreams: Sequence[str] = (),
) -> Iterator[Proxy]:
    """nginx on loopback with the shipped configuration in front of `upstreams` (host:port
    of each ChatBridge process; chat starts go to `starts_upstreams` when given), until the
    block ends. Each proxied websocket takes two of nginx's `worker_connections`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "chatbridge.conf").write_text(
        render(
            TEMPLATE.read_text(),
            {
                "server_name": "127.0.0.1 localhost",
                "public_origin": f"https://127.0.0.1:{https_port}",
                "https_listen": f"127.0.0.1:{https_port}",
                "http_listen": f"127.0.0.1:{http_port}",
                "certificate": str(certificates.certificate),
                "certificate_key": str(certificates.key),
            },
            upstreams,
            starts_upstreams,
        )
    )
    # As root, nginx's workers would run as nobody, who cannot enter the temporary directory.
    user = "user root;" if os.geteuid() == 0 else ""
    (directory / "nginx.conf").write_text(
        MAIN.format(directory=directory, user=user, worker_connections=worker_connections)
    )
    proxy = Proxy(
        https_url=f"https://127.0.0.1:{https_port}",
        http_url=f"http://127.0.0.1:{http_port}",
        directory=directory,
    )
    command = [nginx, "-p", str(directory), "-c", str(directory / "nginx.conf"),
               "-e", str(directory / "error.log")]  # fmt: skip
    check = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, f"nginx -t refused the configuration:\n{check.stderr}"
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, **child_options()
    )
    try:
        wait_until_answering(process, proxy, certificates)
        yield proxy
    finally:
        stop_process(process)


def wait_until_answering(
    process: subprocess.Popen, proxy: Proxy, certificates: Certificates
) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        try:
            response = httpx.get(
                f"{proxy.https_url}/healthz", verify=certificates.trusting(), timeout=2
            )
            if response.status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            log = proxy.directory / "error.log"
            raise RuntimeError(f"nginx did not answer:\n{log.read_text() if log.exists() else ''}")
        time.sleep(0.1)
