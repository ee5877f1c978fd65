"""A widget: one embedding of the chat bubble, with its look, its form and its trust rules.

Each site or app gets its own widget id. What a browser may learn (title, colours, form
fields) is served as public configuration; the secrets (identity verification, webhooks)
never leave the server.
"""

import secrets
from datetime import datetime, time

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from webwidget import origins as site_origins
from webwidget.business_hours import Availability, Closure, Interval, Schedule, valid_time_zone
from webwidget.origins import normalize_origin
from webwidget.texts import (
    DEFAULT_GREETING,
    DEFAULT_TITLE,
    TEXTS_HELP,
    texts_by_language,
    validate_texts,
)
from webwidget.webhook_targets import validate_webhook_url

DEFAULT_ATTACHMENT_TYPES = (
    "csv doc docx heic jfif jpeg jpg mov mp4 pdf png ppt pptx rtf txt wav xls xlsx"
)
_JPEG = frozenset({"image/jpeg", "image/pjpeg"})
# The content types a file of each extension Connect takes may be declared as. A declared type
# is what the file is served back as, so it must fit the file's name: a .png declared as
# text/html would be rendered as a page. Browsers name some types in more than one way.
ATTACHMENT_CONTENT_TYPES: dict[str, frozenset[str]] = {
    "csv": frozenset({"text/csv", "application/csv", "application/vnd.ms-excel"}),
    "doc": frozenset({"application/msword"}),
    "docx": frozenset({"application/vnd.openxmlformats-officedocument.wordprocessingml.document"}),
    "heic": frozenset({"image/heic", "image/heif"}),
    "jfif": _JPEG,
    "jpeg": _JPEG,
    "jpg": _JPEG,
    "mov": frozenset({"video/quicktime"}),
    "mp4": frozenset({"video/mp4"}),
    "pdf": frozenset({"application/pdf"}),
    "png": frozenset({"image/png"}),
    "ppt": frozenset({"application/vnd.ms-powerpoint"}),
    "pptx": frozenset(
        {"application/vnd.openxmlformats-officedocument.presentationml.presentation"}
    ),
    "rtf": frozenset({"application/rtf", "text/rtf"}),
    "txt": frozenset({"text/plain"}),
    "wav": frozenset({"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"}),
    "xls": frozenset({"application/vnd.ms-excel"}),
    "xlsx": frozenset({"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}),
}
COLOR = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #1f6feb.")


def validate_time_zone(value: str) -> None:
    if not valid_time_zone(value):
        raise ValidationError(
            f"{value!r} is not an IANA time zone (e.g. Europe/Paris, America/New_York, UTC).",
            code="time_zone",
        )


def default_prechat_fields() -> list[dict]:
    return [{"name": "name", "label": "Name", "type": "text", "required": True}]


# The pre-chat field whose answer may pick the contact flow (Widget.topic_flows).
TOPIC_FIELD = "topic"

MIN_SECRET_BYTES = 32
SECRET_HELP = (
    f"At least {MIN_SECRET_BYTES} bytes; a short one can be guessed offline from a single signed "
    "token. Generate one with: "
    'python -c "import secrets; print(secrets.token_urlsafe(32))"'
)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def validate_secret(value: str) -> None:
    """Refuse a signing secret short enough to brute-force from one token or signature.

    HMAC-SHA256 secrets are as strong as their length: anyone holding a signed value can try
    candidate secrets offline, so a few characters fall in seconds.
    """
    if len(value.encode()) < MIN_SECRET_BYTES:
        raise ValidationError(
            f"Use a secret of at least {MIN_SECRET_BYTES} bytes, e.g. from "
            'python -c "import secrets; print(secrets.token_urlsafe(32))".',
            code="secret_too_short",
        )


class Widget(models.Model):
    class Position(models.TextChoices):
        RIGHT = "right", "Bottom right"
        LEFT = "left", "Bottom left"

    widget_id = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    enabled = models.BooleanField(default=True)

    title = models.CharField(max_length=80, default=DEFAULT_TITLE)
    greeting = models.CharField(max_length=300, blank=True, default=DEFAULT_GREETING)
    primary_color = models.CharField(max_length=7, default="#1f6feb", validators=[COLOR])
    text_color = models.CharField(max_length=7, default="#ffffff", validators=[COLOR])
    position = models.CharField(max_length=5, choices=Position.choices, default=Position.RIGHT)
    logo_url = models.URLField(blank=True)
    locale = models.CharField(
        max_length=16, default="auto", help_text="A language code, or 'auto' for the browser's."
    )
    texts = models.JSONField(
        "texts per language", default=dict, blank=True, validators=[validate_texts],
        help_text=TEXTS_HELP,
    )  # fmt: skip
    prechat_fields = models.JSONField(
        default=default_prechat_fields,
        blank=True,
        help_text='A list of {"name", "label", "type": text|email|tel|select, "required", '
        '"options"}; each answer becomes a contact attribute.',
    )
    attachment_types = models.CharField(
        max_length=300,
        default=DEFAULT_ATTACHMENT_TYPES,
        help_text="File extensions customers may send, separated by spaces.",
    )
    allowed_origins = models.TextField(
        blank=True,
        help_text="Origins of the sites that may embed this widget or call the API for it, "
        "one per line (https://www.example.com). Empty: the sites of the "
        "CHATBRIDGE_ALLOWED_ORIGINS and CHATBRIDGE_PUBLIC_ORIGIN settings, as they are set.",
    )

    class SurveyScale(models.TextChoices):
        STARS = "stars", "1 to 5 stars"
        THUMBS = "thumbs", "Thumbs up or down"
        OFF = "off", "No survey"

    survey_scale = models.CharField(
        max_length=8,
        choices=SurveyScale.choices,
        default=SurveyScale.STARS,
        help_text="What the customer is asked for when a chat ends, with an optional comment.",
    )

    contact_flow_id = models.CharField(
        max_length=500,
        blank=True,
        help_text="The Amazon Connect contact flow that routes this widget's chats. Empty: "
        "the CONNECT_CONTACT_FLOW_ID setting.",
    )
    connect_instance_id = models.CharField(
        max_length=100,
        blank=True,
        help_text="The Amazon Connect instance of this widget's chats. Empty: the "
        "CONNECT_INSTANCE_ID setting.",
    )
    connect_region = models.CharField(
        max_length=32,
        blank=True,
        validators=[RegexValidator(r"^[a-z]{2}(-[a-z]+)+-\d+$", "Use a region like eu-west-2.")],
        help_text="The AWS region of that instance. Empty: the CONNECT_REGION setting.",
    )
    topic_flows = models.JSONField(
        default=dict,
        blank=True,
        help_text='Contact flows per answer of the pre-chat field named "topic", e.g. '
        '{"billing": "<flow id>", "sales": "<flow id>"}; other answers use the contact flow '
        "above.",
    )

    require_identity = models.BooleanField(
        default=False,
        help_text="Chats start only with an identity token signed by the site's own backend.",
    )
    identity_secret = models.CharField(
        max_length=128, default=new_secret, validators=[validate_secret], help_text=SECRET_HELP
    )
    webhook_url = models.URLField(
        blank=True,
        validators=[validate_webhook_url],
        help_text="An https URL on a public host. Private, loopback and link-local addresses and "
        "local names are refused unless CHATBRIDGE_WEBHOOK_ALLOWED_TARGETS lists them.",
    )
    webhook_secret = models.CharField(
        max_length=128, default=new_secret, validators=[validate_secret], help_text=SECRET_HELP
    )

    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="The IANA time zone the opening hours and holidays are written in.",
    )
    notification_email = models.EmailField(
        blank=True,
        help_text="Where messages left outside business hours or at capacity are e-mailed "
        "(empty: none are e-mailed; they are in the admin and sent to the webhook).",
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.widget_id})"

    def save(self, *args: object, **kwargs: object) -> None:
        """Check the secrets and the webhook's target here too: code and shells save without
        full_clean, and a weak secret stored that way would still sign and verify. (Delivery
        judges the target again, by the addresses its name resolves to.)"""
        self.validate_on_save()
        super().save(*args, **kwargs)

    def validate_on_save(self) -> None:
        errors: dict[str, list[str]] = {}
        for name, validate in (
            ("identity_secret", validate_secret),
            ("webhook_secret", validate_secret),
            ("webhook_url", validate_webhook_url),
            ("time_zone", validate_time_zone),
        ):
            try:
                validate(getattr(self, name))
            except ValidationError as error:
                errors[name] = error.messages
        if errors:
            raise ValidationError(errors)

    def clean(self) -> None:
        try:
            self.allowed_origins = "\n".join(site_origins.listed_origins(self.allowed_origins))
        except ValidationError as error:
            raise ValidationError({"allowed_origins": error.messages}) from None
        flows = self.topic_flows
        if not isinstance(flows, dict) or not all(
            isinstance(topic, str) and isinstance(flow, str) and topic and flow.strip()
            for topic, flow in flows.items()
        ):
            raise ValidationError(
                {"topic_flows": 'Use an object of topic answers and flow ids: {"billing": "…"}.'}
            )

    def connect_route(self, answers: dict[str, str]) -> tuple[str, str, str]:
        """(instance id, contact flow id, region) of a chat started with these pre-chat
        answers; empty members mean the settings'. The "topic" answer picks its flow when the
        widget maps it to one."""
        flows = self.topic_flows if isinstance(self.topic_flows, dict) else {}
        topic = answers.get(TOPIC_FIELD)
        flow = flows.get(topic) if isinstance(topic, str) else None
        if not isinstance(flow, str) or not flow.strip():
            flow = self.contact_flow_id
        return self.connect_instance_id.strip(), flow.strip(), self.connect_region.strip()

    def follows_settings(self) -> bool:
        """Whether this widget runs where the settings say (its own list is empty)."""
        return not self.allowed_origins.strip()

    def origins(self) -> list[str]:
        """The origins that may embed this widget and call the API for it: its own list, or
        the configured ones (webwidget.origins), resolved now."""
        return site_origins.resolve(self.allowed_origins)

    def origin_findings(self) -> list[site_origins.Finding]:
        return site_origins.findings(self.allowed_origins)

    def allows_origin(self, origin: str | None) -> bool:
        if not origin:
            return False
        try:
            return normalize_origin(origin) in self.origins()
        except ValidationError:
            return False

    def schedule(self) -> Schedule:
        """The widget's business hours, read from the database once per instance: the lookup
        cache (webwidget.lookup) hands the same instance to every request for a while, and
        forgets it when the widget, its hours or its holidays change."""
        cached = getattr(self, "_schedule", None)
        if cached is None and self.pk is None:  # not saved yet: no hours of its own
            return Schedule(self.time_zone)
        if cached is None:
            intervals = tuple(
                Interval(row.weekday, row.opens, row.closes) for row in self.opening_hours.all()
            )
            closures = tuple(
                Closure(row.date, row.closed_from, row.closed_until) for row in self.holidays.all()
            )
            cached = Schedule(self.time_zone, intervals, closures)
            self._schedule = cached
        return cached

    def availability(self, now: datetime | None = None) -> Availability:
        return self.schedule().availability(now)

    def extensions(self) -> list[str]:
        return sorted({ext.lower().lstrip(".") for ext in self.attachment_types.split() if ext})

    def public_config(self) -> dict:
        """What any browser may read: no secrets, no webhook address."""
        return {
            "widget_id": self.widget_id,
            "title": self.title,
            "greeting": self.greeting,
            "primary_color": self.primary_color,
            "text_color": self.text_color,
            "position": self.position,
            "logo_url": self.logo_url,
            "locale": self.locale,
            "texts": texts_by_language(self.title, self.greeting, self.prechat_fields, self.texts),
            "prechat_fields": self.prechat_fields,
            "attachment_types": self.extensions(),
            "require_identity": self.require_identity,
            "survey_scale": self.survey_scale,
            "availability": self.availability().as_dict(),
        }


