"""The control API under /_emulator/: inspection, acting as the agent, faults and reset."""

import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from .conftest import start_chat

pytestmark = pytest.mark.timeout(30)

EVENT = "application/vnd.amazonaws.connect.event."


def test_health_is_ok(control):
    assert control.get("/health") == {"status": "ok"}


def test_config_shows_the_cli_defaults(control):
    assert control.get("/config") == {
        "agent": "none",
        "agent_join_delay": 1.0,
        "echo_delay": 0.3,
        "connection_token_ttl": 86400.0,
        "websocket_url_ttl": 100.0,
        "first_connection_window": 300.0,
        "max_attachments": 10,
        "instance_id": None,
    }


def test_config_can_be_changed(control):
    answer = control.post("/config", {"agent": "echo", "echo_delay": 0})

    assert answer["agent"] == "echo"
    assert answer["echo_delay"] == 0
    assert control.get("/config")["agent"] == "echo"


@pytest.mark.parametrize(
    "change",
    [{"agent": "robot"}, {"echo_delay": -1}, {"websocket_url_ttl": 0}, {"colour": "blue"}],
)
def test_bad_config_is_refused(control, change):
    assert control.call("POST", "/config", change).status == 400


def test_reset_forgets_contacts_and_restores_config_and_faults(control, connect_client):
    start_chat(connect_client)
    control.post("/config", {"agent": "echo"})
    control.post("/faults", {"operation": "SendMessage", "kind": "error", "count": 3})

    control.post("/reset")

    assert control.get("/contacts") == []
    assert control.get("/config")["agent"] == "none"
    assert control.get("/faults")["api"] == []


def test_contacts_are_listed_with_participants_and_counts(control, chat):
    (contact,) = control.get("/contacts")

    assert contact["contact_id"] == chat.contact_id
    assert contact["status"] == "ACTIVE"
    assert contact["started_at"].endswith("Z") and contact["ended_at"] is None
    assert contact["participants"][0]["role"] == "CUSTOMER"
    assert contact["participants"][0]["state"] == "JOINED"
    assert contact["item_counts"] == {"total": 1, "transcript": 1, "EVENT": 1}


def test_contact_detail_includes_typing(control, chat):
    control.post(f"/contacts/{chat.contact_id}/agent/join")
    control.post(f"/contacts/{chat.contact_id}/agent/typing")

    detail = control.get(f"/contacts/{chat.contact_id}")

    assert detail["items"][-1]["ContentType"] == EVENT + "typing"
    assert detail["item_counts"]["total"] == 3
    assert detail["item_counts"]["transcript"] == 2


def test_an_unknown_contact_is_404(control):
    assert control.call("GET", "/contacts/nope").status == 404
    assert control.call("POST", "/contacts/nope/agent/join", {}).status == 404


def test_agent_join_adds_an_agent(control, chat):
    agent = control.post(f"/contacts/{chat.contact_id}/agent/join", {"display_name": "Bea"})

    assert agent["role"] == "AGENT"
    assert agent["display_name"] == "Bea"
    assert control.items(chat.contact_id)[-1]["ParticipantId"] == agent["participant_id"]


def test_agent_message_returns_the_new_item(control, chat):
    control.post(f"/contacts/{chat.contact_id}/agent/join")

    item = control.post(
        f"/contacts/{chat.contact_id}/agent/message",
        {"content": "# Hi", "content_type": "text/markdown"},
    )

    assert item["Type"] == "MESSAGE"
    assert item["ContentType"] == "text/markdown"
    assert item == control.items(chat.contact_id)[-1]


def test_agent_actions_need_an_agent(control, chat):
    answer = control.call("POST", f"/contacts/{chat.contact_id}/agent/message", {"content": "x"})

    assert answer.status == 409


def test_agent_message_needs_content(control, chat):
    control.post(f"/contacts/{chat.contact_id}/agent/join")

    assert control.call("POST", f"/contacts/{chat.contact_id}/agent/message", {}).status == 400


@pytest.mark.parametrize(
    ("kind", "field"), [("delivered", "DeliveredTimestamp"), ("read", "ReadTimestamp")]
)
def test_agent_receipt_adds_message_metadata(control, chat, participant_client, kind, field):
    control.post(f"/contacts/{chat.contact_id}/agent/join")
    sent = participant_client.send_message(
        ContentType="text/plain", Content="Hi", ConnectionToken=chat.connection_token
    )

    item = control.post(
        f"/contacts/{chat.contact_id}/agent/receipt", {"message_id": sent["Id"], "kind": kind}
    )

    assert item["Type"] == "MESSAGEMETADATA"
    assert field in item["MessageMetadata"]["Receipts"][0]


