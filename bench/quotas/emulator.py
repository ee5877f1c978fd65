"""What the Connect emulator itself holds, read through its control API after the run: the
quotas in force and, per contact, every item (typing included), the record to compare the
customers' view with."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from bench.quotas.plan import message_id_in

TYPING = "application/vnd.amazonaws.connect.event.typing"


@dataclass(frozen=True)
class Quota:
    per_second: float
    burst: int


@dataclass
class ContactView:
    """One contact as Connect has it, reduced to what the comparison needs."""

    contact_id: str
    display_name: str  # the customer's
    customer_id: str
    status: str
    started_at: float  # when Connect started the contact (wall seconds)
    # message id -> AbsoluteTime (wall seconds) of each customer MESSAGE item carrying it
    messages: dict[str, list[float]] = field(default_factory=dict)
    # message id -> Connect item ids of the agent's echoes of it
    echoes: dict[str, list[str]] = field(default_factory=dict)
    typing: int = 0  # the customer's typing items
    read_by_customer: set[str] = field(default_factory=set)  # item ids the customer read
    websocket_peak: int = 0  # the most websockets one participant had open at once
    websockets_refused: int = 0  # refused at the per-participant cap


def wall(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def quotas(emulator_url: str) -> tuple[bool, dict[str, Quota]]:
    answer = httpx.get(f"{emulator_url}/_emulator/quotas", timeout=30).json()
    rates = {}
    for name, text in answer["rates"].items():
        per_second, burst = text.split("/")
        rates[name] = Quota(float(per_second), int(burst))
    return bool(answer["enabled"]), rates


def contacts(emulator_url: str) -> list[ContactView]:
    with httpx.Client(base_url=emulator_url, timeout=60) as client:
        listed = client.get("/_emulator/contacts").json()
        return [
            view_of(client.get(f"/_emulator/contacts/{c['contact_id']}").json()) for c in listed
        ]


def view_of(detail: dict[str, Any]) -> ContactView:
    customer = next((p for p in detail["participants"] if p["role"] == "CUSTOMER"), None)
    view = ContactView(
        contact_id=detail["contact_id"],
        display_name=customer["display_name"] if customer else "",
        customer_id=customer["participant_id"] if customer else "",
        status=detail["status"],
        started_at=wall(detail["started_at"]),
        websocket_peak=detail.get("websocket_peak", 0),
        websockets_refused=detail.get("websockets_refused", 0),
    )
    for item in detail.get("items", []):
        role = item.get("ParticipantRole")
        kind = item.get("Type")
        if kind == "MESSAGE":
            mid = message_id_in(item.get("Content"))
            if mid is None:
                continue
            if role == "CUSTOMER":
                view.messages.setdefault(mid, []).append(wall(item["AbsoluteTime"]))
            elif role == "AGENT":
                view.echoes.setdefault(mid, []).append(item["Id"])
        elif kind == "EVENT" and role == "CUSTOMER" and item.get("ContentType") == TYPING:
            view.typing += 1
        elif kind == "MESSAGEMETADATA":
            metadata = item.get("MessageMetadata") or {}
            for receipt in metadata.get("Receipts", []):
                if receipt.get("RecipientParticipantId") == view.customer_id and receipt.get(
                    "ReadTimestamp"
                ):
                    view.read_by_customer.add(metadata.get("MessageId", ""))
    return view
