"""Lists read from Temporal's visibility, paged with its tokens sealed into our cursors.

Temporal's next-page token is opaque bytes that its server parses; a token crafted by a client
does not get a clean refusal there but an UNKNOWN error that the SDK retries for seconds (a 500,
or a 503 after the RPC deadline). So a token leaves the API only inside a cursor that carries the
list's name and an HMAC-SHA256 (128 bits) under a key derived from
COMMERCE_CUSTOMER_KEY_SECRET, and only a token that we sealed is sent back.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from collections.abc import Sequence
from typing import Annotated

from fastapi import Depends
from temporalio.client import Client, WorkflowExecution
from temporalio.service import RPCError, RPCStatusCode

from api.deps import SettingsDep
from api.problems import Problem
from commerce.customer_keys import customer_key_secret
from eventstore.cursors import CursorFormat, InvalidCursor

_PURPOSE = b"commerce: Temporal page tokens"
_TAG_BYTES = 16


def _unpadded(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _raw(text: str) -> bytes:
    """base64url without padding; ValueError for anything else."""
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def _format(list_name: str) -> CursorFormat:
    """The list's name, the token and its tag."""
    return CursorFormat(list_name, (_raw, _raw))


@functools.lru_cache(maxsize=4)
def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()


class PageTokens:
    """Seals Temporal page tokens into cursors of a named list, and opens only those."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _tag(self, list_name: str, token: bytes) -> bytes:
        message = list_name.encode() + b"\x00" + token
        return hmac.new(self._key, message, hashlib.sha256).digest()[:_TAG_BYTES]

    def seal(self, list_name: str, token: bytes | None) -> str | None:
        """The cursor of the page after this one; None when there is none."""
        if not token:
            return None
        tag = self._tag(list_name, token)
        return _format(list_name).encode(_unpadded(token), _unpadded(tag))

    def open(self, list_name: str, cursor: str | None) -> bytes | None:
        """The token `seal` put in this list's cursor; InvalidCursor for any other cursor."""
        position = _format(list_name).decode(cursor)
        if position is None:
            return None
        token, tag = position
        if not hmac.compare_digest(tag, self._tag(list_name, token)):
            raise InvalidCursor()
        return bytes(token)


async def _page_tokens(settings: SettingsDep) -> PageTokens:
    return PageTokens(_key(customer_key_secret(settings)))


PageTokensDep = Annotated[PageTokens, Depends(_page_tokens)]


async def visibility_page(
    temporal: Client, query: str, limit: int, cursor: str | None, tokens: PageTokens, name: str
) -> tuple[Sequence[WorkflowExecution], str | None]:
    """One page of the workflows `query` finds (Temporal's order) and the next page's cursor.
    Raises InvalidCursor for a cursor not sealed for list `name`, Problem(422) for a query
    Temporal refuses."""
    pages = temporal.list_workflows(
        query, page_size=limit, next_page_token=tokens.open(name, cursor)
    )
    try:
        await pages.fetch_next_page()
    except RPCError as error:
        if error.status != RPCStatusCode.INVALID_ARGUMENT:
            raise  # unreachable: a 503 to repeat (api/problems.py); anything else is a 500
        raise Problem(422, error.message) from error
    return pages.current_page or [], tokens.seal(name, pages.next_page_token)
