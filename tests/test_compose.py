"""docker compose: production by default, the local stack only when asked for.

No Docker engine is needed: the files are read as compose reads them (YAML, with anchors).
"""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHATBRIDGE_SERVICES = ("app", "relay")


def compose(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


@pytest.fixture(scope="module")
def production() -> dict:
    return compose("docker-compose.yml")


@pytest.fixture(scope="module")
def development() -> dict:
    return compose("docker-compose.dev.yml")


@pytest.mark.parametrize("service", CHATBRIDGE_SERVICES)
def test_the_stack_runs_with_debug_off(production, service):
    assert production["services"][service]["environment"]["DEBUG"] == "0"


@pytest.mark.parametrize("service", CHATBRIDGE_SERVICES)
@pytest.mark.parametrize("key", ["SECRET_KEY", "CHATBRIDGE_TOKEN_KEYS"])
def test_keys_come_from_the_environment_never_from_the_file(production, service, key):
    environment = production["services"][service]["environment"]
    assert key in environment
    assert environment[key] is None


def test_the_stack_talks_to_amazon_connect_not_the_emulator(production):
    assert "emulator" not in production["services"]
    for service in CHATBRIDGE_SERVICES:
        environment = production["services"][service]["environment"]
        assert not any(name.endswith("_ENDPOINT_URL") for name in environment)


@pytest.mark.parametrize("service", CHATBRIDGE_SERVICES)
def test_the_development_file_turns_debug_on_and_uses_the_emulator(development, service):
    environment = development["services"][service]["environment"]
    assert environment["DEBUG"] == "1"
    assert environment["CONNECT_ENDPOINT_URL"] == "http://emulator:8900"
    assert environment["CONNECT_PARTICIPANT_ENDPOINT_URL"] == "http://emulator:8900"
    assert "emulator" in development["services"]
