"""Widget features in real Chromium: attachments, interactive messages, the transcript, the
host page's JS API (queued calls, identify, events) and the unread badge."""

import json
import struct
import zlib
from pathlib import Path

from playwright.sync_api import expect

from tests.webwidget.pages import (
    active_contact,
    bubbles,
    open_widget,
    send,
    start_chat,
    widget_frame,
)


def png(width: int = 40, height: int = 24) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + bytes((31, 111, 235)) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_attachments_are_checked_uploaded_previewed_and_downloadable(
    page, live_server, emulator, widget_setup
):
    widget_setup(attachment_types="png pdf")
    frame = open_widget(page, live_server.url + "/")
    start_chat(frame)
    picker = frame.locator("input[type=file]")
    picker.set_input_files(
        {"name": "virus.exe", "mimeType": "application/octet-stream", "buffer": b"MZ"}
    )
    expect(frame.locator(".cb-notice")).to_have_text(
        "virus.exe: files of this type can't be sent here."
    )
    picker.set_input_files({"name": "kettle.png", "mimeType": "image/png", "buffer": png()})
    image = frame.locator(".cb-log .cb-from-me img.cb-image")
    expect(image).to_be_visible()
    expect(image).to_have_attribute("alt", "Image kettle.png")
    assert image.evaluate("img => img.naturalWidth") == 40
    expect(frame.locator(".cb-upload")).to_have_count(0)
    picker.set_input_files(
        {"name": "manual.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 manual"}
    )
    download = frame.get_by_role("button", name="Download manual.pdf")
    expect(download).to_be_visible()
    contact = emulator.contact(active_contact(emulator))
    names = [a["AttachmentName"] for i in contact["items"] for a in i.get("Attachments") or []]
    assert names == ["kettle.png", "manual.pdf"]


def test_interactive_messages_become_buttons_and_the_choice_is_the_reply(
    page, live_server, emulator, widget_setup
):
    widget_setup()
    frame = open_widget(page, live_server.url + "/")
    start_chat(frame)
    contact = active_contact(emulator)
    emulator.agent_join(contact, "Bot")
    quick = {
        "templateType": "QuickReply",
        "version": "1.0",
        "data": {
            "content": {
                "title": "How was your kettle?",
                "elements": [{"title": "Great"}, {"title": "Too loud"}],
            }
        },
    }
    picker = {
        "templateType": "ListPicker",
        "version": "1.0",
        "data": {
            "content": {
                "title": "Which colour?",
                "subtitle": "Tap to select",
                "elements": [
                    {"title": "Copper", "subtitle": "€99"},
                    {"title": "Steel", "subtitle": "€89"},
                ],
            }
        },
    }
    interactive = "application/vnd.amazonaws.connect.message.interactive"
    emulator.agent_message(contact, json.dumps(quick), interactive)
    frame.get_by_role("button", name="Great").click()
    expect(bubbles(frame, "me")).to_have_text(["Great"])
    expect(frame.get_by_role("button", name="Too loud")).to_be_disabled()
    emulator.agent_message(contact, json.dumps(picker), interactive)
    expect(frame.locator(".cb-interactive-subtitle")).to_have_text("Tap to select")
    frame.get_by_role("button", name="Steel €89").click()
    expect(bubbles(frame, "me")).to_have_text(["Great", "Steel"])
    sent = [
        i
        for i in emulator.contact(contact)["items"]
        if i.get("ParticipantRole") == "CUSTOMER" and i["Type"] == "MESSAGE"
    ]
    assert [(i["Content"], i["ContentType"]) for i in sent] == [
        ("Great", "text/plain"),
        ("Steel", "text/plain"),
    ]


def test_the_transcript_downloads_as_text(page, live_server, emulator, widget_setup):
    widget_setup()
    emulator.configure(agent="echo", agent_join_delay=0, echo_delay=0.1)
    frame = open_widget(page, live_server.url + "/")
    start_chat(frame, name="Ada")
    send(frame, "Keep this")
    expect(bubbles(frame, "agent")).to_have_text(["Echo: Keep this"])
    frame.get_by_role("button", name="Chat options").click()
    with page.expect_download() as info:
        frame.get_by_role("button", name="Download transcript").click()
    text = Path(info.value.path()).read_text(encoding="utf-8")
    assert text.startswith("Chat with us\n")
    assert "Alex (echo) joined the chat" in text
    assert "] Ada: Keep this\n" in text
    assert "] Alex (echo): Echo: Keep this\n" in text


