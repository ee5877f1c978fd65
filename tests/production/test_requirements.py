"""Without nginx or the production virtualenv, the profile skips on a developer's machine and
fails in CI, as the browser tests do without chromium."""

from pathlib import Path

import pytest

from tests.support.production import require_production_python
from tests.support.proxy import require_nginx


@pytest.fixture
def program(tmp_path: Path) -> str:
    """An executable standing in for nginx or python."""
    path = tmp_path / "program"
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def nowhere(tmp_path: Path) -> str:
    return str(tmp_path / "missing")


def test_a_present_nginx_runs_in_ci_and_out(program: str) -> None:
    assert require_nginx(program, {"CI": "true"}) == program
    assert require_nginx(program, {}) == program


def test_a_missing_nginx_skips_on_a_developers_machine(nowhere: str) -> None:
    with pytest.raises(pytest.skip.Exception, match="No nginx at"):
        require_nginx(nowhere, {"CI": "false"})


def test_a_missing_nginx_fails_in_ci_saying_what_to_do(nowhere: str) -> None:
    with pytest.raises(pytest.fail.Exception, match="CI is set.*install"):
        require_nginx(nowhere, {"CI": "true"})


def test_a_present_production_virtualenv_runs_in_ci_and_out(program: str) -> None:
    assert require_production_python(program, {"CI": "true"}) == program
    assert require_production_python(program, {}) == program


def test_a_missing_production_virtualenv_skips_on_a_developers_machine(nowhere: str) -> None:
    with pytest.raises(pytest.skip.Exception, match="make production-venv"):
        require_production_python(nowhere, {})


def test_a_missing_production_virtualenv_fails_in_ci_saying_what_to_do(nowhere: str) -> None:
    with pytest.raises(pytest.fail.Exception, match="CI is set.*make production-venv"):
        require_production_python(nowhere, {"CI": "1"})
