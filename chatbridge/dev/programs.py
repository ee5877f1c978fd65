"""Programs the local stack needs from the system (chromium, nginx, a production virtualenv):
whether one is missing, and whether its absence fails the run or only leaves out what needs it.

A developer's machine may lack them: the tests that need one skip, the bench that needs one
stops and says why. A CI run must not pass by running none of them, so there it fails.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass

# CI services set CI to "true" (some to "1" or their own name); these mean it is not set.
NOT_CI = {"", "0", "false", "no", "off"}


def running_in_ci(env: Mapping[str, str]) -> bool:
    """Whether CI is set to a true value: anything but empty, 0, false, no or off."""
    return env.get("CI", "").strip().lower() not in NOT_CI


@dataclass(frozen=True)
class MissingProgram:
    """What to do about a missing program (chromium, nginx…): fail (in CI) or skip, and why."""

    fail: bool
    reason: str


def missing_program(
    path: str, env: Mapping[str, str], *, ci: str, local: str
) -> MissingProgram | None:
    """None when `path` is an executable; otherwise the `ci` reason (fail) or `local` (skip)."""
    if os.access(path, os.X_OK):
        return None
    if running_in_ci(env):
        return MissingProgram(fail=True, reason=ci)
    return MissingProgram(fail=False, reason=local)