def test_agent_leave_adds_participant_left(control, chat):
    agent = control.post(f"/contacts/{chat.contact_id}/agent/join")

    left = control.post(f"/contacts/{chat.contact_id}/agent/leave")

    assert left["state"] == "LEFT"
    last = control.items(chat.contact_id)[-1]
    assert (last["ContentType"], last["ParticipantId"]) == (
        EVENT + "participant.left",
        agent["participant_id"],
    )


def test_end_ends_the_chat(control, chat):
    control.post(f"/contacts/{chat.contact_id}/agent/join")

    ended = control.post(f"/contacts/{chat.contact_id}/end")

    assert ended["status"] == "ENDED" and ended["ended_at"]
    assert control.items(chat.contact_id)[-1]["ContentType"] == EVENT + "chat.ended"
    assert control.call("POST", f"/contacts/{chat.contact_id}/end", {}).status == 409


def test_transfer_brings_a_new_agent(control, chat):
    first = control.post(f"/contacts/{chat.contact_id}/agent/join")

    second = control.post(f"/contacts/{chat.contact_id}/transfer", {"display_name": "Cy"})

    kinds = [i["ContentType"].rsplit(".", 2)[-2:] for i in control.items(chat.contact_id)[-3:]]
    assert kinds == [["transfer", "succeeded"], ["participant", "left"], ["participant", "joined"]]
    assert second["display_name"] == "Cy"
    assert second["participant_id"] != first["participant_id"]


def test_faults_are_listed_and_cleared(control):
    control.post("/faults", {"operation": "SendMessage", "kind": "throttle", "count": 2})

    assert control.get("/faults")["api"] == [
        {"operation": "SendMessage", "kind": "throttle", "remaining": 2}
    ]
    control.delete("/faults")
    assert control.get("/faults")["api"] == []


def test_a_held_call_is_answered_only_once_the_faults_are_cleared(control, connect_client):
    control.post("/faults", {"operation": "StartChatContact", "kind": "hold", "count": 1})
    with ThreadPoolExecutor(1) as pool:
        starting = pool.submit(start_chat, connect_client)
        assert control.get("/faults?held=1")["held"] == 1
        assert not starting.done()

        control.delete("/faults")

        assert starting.result(timeout=10)["ContactId"]
    assert control.get("/faults")["held"] == 0


@pytest.mark.parametrize(
    "fault",
    [
        {"operation": "Nope", "kind": "throttle", "count": 1},
        {"operation": "SendMessage", "kind": "explode", "count": 1},
        {"operation": "SendMessage", "kind": "error", "count": 0},
    ],
)
def test_bad_faults_are_refused(control, fault):
    assert control.call("POST", "/faults", fault).status == 400


def test_drop_closes_the_contacts_sockets_abruptly(control, chat, open_socket):
    socket = open_socket(chat.websocket_url)
    socket.subscribe()

    answer = control.post(f"/contacts/{chat.contact_id}/websockets/drop")

    assert answer == {"dropped": 1}
    assert socket.closed() == 1011


def test_a_dropped_connection_can_reconnect_with_the_same_token(
    control, chat, open_socket, participant_client
):
    open_socket(chat.websocket_url).subscribe()
    control.post(f"/contacts/{chat.contact_id}/websockets/drop")

    socket = open_socket(chat.websocket_url)

    assert socket.subscribe()["content"]["status"] == "success"


def test_expire_connection_tokens_reports_how_many(control, chat):
    assert control.post(f"/contacts/{chat.contact_id}/expire-connection-tokens") == {"expired": 1}


def test_contacts_list_their_websockets(control, chat, open_socket):
    open_socket(chat.websocket_url).subscribe()

    (contact,) = control.get("/contacts")

    assert contact["websockets"] == [{"participant_id": chat.participant_id, "subscribed": True}]


def test_the_agent_console_is_served(emulator_process):
    with urllib.request.urlopen(emulator_process.url + "/_emulator/agent/", timeout=10) as page:
        html = page.read().decode()
    assert '<script src="/_emulator/static/connect_emulator/agent_console.js"' in html
    assert "onclick" not in html and "<script>" not in html
    for asset in ("agent_console.js", "agent_console.css"):
        url = f"{emulator_process.url}/_emulator/static/connect_emulator/{asset}"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
