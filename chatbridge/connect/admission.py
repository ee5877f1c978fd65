"""Preparing a boto3 call while the caller still checks whether it may be sent."""

import threading
from collections.abc import Callable
from typing import Any


class _Withdrawn(Exception):
    """The call was not admitted: it never left this process."""


class AdmissionGate:
    """Holds a boto3 call at botocore's before-send until the caller admits it.

    A call waiting on a check of its own (a rate limit in Redis) need not wait to start:
    botocore serializes and signs the request in its thread meanwhile, and only sending
    waits for the check. Withdrawn, the call ends there, unsent.
    """

    _current = threading.local()

    def __init__(self) -> None:
        self._decided = threading.Event()
        self._admitted = False

    def admit(self) -> None:
        self._admitted = True
        self._decided.set()

    def withdraw(self) -> None:
        self._decided.set()

    def run(self, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Runs the call in this (executor) thread, held at before-send by this gate."""
        AdmissionGate._current.gate = self
        try:
            return call()
        finally:
            AdmissionGate._current.gate = None

    @classmethod
    def hold(cls, **kwargs: Any) -> None:
        """botocore's before-send handler."""
        gate = getattr(cls._current, "gate", None)
        if gate is not None:
            gate._decided.wait()
            if not gate._admitted:
                raise _Withdrawn()