class OpeningHours(models.Model):
    """One interval of a weekday during which the widget takes chats."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0
        TUESDAY = 1
        WEDNESDAY = 2
        THURSDAY = 3
        FRIDAY = 4
        SATURDAY = 5
        SUNDAY = 6

    widget = models.ForeignKey(Widget, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField(help_text="00:00 means midnight at the end of the day.")

    class Meta:
        ordering = ["weekday", "opens"]
        verbose_name = "opening hours"
        verbose_name_plural = "opening hours (none: open around the clock)"

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"

    def clean(self) -> None:
        if (
            self.opens is not None
            and self.closes is not None
            and not _before(self.opens, self.closes)
        ):
            raise ValidationError(
                {"closes": "Closing time must be after opening time (00:00: midnight)."}
            )


class Holiday(models.Model):
    """A day the widget is closed, all day or for part of it (in the widget's time zone)."""

    widget = models.ForeignKey(Widget, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=120, blank=True)
    closed_from = models.TimeField(
        null=True, blank=True, help_text="Empty: from the start of the day."
    )
    closed_until = models.TimeField(
        null=True,
        blank=True,
        help_text="Empty: until the end of the day (00:00 too means midnight at its end).",
    )

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.name}".strip()

    def clean(self) -> None:
        start = self.closed_from or time(0, 0)
        end = self.closed_until or time(0, 0)
        if not _before(start, end):
            raise ValidationError(
                {"closed_until": "The closure must end after it starts (00:00: midnight)."}
            )


def _before(start: time, end: time) -> bool:
    """Whether `start` comes before `end` within one day, where an end of 00:00 is midnight."""
    return end == time(0, 0) or start < end
