"""The install the image makes: a virtualenv of requirements.txt alone runs ChatBridge in
production, with docs/deployment.md's environment and nothing the tests install."""

import re
import subprocess
from pathlib import Path

from tests.support.production import inherited_environment, production_environment

ROOT = Path(__file__).resolve().parents[2]


def requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)", line.strip())
        if match and not line.startswith("-"):
            names.add(re.sub(r"[-_.]+", "-", match[1]).lower())
    return names


def run(python: str, *args: str) -> subprocess.CompletedProcess:
    env = {
        **inherited_environment(),
        "DJANGO_SETTINGS_MODULE": "chatbridge.settings",
        **production_environment(),
    }
    return subprocess.run(
        [python, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_production_virtualenv_holds_none_of_the_test_tooling(production_python):
    frozen = run(production_python, "-m", "pip", "list", "--format=freeze").stdout
    installed = {re.sub(r"[-_.]+", "-", line.split("==")[0]).lower() for line in frozen.split()}
    tooling = requirement_names(ROOT / "requirements-dev.txt")

    assert requirement_names(ROOT / "requirements.txt") <= installed
    assert tooling & installed == set()


def test_the_application_imports_with_the_documented_environment(production_python):
    result = run(production_python, "-c", "import chatbridge.asgi")

    assert result.returncode == 0, result.stderr


def test_the_documented_environment_passes_the_deploy_check(production_python):
    result = run(production_python, "manage.py", "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout
