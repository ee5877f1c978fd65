"""Where a widget's webhooks may go: public HTTPS hosts, unless the deployment says otherwise.

Whoever edits a widget chooses its webhook URL, and ChatBridge then POSTs there from inside
the deployment, again and again. Pointed at 169.254.169.254, localhost:6379, [::1] or
10.0.0.5, that would make ChatBridge a proxy into its own network (server-side request
forgery). So a webhook target must be a globally routable unicast address, reached over
HTTPS (plain HTTP only with DEBUG on, for local development).

The policy is applied twice:

- when a widget is validated (the admin's form), to everything the URL itself says: its
  scheme, an address written in it, a name that can only be local (``localhost``,
  ``*.internal``, a single label). Nothing is resolved then: an answer today proves nothing
  about the answer at delivery time;
- at every connection the webhook delivery opens (chatbridge.streams.webhook_transport): the
  host name is resolved once, every address it resolves to is judged, and the connection goes
  to an address that was judged, never to a second answer of the resolver.

A deployment that does want an internal receiver lists it in
CHATBRIDGE_WEBHOOK_ALLOWED_TARGETS: networks (``10.1.0.0/16``), addresses (``10.1.2.3``) and
host names (``hooks.corp.example``, whose every address is then accepted). The unspecified
address and multicast are refused even then: they name no single host.

This module is a leaf of the widget app, so that both the model (which never imports
ChatBridge) and the delivery can use it.
"""

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError

IPAddress = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

# Names that only ever mean a host inside some local network: RFC 6761 (localhost), RFC 6762
# (local, mDNS), ICANN's private-use "internal" (metadata.google.internal), RFC 8375
# (home.arpa), and the common "localdomain".
LOCAL_SUFFIXES = ("localhost", "local", "internal", "home.arpa", "localdomain")

# Ranges that are no single public host, named for the refusal message. ipaddress's is_global
# misses some of them (multicast, 6to4's relay) and has changed its mind across Python
# releases about others, so they are listed here explicitly.
SPECIAL_NETWORKS: tuple[tuple[str, tuple[Network, ...]], ...] = tuple(
    (label, tuple(ip_network(net) for net in nets))
    for label, nets in (
        ("'this network'", ["0.0.0.0/8"]),
        ("shared (carrier-grade NAT)", ["100.64.0.0/10"]),
        ("IETF protocol assignment", ["192.0.0.0/24"]),
        (
            "documentation",
            ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20"],
        ),
        ("benchmarking", ["198.18.0.0/15", "2001:2::/48"]),
        ("6to4 relay anycast", ["192.88.99.0/24"]),
        ("reserved", ["240.0.0.0/4"]),
        ("discard-only", ["100::/64"]),
        ("IPv4-compatible", ["::/96"]),
        ("unique local", ["fc00::/7"]),
        ("site-local", ["fec0::/10"]),
        ("local-use NAT64", ["64:ff9b:1::/48"]),
    )
)
# IPv6 prefixes that carry an IPv4 address in their last 32 bits (RFC 6052's NAT64 prefix).
NAT64 = ip_network("64:ff9b::/96")


