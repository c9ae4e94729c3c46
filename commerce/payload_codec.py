"""Temporal payloads encrypted with AES-GCM, so customer data (names, addresses, payment tokens)
never sits in clear in Temporal's history. The key id travels in each payload's metadata, so keys
rotate: new payloads use the active key, old ones still decrypt with theirs."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from commerce.kept_secrets import kept_secret
from commerce.payload_keys import new_key_spec, parse_keys
from commerce.settings import Settings

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
_NONCE_BYTES = 12


class UndecryptablePayload(ValueError):
    """A payload marked encrypted that this process cannot open: tampered, or sealed with a key
    it was not given."""


class UnknownPayloadKey(UndecryptablePayload):
    """A payload was encrypted with a key this process was not given."""


class EncryptionCodec(PayloadCodec):
    """Encrypts every payload with the active key; decrypts with whichever key it names."""

    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        if active_key_id not in keys:
            raise ValueError(f"the active payload key {active_key_id!r} is not among the keys")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._active = active_key_id

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        cipher = self._ciphers[self._active]
        encoded = []
        for payload in payloads:
            nonce = os.urandom(_NONCE_BYTES)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), self._active.encode())
            encoded.append(
                Payload(
                    metadata={"encoding": ENCODING, KEY_ID: self._active.encode()},
                    data=nonce + sealed,
                )
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                decoded.append(payload)  # written before encryption was on
                continue
            decoded.append(self._open(payload))
        return decoded

    def _open(self, payload: Payload) -> Payload:
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownPayloadKey(f"payload key {key_id!r} is not configured")
        nonce, sealed = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
        try:
            return Payload.FromString(cipher.decrypt(nonce, sealed, key_id.encode()))
        except InvalidTag as error:
            raise UndecryptablePayload(
                f"a payload sealed with key {key_id!r} was altered"
            ) from error


def encrypted_data_converter(codec: PayloadCodec) -> DataConverter:
    """The default converter, with every payload passed through `codec`; failures' messages and
    stack traces go into an encoded attribute too (the history shows "Encoded failure")."""
    return dataclasses.replace(
        DataConverter.default,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def payload_key_spec(settings: Settings) -> str:
    """The configured keys, else (development) one generated once and kept in the data dir."""
    if settings.payload_keys:
        return settings.payload_keys
    return kept_secret(settings.data_dir, "payload-keys", lambda: new_key_spec("dev-1"))


def codec_for(settings: Settings) -> EncryptionCodec:
    keys = parse_keys(payload_key_spec(settings))
    active = settings.payload_active_key or next(reversed(keys))
    return EncryptionCodec(keys, active)


def data_converter_for(settings: Settings) -> DataConverter:
    """What every Temporal client of the shop uses, so workers and API read each other."""
    return encrypted_data_converter(codec_for(settings))
