"""The shop's Temporal connection: mutual TLS from the TEMPORAL_TLS_* settings (through a real TLS
endpoint in front of the session's Temporal server) and search attributes registered by
`commerce migrate`."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import ssl
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from temporalio.client import Client
from temporalio.service import RPCError

from commerce.connections import Unreachable, connect_temporal, register_search_attributes
from commerce.embedded import SEARCH_ATTRIBUTES, free_port
from commerce.settings import Settings
from tests.temporal_namespaces import fresh_namespace

SERVER_NAME = "temporal.shop.test"


def _certificate(
    name: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey]
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer[0])
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


def _pem(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None) -> None:
    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.with_suffix(".key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


def make_pki(folder: Path) -> None:
    """ca.crt; server.crt/.key for SERVER_NAME and 127.0.0.1; client.crt/.key (CN worker)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "shop test CA")])
    ca = (
        _certificate("shop test CA", ca_key, (ca_name, ca_key))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    _pem(folder / "ca", ca, None)
    names = [x509.DNSName(SERVER_NAME), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    for role, extension in (
        ("server", x509.SubjectAlternativeName(names)),
        ("client", x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH])),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            _certificate(f"commerce-{role}", key, (ca_name, ca_key))
            .add_extension(extension, critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        _pem(folder / role, cert, key)


@dataclass
class TlsFrontend:
    """A TLS endpoint that requires a client certificate from the CA, then relays the bytes to
    the plain Temporal frontend: what a cluster with mTLS looks like to a client."""

    folder: Path
    target: str
    port: int = field(default_factory=free_port)
    clients: list[str] = field(default_factory=list)

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.folder / "server.crt", self.folder / "server.key")
        context.load_verify_locations(self.folder / "ca.crt")
        context.verify_mode = ssl.CERT_REQUIRED
        context.set_alpn_protocols(["h2"])
        return context

    async def relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peercert") or {}
        self.clients.append(dict(item[0] for item in peer.get("subject", ()))["commonName"])
        host, port = self.target.rsplit(":", 1)
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, ssl.SSLError):
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


@pytest.fixture
async def frontend(tmp_path: Path, settings: Settings) -> AsyncIterator[TlsFrontend]:
    make_pki(tmp_path)
    tls = TlsFrontend(tmp_path, settings.temporal_address)
    server = await asyncio.start_server(tls.relay, "127.0.0.1", tls.port, ssl=tls.context())
    async with server:
        yield tls
        server.close()


def _tls_settings(settings: Settings, frontend: TlsFrontend, **changes: object) -> Settings:
    folder = frontend.folder
    return Settings(
        **{
            "temporal_address": f"127.0.0.1:{frontend.port}",
            "payload_keys": settings.payload_keys,
            "data_dir": settings.data_dir,
            "temporal_tls_client_cert_path": folder / "client.crt",
            "temporal_tls_client_key_path": folder / "client.key",
            "temporal_tls_server_ca_cert_path": folder / "ca.crt",
            "temporal_tls_server_name": SERVER_NAME,
            **changes,
        }
    )


async def test_clients_connect_with_the_client_certificate_the_settings_name(
    settings: Settings, frontend: TlsFrontend
) -> None:
    client = await connect_temporal(_tls_settings(settings, frontend))
    assert await client.service_client.check_health()
    assert "commerce-client" in frontend.clients


async def test_without_a_client_certificate_the_frontend_refuses(
    settings: Settings, frontend: TlsFrontend
) -> None:
    no_cert = _tls_settings(
        settings,
        frontend,
        temporal_tls_client_cert_path=None,
        temporal_tls_client_key_path=None,
    )
    with pytest.raises(Unreachable, match="TEMPORAL_ADDRESS"):
        await connect_temporal(no_cert)


def test_a_certificate_without_its_key_is_refused_at_start(tmp_path: Path) -> None:
    make_pki(tmp_path)
    with pytest.raises(ValueError, match="TEMPORAL_TLS_CLIENT_CERT_PATH and"):
        Settings(temporal_tls_client_cert_path=tmp_path / "client.crt")
    with pytest.raises(ValueError, match="not a readable file"):
        Settings(temporal_tls_server_ca_cert_path=tmp_path / "missing.crt")


async def _fresh_namespace(client: Client) -> str:
    return await fresh_namespace(client, "shop", retention_s=86400)


async def test_migrate_registers_the_search_attributes_once_over_tls(
    settings: Settings, frontend: TlsFrontend, temporal_client: Client
) -> None:
    namespace = await _fresh_namespace(temporal_client)
    over_tls = _tls_settings(settings, frontend, temporal_namespace=namespace)
    for _ in range(100):  # a new namespace reaches the frontend's cache within seconds
        try:
            added = await register_search_attributes(over_tls)
            break
        except RuntimeError as error:
            if "not found" not in str(error).lower():
                raise
            await asyncio.sleep(0.2)
    assert added == sorted(SEARCH_ATTRIBUTES)
    assert await register_search_attributes(over_tls) == []
    assert frontend.clients


async def test_migrate_names_the_namespace_it_could_not_register_in(settings: Settings) -> None:
    missing = settings.model_copy(update={"temporal_namespace": "no-such-namespace"})
    with pytest.raises(RuntimeError, match="TEMPORAL_NAMESPACE=no-such-namespace") as refused:
        await register_search_attributes(missing)
    assert not isinstance(refused.value, RPCError)


async def test_commerce_migrate_ends_cleanly_every_time(settings: Settings) -> None:
    # It opens a Temporal client and ends; the SDK's threads aborted about one exit in five
    # (exit 134, "PyGILState_Release") before the command skipped the interpreter's teardown.
    env = {
        **os.environ,
        "COMMERCE_DATABASE_URL": settings.database_url,
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "COMMERCE_DATA_DIR": str(settings.data_dir),
    }
    for _ in range(8):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "commerce.cli", "migrate",
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        assert out.decode().splitlines() == [
            "schema up to date (0 migration(s) applied)",
            "search attributes registered (none missing)",
        ]
