"""What a webhook endpoint may be, and how long a delivery is retried.

The same rules are asked when a subscription is registered (the API answers 422) and before every
delivery attempt, after DNS resolution (a name that later resolves elsewhere is caught): one
decision, two callers. Sources: OWASP's SSRF prevention cheat sheet (deny link-local and metadata
addresses, resolve and check every address), the Standard Webhooks specification (retries with
exponential backoff and jitter, then give up and disable).
"""

from __future__ import annotations

import ipaddress
import random
from datetime import datetime, timedelta
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud instance metadata services that are not link-local (169.254.169.254 is): AWS's IPv6 one,
# Alibaba Cloud's, Oracle Cloud's legacy one. Never a webhook target, whatever the settings.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
MAX_RETRY_INTERVAL_S = 3600.0


def url_refusal(url: str, *, production: bool) -> str | None:
    """Why `url` cannot be a webhook endpoint, or None: https (http in development only), a host,
    no credentials in it, no fragment."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError on a port out of range
    except ValueError as error:
        return f"the URL is malformed: {error}"
    allowed = ("https",) if production else ("https", "http")
    if parts.scheme not in allowed:
        return f"the URL must be {' or '.join(allowed)}" + (" in production" if production else "")
    if not parts.hostname:
        return "the URL has no host"
    if parts.username is not None or parts.password is not None:
        return "the URL must not carry credentials"
    if parts.fragment:
        return "the URL must not have a fragment"
    return None


def address_refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why a webhook may not be sent to `address`, or None.

    Never: link-local (169.254.0.0/16, fe80::/10: cloud metadata lives there), cloud metadata,
    unspecified, multicast, reserved. Loopback, private and other non-global addresses only with
    `allow_private` (development, internal receivers)."""
    address = _embedded_ipv4(address)
    if address in METADATA_ADDRESSES or address.is_link_local:
        return f"{address} is a link-local or cloud metadata address"
    if address.is_unspecified or address.is_multicast:
        return _not_a_host(address)
    if address.is_loopback or address.is_private or not address.is_global:
        if allow_private:
            return None if address.is_loopback or not address.is_reserved else _not_a_host(address)
        return f"{address} is a loopback or private address (COMMERCE_WEBHOOK_ALLOW_PRIVATE)"
    return _not_a_host(address) if address.is_reserved else None


def _not_a_host(address: IPAddress) -> str:
    return f"{address} is not a unicast host address"


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64), judged as itself."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def retry_delay_s(failed_attempts: int, initial_s: float, rng: random.Random) -> float:
    """Seconds before the next attempt after `failed_attempts` (>= 1) failures: exponential
    (initial, 2x, 4x, ... at most an hour) with "equal jitter" (half fixed, half random), so a
    receiver coming back is not hit by every waiting delivery at once."""
    ceiling = min(initial_s * 2 ** (failed_attempts - 1), MAX_RETRY_INTERVAL_S)
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def gives_up(retry_until: datetime, next_attempt_at: datetime) -> bool:
    """A delivery is marked failed when its next attempt would fall after its retry window."""
    return next_attempt_at > retry_until


def disables(failing_since: datetime | None, now: datetime, window: timedelta) -> bool:
    """A subscription whose every attempt failed for a whole retry window is disabled."""
    return failing_since is not None and now - failing_since >= window
