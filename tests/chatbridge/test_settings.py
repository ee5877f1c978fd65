"""Production settings: refuse to start with keys anyone could know, and pass Django's deploy check.

Each case starts a fresh interpreter, as a deployment would, with only the environment given.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.support.production import inherited_environment, production_environment

ROOT = Path(__file__).resolve().parents[2]
DEVELOPMENT_KEY = "chatbridge-local-development-key-not-for-production"


def run_python(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={
            **inherited_environment(),
            "DJANGO_SETTINGS_MODULE": "chatbridge.settings",
            **environment,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_django(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return run_python(environment, "manage.py", *args)


def start(environment: dict[str, str]) -> subprocess.CompletedProcess:
    return run_django(environment, "check")


@pytest.fixture
def production() -> dict[str, str]:
    return production_environment()


def test_the_documented_production_environment_passes_the_deploy_check(production):
    result = run_django(production, "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout


def test_the_deploy_check_sees_through_chatbridges_middleware_to_hsts(production):
    production["SECURE_HSTS_SECONDS"] = "0"

    result = run_django(production, "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 1
    assert "chatbridge.security.W004" in result.stderr + result.stdout


def test_production_starts_with_the_documented_environment(production):
    assert start(production).returncode == 0


def test_production_refuses_to_start_without_a_secret_key(production):
    del production["SECRET_KEY"]

    result = start(production)

    assert result.returncode != 0
    assert "Set SECRET_KEY when DEBUG is off" in result.stderr


def test_production_refuses_the_public_development_key(production):
    production["SECRET_KEY"] = DEVELOPMENT_KEY

    result = start(production)

    assert result.returncode != 0
    assert "Set SECRET_KEY when DEBUG is off" in result.stderr


@pytest.mark.parametrize(
    "weak", ["short-but-random-Zx81", "a" * 60, "django-insecure-" + "x1" * 30]
)
def test_production_refuses_a_guessable_secret_key(production, weak):
    production["SECRET_KEY"] = weak

    result = start(production)

    assert result.returncode != 0
    assert "SECRET_KEY is too weak" in result.stderr


def test_production_refuses_to_start_without_token_keys(production):
    del production["CHATBRIDGE_TOKEN_KEYS"]

    result = start(production)

    assert result.returncode != 0
    assert "Set CHATBRIDGE_TOKEN_KEYS when DEBUG is off" in result.stderr


def test_production_refuses_a_malformed_token_key_without_printing_it(production):
    production["CHATBRIDGE_TOKEN_KEYS"] = f"{Fernet.generate_key().decode()},not-a-fernet-key"

    result = start(production)

    assert result.returncode != 0
    assert "CHATBRIDGE_TOKEN_KEYS: key 2 is not a Fernet key" in result.stderr
    assert "not-a-fernet-key" not in result.stderr


def test_production_redirects_to_https_and_sends_hsts_by_default(production):
    result = run_python(
        production,
        "-c",
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER)",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "True",
        "31536000",
        "('HTTP_X_FORWARDED_PROTO',",
        "'https')",
    ]


def test_the_container_image_does_not_default_to_debug():
    dockerfile = (ROOT / "Dockerfile").read_text()
    runtime_env = re.findall(r"^ENV\s+(.*)$", dockerfile, re.M)

    assert any(re.search(r"\bDEBUG=0\b", line) for line in runtime_env)
    assert not any(re.search(r"\bDEBUG=(1|true|yes|on)\b", line, re.I) for line in runtime_env)


def test_region_endpoints_are_read_as_region_url_pairs():
    result = run_python(
        {"CONNECT_REGION_ENDPOINT_URLS": "eu-west-2=http://127.0.0.1:1, ap-south-1=http://[::1]:2"},
        "-c",
        "import django; django.setup(); from django.conf import settings as s; "
        "print(sorted(s.CONNECT_REGION_ENDPOINT_URLS.items()))",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "[('ap-south-1', 'http://[::1]:2'), ('eu-west-2', 'http://127.0.0.1:1')]"
    )


def test_a_region_endpoint_without_its_region_refuses_to_start():
    result = start({"CONNECT_REGION_ENDPOINT_URLS": "http://127.0.0.1:1"})

    assert result.returncode != 0
    assert "CONNECT_REGION_ENDPOINT_URLS" in result.stderr


@pytest.mark.parametrize("interval", ["0", "-0.001", "2"])
def test_a_switch_interval_out_of_range_refuses_to_start(interval):
    result = start({"CHATBRIDGE_SWITCH_INTERVAL": interval})

    assert result.returncode != 0
    assert "CHATBRIDGE_SWITCH_INTERVAL must be above 0 and at most 1 second" in result.stderr


@pytest.mark.parametrize("thresholds", ["10000,100", "10000,100,20,5", "10000,a,20", "0,100,20"])
def test_garbage_collector_thresholds_other_than_three_positive_integers_refuse_to_start(
    thresholds,
):
    result = start({"CHATBRIDGE_GC_THRESHOLDS": thresholds})

    assert result.returncode != 0
    assert "CHATBRIDGE_GC_THRESHOLDS takes three positive integers" in result.stderr


def test_a_wrong_event_loop_refuses_to_start():
    result = start({"CHATBRIDGE_EVENT_LOOP": "trio"})

    assert result.returncode != 0
    assert "CHATBRIDGE_EVENT_LOOP: 'trio' is not one of uvloop, asyncio" in result.stderr