def test_the_host_api_queues_calls_identifies_and_reports_events(
    page, live_server, emulator, widget_setup
):
    widget_setup()
    emulator.configure(agent="echo", agent_join_delay=0, echo_delay=0.1)
    # The documented stub, then calls made before the loader arrives.
    page.add_init_script(
        """
        window.ChatBridge = window.ChatBridge || function () {
          (window.ChatBridge.q = window.ChatBridge.q || []).push(arguments);
        };
        window.seen = [];
        ChatBridge("identify", {name: "Grace", email: "grace@example.com", attributes: {plan: "gold"}});
        for (const name of ["open", "close", "message", "unread", "ended"]) {
          ChatBridge("on", name, (data) => window.seen.push([name, data]));
        }
        """
    )
    page.goto(live_server.url + "/")
    page.wait_for_function("window.ChatBridge && window.ChatBridge.loaded")
    frame = widget_frame(page)
    expect(frame.locator(".cb-launcher")).to_be_visible()
    page.evaluate("ChatBridge.open()")
    # Identified with every required field: no form, the first message starts the chat.
    expect(frame.locator(".cb-prechat")).to_be_hidden()
    send(frame, "Hi from Grace")
    expect(bubbles(frame, "agent")).to_have_text(["Echo: Hi from Grace"])
    contact = emulator.contact(active_contact(emulator))
    assert contact["attributes"] == {"plan": "gold", "name": "Grace", "email": "grace@example.com"}
    assert [p["display_name"] for p in contact["participants"] if p["role"] == "CUSTOMER"] == [
        "Grace"
    ]

    page.evaluate("ChatBridge.close()")
    expect(frame.locator(".cb-panel")).to_be_hidden()
    emulator.agent_message(contact["contact_id"], "Are you still there?")
    badge = frame.locator(".cb-badge")
    expect(badge).to_have_text("1")
    page.wait_for_function("window.seen.some(([n, d]) => n === 'unread' && d.count === 1)")
    page.evaluate("ChatBridge.toggle()")
    expect(badge).to_be_hidden()
    page.evaluate("ChatBridge.endChat()")
    expect(frame.locator(".cb-ended")).to_be_visible()
    page.wait_for_function("window.seen.some(([n]) => n === 'ended')")
    names = page.evaluate("window.seen.map(([n]) => n)")
    assert {"open", "close", "message", "unread", "ended"} <= set(names)
    messages = page.evaluate("window.seen.filter(([n]) => n === 'message').map(([, d]) => d)")
    # The host learns that a message arrived and from whom, never what it says.
    assert all(set(m) == {"from", "at"} for m in messages)


def test_an_image_preview_opens_zoomed_and_agents_addresses_are_links(
    page, live_server, emulator, widget_setup
):
    widget_setup(attachment_types="png")
    frame = open_widget(page, live_server.url + "/")
    start_chat(frame)
    contact = active_contact(emulator)
    emulator.agent_join(contact, "Sam")
    emulator.agent_message(contact, "Track it at https://track.example/p?id=7.")
    address = frame.get_by_role("link", name="https://track.example/p?id=7")
    expect(address).to_have_attribute("href", "https://track.example/p?id=7")
    expect(address).to_have_attribute("target", "_blank")
    expect(address).to_have_attribute("rel", "noopener noreferrer nofollow")

    frame.locator("input[type=file]").set_input_files(
        {"name": "kettle.png", "mimeType": "image/png", "buffer": png()}
    )
    preview = frame.locator(".cb-log img.cb-image")
    expect(preview).to_be_visible()
    downloads = []
    page.on("download", lambda download: downloads.append(download))
    preview.click()
    zoomed = frame.get_by_role("dialog", name="Image kettle.png")
    expect(zoomed).to_be_visible()
    image = zoomed.get_by_role("img", name="Image kettle.png")
    expect(image).to_have_attribute("src", preview.get_attribute("src"))
    assert image.evaluate("img => img.getBoundingClientRect().width") > preview.evaluate(
        "img => img.getBoundingClientRect().width"
    )
    zoomed.get_by_role("button", name="Close image").click()
    expect(zoomed).to_be_hidden()
    assert downloads == []


