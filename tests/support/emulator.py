"""A test's handle on the Connect emulator's control API (/_emulator/)."""

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class EmulatorControl:
    url: str

    def _request(self, method: str, path: str, json: Any = None) -> Any:
        response = httpx.request(method, f"{self.url}/_emulator{path}", json=json, timeout=10)
        response.raise_for_status()
        return response.json() if response.content else None

    def reset(self) -> None:
        self._request("POST", "/reset")

    def configure(self, **config: Any) -> dict[str, Any]:
        return self._request("POST", "/config", config)

    def contacts(self) -> list[dict[str, Any]]:
        return self._request("GET", "/contacts")

    def contact(self, contact_id: str) -> dict[str, Any]:
        return self._request("GET", f"/contacts/{contact_id}")

    def agent_join(self, contact_id: str, display_name: str | None = None) -> Any:
        body = {"display_name": display_name} if display_name else {}
        return self._request("POST", f"/contacts/{contact_id}/agent/join", body)

    def agent_message(self, contact_id: str, content: str, content_type: str | None = None) -> Any:
        body: dict[str, Any] = {"content": content}
        if content_type:
            body["content_type"] = content_type
        return self._request("POST", f"/contacts/{contact_id}/agent/message", body)

    def agent_typing(self, contact_id: str) -> Any:
        return self._request("POST", f"/contacts/{contact_id}/agent/typing", {})

    def agent_leave(self, contact_id: str) -> Any:
        return self._request("POST", f"/contacts/{contact_id}/agent/leave", {})

    def end_chat(self, contact_id: str) -> Any:
        return self._request("POST", f"/contacts/{contact_id}/end", {})

    def fault(self, operation: str, kind: str, count: int = 1) -> Any:
        return self._request(
            "POST", "/faults", {"operation": operation, "kind": kind, "count": count}
        )

    def expire_connection_tokens(self, contact_id: str) -> Any:
        return self._request("POST", f"/contacts/{contact_id}/expire-connection-tokens", {})

    def drop_websockets(self, contact_id: str) -> Any:
        return self._request("POST", f"/contacts/{contact_id}/websockets/drop", {})

    def websocket_faults(self, contact_id: str, **faults: Any) -> Any:
        return self._request("POST", f"/contacts/{contact_id}/websockets/faults", faults)

    def set_quotas(self, *, enabled: bool = True, **limits: str | int) -> dict[str, Any]:
        """Turns Connect's quotas on (or off) with these limits (``SendMessage="2/3"``,
        ``ActiveChats=1``); every bucket starts full. A reset restores the command line's."""
        return self._request("POST", "/quotas", {"enabled": enabled, "limits": limits})

    def clear_faults(self) -> Any:
        """Forgets every pending fault, and lets every held call go on."""
        return self._request("DELETE", "/faults")

    def held(self, count: int) -> int:
        """How many calls a "hold" fault keeps waiting, once `count` are (the emulator
        answers once they are, or after 10 s)."""
        response = httpx.get(f"{self.url}/_emulator/faults?held={count}", timeout=15)
        response.raise_for_status()
        return response.json()["held"]

    def calls(self, operation: str) -> int:
        """The calls of `operation` Connect admitted since the emulator's last reset."""
        return self._request("GET", "/quotas")["calls"].get(operation, {}).get("admitted", 0)


def receipts_in_connect(emulator, contact_id: str, message_id: str) -> list[dict]:
    """The receipts that Connect (the emulator) holds for a message."""
    items = emulator.contact(contact_id)["items"]
    return [
        i["MessageMetadata"]["Receipts"]
        for i in items
        if i["Type"] == "MESSAGEMETADATA" and i["MessageMetadata"]["MessageId"] == message_id
    ]
