"""Clients of the production stack over https, through nginx: the redirect from plain HTTP,
HSTS, the health check, REST chats with the emulator's echo agent, by long-poll and SSE, and
chat starts served by a process of their own."""

import itertools
import json
import uuid

import httpx

ECHO = {"agent": "echo", "agent_join_delay": 0, "echo_delay": 0}


def test_plain_http_is_redirected_to_the_https_origin(tls_stack):
    response = httpx.get(f"{tls_stack.http_url}/admin/?q=1", timeout=15)

    assert response.status_code == 301
    assert response.headers["location"] == f"{tls_stack.url}/admin/?q=1"


def test_the_health_check_answers_on_plain_http_and_https(tls_stack):
    assert httpx.get(f"{tls_stack.http_url}/healthz", timeout=15).status_code == 200
    with tls_stack.client() as client:
        assert client.get("/healthz").status_code == 200


def test_pages_over_https_are_served_with_hsts(tls_stack):
    with tls_stack.client() as client:
        response = client.get("/admin/login/")

    assert response.status_code == 200
    assert response.headers["strict-transport-security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )


def start_chat(client: httpx.Client) -> tuple[str, dict[str, str]]:
    """A chat started through the REST API, as a mobile app starts one; its id and headers."""
    started = client.post(
        "/api/v1/chats",
        json={"widget_id": "default", "display_name": "Ada"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert started.status_code == 201, started.text
    chat = started.json()
    return chat["chat_id"], {"Authorization": f"Bearer {chat['session_token']}"}


def send(client: httpx.Client, chat_id: str, headers: dict[str, str], text: str) -> None:
    sent = client.post(f"/api/v1/chats/{chat_id}/messages", json={"content": text}, headers=headers)
    assert sent.status_code == 201, sent.text


def chat_starts(server) -> int:
    return sum(1 for r in server.requests() if (r.method, r.path) == ("POST", "/api/v1/chats"))


def test_chats_start_on_their_own_process_and_are_served_by_the_other(tls_stack, emulator):
    emulator.configure(**ECHO)
    starts_before, served_before = chat_starts(tls_stack.starts), chat_starts(tls_stack.server)
    with tls_stack.client() as client:
        chat_id, headers = start_chat(client)
        page = client.get(
            f"/api/v1/chats/{chat_id}/events", params={"after": 0, "wait": 10}, headers=headers
        )

    assert page.status_code == 200, page.text
    assert chat_starts(tls_stack.starts) == starts_before + 1
    assert chat_starts(tls_stack.server) == served_before
    events = f"/api/v1/chats/{chat_id}/events"
    assert any(r.path.startswith(events) for r in tls_stack.server.requests())


def test_a_rest_chat_gets_the_agents_echo_over_https(tls_stack, emulator):
    emulator.configure(**ECHO)
    with tls_stack.client() as client:
        chat_id, headers = start_chat(client)
        send(client, chat_id, headers, "Hello over TLS")

        after, texts = 0, []
        for _ in range(10):
            if "Echo: Hello over TLS" in texts:
                break
            page = client.get(
                f"/api/v1/chats/{chat_id}/events",
                params={"after": after, "wait": 10},
                headers=headers,
            )
            assert page.status_code == 200, page.text
            assert page.json()["events"], "no echo within the long-poll's wait"
            for item in page.json()["events"]:
                after = item["seq"]
                if item["event"]["type"] == "message":
                    texts.append(item["event"]["content"])
        assert texts == ["Hello over TLS", "Echo: Hello over TLS"]


def test_an_sse_stream_delivers_the_echo_through_the_proxy(tls_stack, emulator):
    emulator.configure(**ECHO)
    with tls_stack.client() as client:
        chat_id, headers = start_chat(client)
        with client.stream(
            "GET", f"/api/v1/chats/{chat_id}/events/stream", headers=headers
        ) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            send(client, chat_id, headers, "Hello over SSE")
            texts = []
            for line in itertools.islice(stream.iter_lines(), 200):
                if line.startswith("data:"):
                    data = json.loads(line.removeprefix("data:"))
                    if data.get("type") == "message":
                        texts.append(data["content"])
                if "Echo: Hello over SSE" in texts:
                    break
    assert texts == ["Hello over SSE", "Echo: Hello over SSE"]
