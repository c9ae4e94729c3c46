"""JWKS mode: tokens are the identity provider's (RS256, from a real JWKS endpoint on loopback);
HS256 is off and no secret is generated or written."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.converter import DataConverter

from api.app import create_app
from commerce.codec_server import create_codec_app
from commerce.embedded import free_port
from commerce.payload_codec import codec_for
from commerce.settings import Settings
from commerce.tokens import mint_token, signing_secret
from tests.e2e.conftest import bearer

ISSUER, AUDIENCE, KID = "https://auth.shop.test/", "commerce-api", "shop-2026"
PLACEHOLDER = "REPLACE-ME-with-a-long-random-string"


class IdentityProvider:
    """A JWKS endpoint serving one RSA public key, as an identity provider publishes it."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        body = json.dumps({"keys": [{**jwk, "kid": KID, "alg": "RS256", "use": "sig"}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/.well-known/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, key: Any = None, kid: str = KID, **changes: object) -> str:
        claims = {
            "sub": "ada",
            "roles": ["customer", "admin"],
            "exp": int(time.time()) + 600,
            "iss": ISSUER,
            "aud": AUDIENCE,
        }
        claims = {k: v for k, v in {**claims, **changes}.items() if v is not None}
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid})

    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def provider() -> Iterator[IdentityProvider]:
    idp = IdentityProvider()
    yield idp
    idp.stop()


@pytest.fixture(scope="module")
def jwks_settings(
    settings: Settings, provider: IdentityProvider, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return settings.model_copy(
        update={
            "jwt_secret": None,
            "jwt_jwks_url": provider.url,
            "jwt_issuer": ISSUER,
            "jwt_audience": AUDIENCE,
            "data_dir": tmp_path_factory.mktemp("jwks") / "data",
        }
    )


@pytest.fixture(scope="module")
async def jwks_app(jwks_settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(jwks_settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(jwks_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=jwks_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://commerce.test") as http:
        yield http


async def test_identity_provider_tokens_pass_and_nothing_else_does(
    client: httpx.AsyncClient, provider: IdentityProvider, jwks_settings: Settings
) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    hs256 = {"sub": "ada", "roles": ["admin"], "exp": now + 600, "iss": ISSUER, "aud": AUDIENCE}
    cases = {
        "the provider's": (provider.token(), 200),
        "HS256 with the public key as secret": (_hs256_with(provider.public_pem(), hs256), 401),
        "HS256 with the published placeholder": (
            jwt.encode(hs256, PLACEHOLDER, algorithm="HS256", headers={"kid": KID}),
            401,
        ),
        "another key, same kid": (provider.token(key=stranger), 401),
        "unknown kid": (provider.token(kid="someone-else"), 401),
        "alg none": (jwt.encode(hs256, None, algorithm="none", headers={"kid": KID}), 401),
        "no exp": (provider.token(exp=None), 401),
        "expired": (provider.token(exp=now - 60), 401),
        "wrong audience": (provider.token(aud="another-api"), 401),
        "wrong issuer": (provider.token(iss="https://evil.test/"), 401),
    }
    for name, (token, status) in cases.items():
        answer = await client.get("/api/v1/products", headers=bearer(token))
        assert answer.status_code == status, (name, answer.text)
        if status == 401:
            assert answer.headers["content-type"] == "application/problem+json"

    assert signing_secret(jwks_settings) is None
    assert not jwks_settings.data_dir.exists(), "JWKS mode wrote to the data dir"
    with pytest.raises(ValueError, match="identity provider"):
        mint_token(jwks_settings, "ada", ["admin"])


def _hs256_with(key: bytes, claims: dict[str, object]) -> str:
    """The algorithm-confusion forgery: HMAC keyed with the public key PEM (PyJWT refuses to make
    one, so it is signed by hand)."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = {"alg": "HS256", "typ": "JWT", "kid": KID}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())}"


async def test_codec_server_in_jwks_mode_takes_the_providers_admin_tokens(
    jwks_settings: Settings, provider: IdentityProvider
) -> None:
    production = jwks_settings.model_copy(update={"environment": "production"})
    app = create_codec_app(codec_for(jwks_settings), production)
    clear = DataConverter.default.payload_converter.to_payloads([{"note": "hello"}])
    body = json_format.MessageToJson(Payloads(payloads=clear))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://codec") as codec:
        admin = await codec.post("/encode", content=body, headers=bearer(provider.token()))
        customer = await codec.post(
            "/encode", content=body, headers=bearer(provider.token(roles=["customer"]))
        )
        forged = await codec.post(
            "/encode",
            content=body,
            headers=bearer(jwt.encode({"sub": "x", "roles": ["admin"]}, PLACEHOLDER)),
        )
    assert admin.status_code == 200, admin.text
    assert (customer.status_code, forged.status_code) == (403, 401)


async def test_an_unreachable_key_set_is_503_not_401_or_500(
    jwks_settings: Settings, provider: IdentityProvider
) -> None:
    gone = jwks_settings.model_copy(
        update={"jwt_jwks_url": f"http://127.0.0.1:{free_port()}/jwks.json"}
    )
    application = create_app(gone)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://commerce.test") as http:
            answer = await http.get("/api/v1/products", headers=bearer(provider.token()))
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
