"""When chromium is missing, browser tests skip on a developer's machine and fail in CI."""

from pathlib import Path

import pytest

from chatbridge.dev.programs import running_in_ci
from tests.support.browser import missing_chromium, require_chromium


@pytest.fixture
def chromium(tmp_path: Path) -> str:
    """An executable standing in for chromium."""
    path = tmp_path / "chromium"
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def nowhere(tmp_path: Path) -> str:
    return str(tmp_path / "no-chromium")


@pytest.mark.parametrize("value", ["true", "1", "TRUE", "yes", " true ", "woodpecker"])
def test_ci_set_to_a_true_value_counts_as_ci(value: str) -> None:
    assert running_in_ci({"CI": value})


@pytest.mark.parametrize("value", ["", "0", "false", "False", "no", "off"])
def test_ci_unset_or_false_is_a_developers_machine(value: str) -> None:
    assert not running_in_ci({"CI": value})
    assert not running_in_ci({})


def test_a_present_chromium_runs_in_ci_and_out(chromium: str) -> None:
    assert missing_chromium(chromium, {}) is None
    assert missing_chromium(chromium, {"CI": "true"}) is None
    assert require_chromium(chromium, {"CI": "true"}) == chromium


def test_a_missing_chromium_skips_on_a_developers_machine(nowhere: str) -> None:
    missing = missing_chromium(nowhere, {"CI": "false"})
    assert missing is not None
    assert not missing.fail
    assert nowhere in missing.reason
    with pytest.raises(pytest.skip.Exception, match="No chromium at"):
        require_chromium(nowhere, {})


def test_a_missing_chromium_fails_in_ci_saying_what_to_do(nowhere: str) -> None:
    missing = missing_chromium(nowhere, {"CI": "true"})
    assert missing is not None
    assert missing.fail
    assert nowhere in missing.reason
    assert "install" in missing.reason
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        require_chromium(nowhere, {"CI": "true"})


def test_a_chromium_that_cannot_be_executed_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "chromium"
    path.write_text("not a program")
    path.chmod(0o644)
    missing = missing_chromium(str(path), {"CI": "1"})
    assert missing is not None
    assert missing.fail
