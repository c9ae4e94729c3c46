"""The payload codec: round trip, no clear text, key rotation, tampering detected."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter

from commerce.payload_codec import (
    EncryptionCodec,
    UndecryptablePayload,
    UnknownPayloadKey,
    new_key_spec,
    parse_keys,
)

SECRET = "1 Market St, Springfield"


def _payload() -> Payload:
    return DataConverter.default.payload_converter.to_payloads([{"line1": SECRET}])[0]


def _run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_encoded_payload_hides_the_text_and_decodes_back() -> None:
    codec = EncryptionCodec(parse_keys(new_key_spec("k1")), "k1")
    [sealed] = _run(codec.encode([_payload()]))
    assert SECRET.encode() not in sealed.SerializeToString()
    assert sealed.metadata["encryption-key-id"] == b"k1"
    assert _run(codec.decode([sealed])) == [_payload()]


def test_rotated_codec_still_reads_payloads_sealed_with_the_old_key() -> None:
    old_keys = parse_keys(new_key_spec("2026-01"))
    both = {**old_keys, **parse_keys(new_key_spec("2026-06"))}
    [old] = _run(EncryptionCodec(old_keys, "2026-01").encode([_payload()]))
    rotated = EncryptionCodec(both, "2026-06")
    [new] = _run(rotated.encode([_payload()]))
    assert new.metadata["encryption-key-id"] == b"2026-06"
    assert _run(rotated.decode([old, new])) == [_payload(), _payload()]


def test_payload_with_a_key_not_configured_is_refused() -> None:
    [sealed] = _run(EncryptionCodec(parse_keys(new_key_spec("gone")), "gone").encode([_payload()]))
    with pytest.raises(UnknownPayloadKey):
        _run(EncryptionCodec(parse_keys(new_key_spec("other")), "other").decode([sealed]))


def test_tampered_payload_is_refused() -> None:
    codec = EncryptionCodec(parse_keys(new_key_spec("k1")), "k1")
    [sealed] = _run(codec.encode([_payload()]))
    sealed.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(UndecryptablePayload, match="altered"):
        _run(codec.decode([sealed]))


def test_clear_payloads_from_before_encryption_pass_through() -> None:
    codec = EncryptionCodec(parse_keys(new_key_spec("k1")), "k1")
    assert _run(codec.decode([_payload()])) == [_payload()]


@pytest.mark.parametrize("spec", ["k1:not-base64!", "k1:" + "QUJD", ":" + "A" * 44])
def test_malformed_key_settings_are_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_keys(spec)
