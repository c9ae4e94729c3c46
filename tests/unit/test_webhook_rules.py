"""Where webhooks may go (the SSRF guard's rules) and how long a delivery is retried."""

from __future__ import annotations

import ipaddress
import random
from datetime import UTC, datetime, timedelta

import pytest

from domain.webhook_rules import (
    MAX_RETRY_INTERVAL_S,
    address_refusal,
    disables,
    gives_up,
    retry_delay_s,
    url_refusal,
)

NEVER = ["169.254.169.254", "169.254.0.1", "fe80::1", "fd00:ec2::254", "100.100.100.200",
         "192.0.0.192", "0.0.0.0", "::", "224.0.0.1", "ff02::1", "240.0.0.1",
         "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1"]  # fmt: skip
PRIVATE = ["127.0.0.1", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "fc00::1",
           "100.64.0.1", "::ffff:10.0.0.1", "198.18.0.1"]  # fmt: skip
PUBLIC = ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "1.1.1.1"]


@pytest.mark.parametrize("address", NEVER)
@pytest.mark.parametrize("allow_private", [False, True])
def test_link_local_metadata_and_non_unicast_are_never_allowed(
    address: str, allow_private: bool
) -> None:
    assert address_refusal(ipaddress.ip_address(address), allow_private=allow_private)


@pytest.mark.parametrize("address", PRIVATE)
def test_loopback_and_private_addresses_need_the_setting(address: str) -> None:
    refusal = address_refusal(ipaddress.ip_address(address), allow_private=False)
    assert refusal and "COMMERCE_WEBHOOK_ALLOW_PRIVATE" in refusal
    assert address_refusal(ipaddress.ip_address(address), allow_private=True) is None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address), allow_private=False) is None


@pytest.mark.parametrize(
    ("url", "production", "refused"),
    [
        ("https://hooks.example.com/x", True, False),
        ("http://hooks.example.com/x", True, True),
        ("http://hooks.example.com/x", False, False),
        ("ftp://hooks.example.com/x", False, True),
        ("https:///x", False, True),
        ("https://user:pw@hooks.example.com/x", False, True),
        ("https://hooks.example.com/x#frag", False, True),
        ("https://hooks.example.com:99999/x", False, True),
    ],
)
def test_endpoint_urls_are_https_in_production_and_carry_no_credentials(
    url: str, production: bool, refused: bool
) -> None:
    assert (url_refusal(url, production=production) is not None) is refused


def test_retries_back_off_exponentially_with_jitter_up_to_an_hour() -> None:
    rng = random.Random(7)
    delays = [retry_delay_s(n, 5.0, rng) for n in range(1, 20)]
    for n, delay in enumerate(delays, start=1):
        ceiling = min(5.0 * 2 ** (n - 1), MAX_RETRY_INTERVAL_S)
        assert ceiling / 2 <= delay <= ceiling
    assert len({round(d, 6) for d in delays}) == len(delays)  # jittered, not in lockstep


def test_a_delivery_gives_up_past_its_window_and_a_day_of_failures_disables() -> None:
    now = datetime(2025, 6, 1, tzinfo=UTC)
    day = timedelta(hours=24)
    assert gives_up(now, now + timedelta(seconds=1)) and not gives_up(now, now)
    assert disables(now - day, now, day)
    assert not disables(now - day + timedelta(seconds=1), now, day)
    assert not disables(None, now, day)
