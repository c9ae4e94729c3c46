"""One webhook attempt over HTTP, behind the SSRF guard.

Before each attempt the endpoint's host is resolved and every address it resolves to is checked
(`domain.webhook_rules`); the request then goes to the checked address itself (the URL's host
travels in `Host` and, for https, in SNI, against which the certificate is verified), so a DNS
answer that changes between check and connect cannot redirect it. Redirects are not followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from domain.webhook_rules import IPAddress, address_refusal, url_refusal

USER_AGENT = "commerce-webhooks/1"
DNS_TIMEOUT_S = 3.0
_BODY_KEPT = 64 * 1024  # of a response, read (for keep-alive) and ignored


class AddressRefused(Exception):
    """The endpoint resolves to an address webhooks may not reach (or to none)."""


async def checked_addresses(
    host: str, port: int, *, allow_private: bool, timeout_s: float = DNS_TIMEOUT_S
) -> list[IPAddress]:
    """Every address `host` resolves to, each allowed; AddressRefused names the first that is
    not (a name resolving to a public and a private address is refused: either may be used),
    or says the name did not resolve within `timeout_s`."""
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            async with asyncio.timeout(timeout_s):
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM
                )
        except TimeoutError as error:
            raise AddressRefused(f"{host} did not resolve within {timeout_s:g} s") from error
        except (OSError, UnicodeError, ValueError) as error:
            raise AddressRefused(f"{host} does not resolve: {error}") from error
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if not addresses:
        raise AddressRefused(f"{host} does not resolve")
    for address in addresses:
        refusal = address_refusal(address, allow_private=allow_private)
        if refusal:
            raise AddressRefused(f"{host} resolves to {refusal}")
    return addresses


async def endpoint_refusal(url: str, *, production: bool, allow_private: bool) -> str | None:
    """Why `url` cannot be a webhook endpoint now, or None (the URL rules, then its addresses)."""
    refusal = url_refusal(url, production=production)
    if refusal:
        return refusal
    parts = urlsplit(url)
    assert parts.hostname is not None
    try:
        await checked_addresses(parts.hostname, _port(parts.scheme, parts.port),
                                allow_private=allow_private)  # fmt: skip
    except AddressRefused as error:
        return str(error)
    return None


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """The receiver's status code (None when none came back) and what went wrong, if anything."""

    response_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.response_code is not None and 200 <= self.response_code < 300


class WebhookSender:
    """Posts signed bodies to endpoints that pass the guard, with connect and read timeouts."""

    def __init__(self, *, production: bool, allow_private: bool) -> None:
        self._production = production
        self._allow_private = allow_private

    async def send(
        self, client: httpx.AsyncClient, url: str, headers: dict[str, str], body: str
    ) -> AttemptOutcome:
        refusal = url_refusal(url, production=self._production)
        if refusal:
            return AttemptOutcome(None, f"refused: {refusal}")
        parts = urlsplit(url)
        assert parts.hostname is not None
        port = _port(parts.scheme, parts.port)
        try:
            [address, *_] = await checked_addresses(
                parts.hostname, port, allow_private=self._allow_private
            )
        except AddressRefused as error:
            return AttemptOutcome(None, f"refused: {error}")
        host = f"[{address}]" if address.version == 6 else str(address)
        target = urlunsplit((parts.scheme, f"{host}:{port}", parts.path or "/", parts.query, ""))
        sent = headers | {"content-type": "application/json", "user-agent": USER_AGENT,
                          "host": parts.netloc.rpartition("@")[2]}  # fmt: skip
        extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
        try:
            async with client.stream(
                "POST", target, content=body.encode(), headers=sent, extensions=extensions
            ) as response:
                await _drain(response)
        except httpx.TimeoutException as error:
            return AttemptOutcome(None, f"timed out ({type(error).__name__})")
        except httpx.HTTPError as error:
            return AttemptOutcome(None, f"{type(error).__name__}: {error}"[:500])
        code = response.status_code
        return AttemptOutcome(code, None if 200 <= code < 300 else f"HTTP {code}")


def _port(scheme: str, port: int | None) -> int:
    return port or (443 if scheme == "https" else 80)


async def _drain(response: httpx.Response) -> None:
    read = 0
    async for chunk in response.aiter_raw():
        read += len(chunk)
        if read > _BODY_KEPT:
            break