class TargetRefused(Exception):
    """The policy refuses a webhook target. `code` names the rule; the message names the host
    or address at most, never the URL's path or query (they may carry a receiver's token)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class AllowList:
    """Networks and host names a deployment trusts as webhook targets although not public."""

    networks: tuple[Network, ...] = ()
    hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, entries: Iterable[str]) -> "AllowList":
        """Entries are CIDR networks, addresses (``[::1]`` too) or ASCII host names."""
        networks: list[Network] = []
        hosts: set[str] = set()
        for entry in entries:
            text = normalize_host(entry)
            if not text:
                continue
            try:
                networks.append(ip_network(text, strict=False))
            except ValueError:
                if "/" in text or ":" in text or not _looks_like_host_name(text):
                    raise ValueError(
                        f"{entry.strip()!r} is no network, address or host name"
                    ) from None
                hosts.add(text)
        return cls(tuple(networks), frozenset(hosts))

    def allows(self, host: str, address: IPAddress | None = None) -> bool:
        if normalize_host(host) in self.hosts:
            return True
        return address is not None and any(address in network for network in self.networks)


@functools.lru_cache(maxsize=8)
def _parse_allowed(entries: tuple[str, ...]) -> AllowList:
    try:
        return AllowList.parse(entries)
    except ValueError as error:
        raise ImproperlyConfigured(f"CHATBRIDGE_WEBHOOK_ALLOWED_TARGETS: {error}") from None


def allowed_targets() -> AllowList:
    """The deployment's allow-list, CHATBRIDGE_WEBHOOK_ALLOWED_TARGETS, read when needed so
    that a changed setting counts at once."""
    return _parse_allowed(tuple(getattr(settings, "CHATBRIDGE_WEBHOOK_ALLOWED_TARGETS", ())))


def normalize_host(host: str) -> str:
    """Lowercase, without brackets around an IPv6 address or a final dot."""
    text = host.strip().lower()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return text.rstrip(".")


def _looks_like_host_name(text: str) -> bool:
    labels = text.split(".")
    return all(label and len(label) <= 63 for label in labels) and all(
        ch.isascii() and (ch.isalnum() or ch in "-_") for ch in text.replace(".", "")
    )


def unwrap(address: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address (``::ffff:127.0.0.1``) is the IPv4 address it carries: that
    is what a connection to it reaches, so that is what is judged and connected to."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address a 6to4 or NAT64 address leads to, if any."""
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_refusal(address: IPAddress) -> str | None:
    """What kind of non-public address `address` is, or None for a global unicast address."""
    address = unwrap(address)
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    for label, networks in SPECIAL_NETWORKS:
        if any(address in network for network in networks):
            return label
    if isinstance(address, IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None and (reason := address_refusal(embedded)) is not None:
            return f"{reason} (embedded in IPv6)"
    if address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "non-global"
    return None


def check_address(address: IPAddress, *, host: str, allow: AllowList) -> IPAddress:
    """The address to connect to for `host`, once judged; TargetRefused when it may not be.

    `host` is the name the address was resolved from (or the address itself): an allow-listed
    name accepts whatever it resolves to.
    """
    address = unwrap(address)
    where = str(address) if normalize_host(host) == str(address) else f"{host} ({address})"
    if address.is_unspecified or address.is_multicast:
        kind = "unspecified" if address.is_unspecified else "multicast"
        raise TargetRefused(f"{where} is a {kind} address.", code="webhook_address_refused")
    if allow.allows(host, address):
        return address
    reason = address_refusal(address)
    if reason is not None:
        raise TargetRefused(
            f"{where} is a {reason} address; list it in CHATBRIDGE_WEBHOOK_ALLOWED_TARGETS "
            "to allow it.",
            code="webhook_address_refused",
        )
    return address


def parse_literal(host: str) -> IPAddress | None:
    try:
        return ip_address(normalize_host(host))
    except ValueError:
        return None


def check_host(host: str, *, allow: AllowList) -> None:
    """Refuses what the host part alone gives away: a non-public address written out, or a
    name that can only be local. Names that pass are judged again by what they resolve to."""
    name = normalize_host(host)
    if not name:
        raise TargetRefused("The webhook URL names no host.", code="webhook_url_invalid")
    literal = parse_literal(name)
    if literal is not None:
        check_address(literal, host=name, allow=allow)
        return
    if allow.allows(name):
        return
    labels = name.split(".")
    if len(labels) == 1:
        raise TargetRefused(
            f"{name} is a single-label name, resolved inside the local network.",
            code="webhook_host_refused",
        )
    if labels[-1].isdigit() or labels[-1].startswith("0x"):
        raise TargetRefused(f"{name} is a numeric host, not a name.", code="webhook_host_refused")
    for suffix in LOCAL_SUFFIXES:
        if name == suffix or name.endswith("." + suffix):
            raise TargetRefused(
                f"{name} is a local name (.{suffix}); list it in "
                "CHATBRIDGE_WEBHOOK_ALLOWED_TARGETS to allow it.",
                code="webhook_host_refused",
            )


def check_scheme(scheme: str, *, debug: bool) -> None:
    allowed = ("https", "http") if debug else ("https",)
    if scheme.lower() not in allowed:
        raise TargetRefused(
            "Webhook URLs must use https" + (" or http." if debug else "."),
            code="webhook_scheme_refused",
        )


def check_url(url: str, *, debug: bool, allow: AllowList) -> None:
    """Everything the policy can say about a URL without resolving its host."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises on a port that is out of range or not a number
    except ValueError:
        raise TargetRefused("The webhook URL is not valid.", code="webhook_url_invalid") from None
    check_scheme(parts.scheme, debug=debug)
    check_host(parts.hostname or "", allow=allow)


def validate_webhook_url(value: str) -> None:
    """The model field's validator: the admin shows the refusal under the field."""
    if not value:
        return
    try:
        check_url(value, debug=settings.DEBUG, allow=allowed_targets())
    except TargetRefused as refused:
        raise ValidationError(refused.message, code=refused.code) from None