def test_answering_one_interactive_message_leaves_an_unanswered_earlier_one_open(
    page, live_server, emulator, widget_setup
):
    widget_setup()
    frame = open_widget(page, live_server.url + "/")
    start_chat(frame)
    contact = active_contact(emulator)
    emulator.agent_join(contact, "Bot")
    interactive = "application/vnd.amazonaws.connect.message.interactive"

    def template(kind: str, title: str, choices: list[str]) -> str:
        elements = [{"title": choice} for choice in choices]
        return json.dumps(
            {
                "templateType": kind,
                "version": "1.0",
                "data": {"content": {"title": title, "elements": elements}},
            }
        )

    emulator.agent_message(
        contact, template("ListPicker", "Which colour?", ["Copper", "Steel"]), interactive
    )
    emulator.agent_message(
        contact, template("QuickReply", "Gift wrap?", ["Yes", "No"]), interactive
    )
    frame.get_by_role("button", name="Yes").click()
    expect(bubbles(frame, "me")).to_have_text(["Yes"])
    expect(frame.get_by_role("button", name="No")).to_be_disabled()
    expect(frame.get_by_role("button", name="Steel")).to_be_enabled()

    page.reload()
    frame = open_widget(page, live_server.url + "/")
    expect(bubbles(frame, "me")).to_have_text(["Yes"])
    expect(frame.get_by_role("button", name="No")).to_be_disabled()
    expect(frame.get_by_role("button", name="Yes")).to_have_class("cb-option cb-chosen")
    expect(frame.get_by_role("button", name="Copper")).to_be_enabled()


def test_the_panel_stays_open_across_pages_and_a_new_chat_keeps_the_name(
    page, live_server, emulator, widget_setup
):
    widget_setup()
    frame = open_widget(page, live_server.url + "/")
    start_chat(frame, name="Ada Lovelace")
    page.goto(live_server.url + "/?page=2")
    frame = widget_frame(page)
    expect(frame.locator(".cb-panel")).to_be_visible()
    # Reopened without taking the new page's focus.
    assert page.evaluate("document.activeElement === document.body")
    frame.get_by_role("button", name="Chat options").click()
    frame.get_by_role("button", name="End chat").click()
    frame.locator(".cb-confirm").get_by_role("button", name="End chat").click()
    frame.get_by_role("button", name="Start a new chat").click()
    expect(frame.get_by_label("Name")).to_have_value("Ada Lovelace")

    frame.locator(".cb-close").click()
    page.goto(live_server.url + "/?page=3")
    expect(widget_frame(page).locator(".cb-launcher")).to_be_visible()
    expect(widget_frame(page).locator(".cb-panel")).to_be_hidden()


def test_an_upload_shows_its_share_and_can_be_cancelled_and_a_refusal_clears(
    page, live_server, emulator, widget_setup
):
    widget_setup(attachment_types="pdf")
    frame = open_widget(page, live_server.url + "/")
    start_chat(frame)
    picker = frame.locator("input[type=file]")
    picker.set_input_files({"name": "virus.exe", "mimeType": "application/x-exe", "buffer": b"MZ"})
    notice = frame.locator(".cb-notice")
    expect(notice).to_have_text("virus.exe: files of this type can't be sent here.")
    frame.get_by_label("Message", exact=True).press_sequentially("a")
    expect(notice).to_have_text("")

    # The file's bytes wait on the way (held here), so the upload stays in progress.
    held = []
    page.route("**/attachments/*/content", lambda route: held.append(route))
    picker.set_input_files(
        {"name": "manual.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 manual"}
    )
    upload = frame.locator(".cb-upload")
    expect(upload.locator(".cb-upload-share")).to_have_text("0%")
    upload.get_by_role("button", name="Cancel sending manual.pdf").click()
    expect(upload).to_have_count(0)
    expect(notice).to_have_text("")
    contact = emulator.contact(active_contact(emulator))
    assert not [i for i in contact["items"] if i.get("Attachments")]
