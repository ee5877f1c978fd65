"""After the chat, in real Chromium: the survey on the widget's scale, used with the keyboard,
and the transcript by e-mail with the pre-chat form's address; in the widget's language."""

import json

from playwright.sync_api import FrameLocator, expect

from tests.webwidget.pages import active_contact, open_widget, send, start_chat


def end_chat(frame: FrameLocator) -> None:
    frame.get_by_role("button", name="Chat options").click()
    frame.get_by_role("button", name="End chat").click()
    frame.locator(".cb-confirm").get_by_role("button", name="End chat").click()
    expect(frame.locator(".cb-ended")).to_be_visible()


def stored_survey(live_server) -> dict | None:
    out = live_server.manage(
        "shell",
        "-c",
        "import json; from chatbridge.archive.models import Survey; "
        "s = Survey.objects.order_by('-pk').first(); "
        "print(json.dumps(s and {'scale': s.scale, 'rating': s.rating, 'comment': s.comment}))",
    )
    return json.loads(out.strip().splitlines()[-1])


def test_the_star_survey_is_answered_with_the_keyboard(page, live_server, emulator, widget_setup):
    widget_setup(survey_scale="stars")
    frame = open_widget(page, live_server.url + "/")
    start_chat(frame, name="Kay Board")
    send(frame, "Hello")
    end_chat(frame)

    survey = frame.get_by_role("form", name="How was this chat?")
    expect(survey).to_be_visible()
    one = survey.get_by_role("radio", name="1 of 5 stars")
    one.focus()
    for _ in range(3):
        one.page.keyboard.press("ArrowRight")
    expect(survey.get_by_role("radio", name="4 of 5 stars")).to_be_checked()
    survey.get_by_label("Anything to add? (optional)").fill("Patient and clear")
    survey.get_by_role("button", name="Send feedback").press("Enter")
    expect(
        frame.get_by_role("status").filter(has_text="Thank you for your feedback!")
    ).to_be_visible()
    assert stored_survey(live_server) == {
        "scale": "stars",
        "rating": 4,
        "comment": "Patient and clear",
    }

    # Reloaded in the ended state (the panel stays open), the widget thanks rather than asks.
    page.reload()
    expect(frame.locator(".cb-ended")).to_be_visible()
    expect(frame.get_by_text("Thank you for your feedback!")).to_be_visible()
    expect(frame.get_by_role("form", name="How was this chat?")).to_have_count(0)


def test_a_survey_without_a_rating_says_what_is_missing(page, live_server, emulator, widget_setup):
    widget_setup(survey_scale="stars")
    frame = open_widget(page, live_server.url + "/")
    start_chat(frame)
    end_chat(frame)
    frame.get_by_role("button", name="Send feedback").click()
    expect(frame.get_by_role("alert").filter(has_text="Choose a rating first.")).to_be_visible()
    expect(frame.get_by_role("radio", name="1 of 5 stars")).to_be_focused()


def test_the_transcript_goes_to_the_address_the_form_asked_for(
    page, live_server, emulator, widget_setup
):
    widget_setup(survey_scale="off")
    frame = open_widget(page, live_server.url + "/")
    start_chat(frame, email="ada@example.com")
    end_chat(frame)
    expect(frame.get_by_role("form", name="How was this chat?")).to_have_count(0)
    address = frame.get_by_label("E-mail me this transcript")
    expect(address).to_have_value("ada@example.com")
    address.fill("not an address")
    frame.get_by_role("button", name="Send", exact=True).click()
    expect(address).to_have_attribute("aria-invalid", "true")
    address.fill("kay@example.com")
    frame.get_by_role("button", name="Send", exact=True).click()
    expect(frame.locator(".cb-mailer [role=status]")).to_have_text(
        "The transcript is on its way to kay@example.com."
    )


def test_an_agent_ending_the_chat_brings_the_thumbs_in_the_widgets_language(
    page, live_server, emulator, widget_setup
):
    widget_setup(survey_scale="thumbs", locale="fr")
    frame = open_widget(page, live_server.url + "/")
    frame.get_by_label("Nom").fill("Zoé")
    frame.get_by_role("button", name="Démarrer le chat").click()
    expect(frame.locator(".cb-composer")).to_be_visible()
    emulator.end_chat(active_contact(emulator))
    survey = frame.get_by_role("form", name="Comment s'est passé ce chat ?")
    expect(survey.get_by_role("radio")).to_have_count(2)
    # A click on the thumb (its label) chooses it.
    survey.locator("label", has_text="Pas bien").click()
    expect(survey.get_by_role("radio", name="Pas bien")).to_be_checked()
    survey.get_by_role("button", name="Envoyer mon avis").click()
    expect(frame.get_by_text("Merci pour votre avis !")).to_be_visible()
    assert stored_survey(live_server) == {"scale": "thumbs", "rating": 0, "comment": ""}
