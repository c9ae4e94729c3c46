"""A whole commerce stack started the way a user starts it, for fault drills.

`commerce infra` (its own data dir, free loopback ports), `commerce migrate`, `commerce api` and any
number of `commerce worker` processes, each a child of the test that can be killed (-9), stopped
(SIGTERM) and started again. `Stack` always tears everything down, and checks afterwards that no
process that belongs to its data dir survives.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import asyncpg
import httpx

from commerce.embedded import _die_with_parent, free_port
from commerce.settings import Settings
from commerce.tokens import mint_token

DRILL_JWT_SECRET = "drill-secret-for-fault-drills-only-0123456789"
ADDRESS_NAMES = ("COMMERCE_DATABASE_URL", "COMMERCE_REDIS_URL", "TEMPORAL_ADDRESS")
# Fast saga settings: a step that keeps failing stalls within a few seconds.
FAST_SAGA = {
    "COMMERCE_SAGA_STEP_MAX_ATTEMPTS": "5",
    "COMMERCE_SAGA_STEP_INITIAL_RETRY_MS": "200",
}


def stopped_cleanly(code: int | None) -> bool:
    """Exit code of a process that stopped on SIGTERM as asked: 0, or -SIGTERM from a server
    (uvicorn) that shuts down gracefully and then re-raises the signal, as Unix convention has it."""
    return code in (0, -signal.SIGTERM)


class StackError(AssertionError):
    """A process of the stack did not start, stop or answer as it should (with its log's tail)."""


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Child:
    """One `python -m commerce.cli <role>` process of the stack and its log file."""

    name: str
    process: asyncio.subprocess.Process
    log_path: Path
    drain: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    def failure(self, what: str) -> StackError:
        return StackError(f"{self.name} (pid {self.pid}) {what}; log tail:\n{_tail(self.log_path)}")


@dataclass
class Stack:
    """Infra, API and workers for one drill under `root`; use as `async with Stack(root) as s:`."""

    root: Path
    workers: int = 1
    settings: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)
    infra: Child | None = None
    api: Child | None = None
    worker_children: list[Child] = field(default_factory=list)
    _pool: asyncpg.Pool | None = None
    _http: httpx.AsyncClient | None = None
    _serial: int = 0

    def __post_init__(self) -> None:
        self.data_dir = (self.root / "data").resolve()
        self.logs_dir = (self.root / "logs").resolve()
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        for name in ("postgres", "redis", "temporal", "temporal_ui", "api"):
            self.ports.setdefault(name, free_port())
        self.token_settings = Settings(
            jwt_secret=DRILL_JWT_SECRET, jwt_issuer=None, jwt_audience=None, jwt_ttl_s=3600
        )

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Stack:
        try:
            await self.start_all(self.workers)
        except BaseException:
            await self.teardown(failing=True)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.teardown(failing=exc is not None)

    async def start_all(self, workers: int = 1) -> None:
        """Infra, migrations, the API and `workers` workers (also used to start again on the same
        data after `stop_all`)."""
        await self.start_infra()
        await self.migrate()
        await asyncio.gather(self.start_api(), *(self.start_worker() for _ in range(workers)))

    async def stop_all(self) -> dict[str, int | None]:
        """SIGTERM workers, API, then infra (as an operator stops them); their exit codes."""
        codes: dict[str, int | None] = {}
        await self._close_clients()
        for child in [*self.worker_children, self.api]:
            if child is not None:
                codes[child.name] = await self.stop(child)
        if (infra := self.infra) is not None:
            codes[infra.name] = await self.stop(infra, timeout_s=60)
        return codes

    async def teardown(self, failing: bool) -> None:
        """Stop everything (kill what will not stop), then check that nothing of ours survives."""
        with contextlib.suppress(Exception):
            await self.stop_all()
        for child in [*self.worker_children, self.api, self.infra]:
            if child is not None and child.alive:
                with contextlib.suppress(ProcessLookupError):
                    child.process.kill()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(child.process.wait(), 10)
        survivors = await self._wait_no_survivors(15.0)
        for pid, _ in survivors:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if survivors and not failing:
            listed = "\n".join(f"  {pid}: {cmd[:200]}" for pid, cmd in survivors)
            raise StackError(f"processes of {self.data_dir} survived the teardown:\n{listed}")

    # ------------------------------------------------------------------ environment

    def environment(self, addresses: bool = True) -> dict[str, str]:
        """What every child gets: this drill's data dir, ports, secret and saga settings, and
        (except for `commerce infra`, which would take them for external servers) the addresses
        infra printed."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COMMERCE_", "TEMPORAL_"))}
        env.update(
            COMMERCE_DATA_DIR=str(self.data_dir),
            COMMERCE_EMBEDDED_POSTGRES_PORT=str(self.ports["postgres"]),
            COMMERCE_EMBEDDED_REDIS_PORT=str(self.ports["redis"]),
            COMMERCE_EMBEDDED_TEMPORAL_PORT=str(self.ports["temporal"]),
            COMMERCE_TEMPORAL_UI_PORT=str(self.ports["temporal_ui"]),
            COMMERCE_API_PORT=str(self.ports["api"]),
            COMMERCE_JWT_SECRET=DRILL_JWT_SECRET,
            COMMERCE_WORKER_METRICS_PORT="0",
            COMMERCE_LOG_JSON="false",
            COMMERCE_LOG_LEVEL="INFO",
            PYTHONUNBUFFERED="1",
        )
        env.update(FAST_SAGA)
        env.update(self.settings)
        if addresses:
            env.update(self.addresses)
        return env

    def _log(self, name: str) -> Path:
        self._serial += 1
        return self.logs_dir / f"{self._serial:02d}-{name}.log"

    async def _spawn(self, name: str, role: str, pipe_stdout: bool = False) -> Child:
        log_path = self._log(name)
        log = log_path.open("ab")
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "commerce.cli", role,
                env=self.environment(addresses=role != "infra"),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE if pipe_stdout else log,
                stderr=log,
                start_new_session=True,  # our signals only, never the test runner's
                preexec_fn=_die_with_parent,  # SIGTERM if the test runner itself dies
            )  # fmt: skip
        finally:
            log.close()
        return Child(name, process, log_path)

    # ------------------------------------------------------------------ infra

    async def start_infra(self, timeout_s: float = 120.0) -> None:
        """`commerce infra`; ready once it printed its three address lines."""
        child = await self._spawn("infra", "infra", pipe_stdout=True)
        self.infra = child
        stdout = child.process.stdout
        assert stdout is not None
        addresses: dict[str, str] = {}
        printed: list[str] = []
        deadline = time.monotonic() + timeout_s
        while len(addresses) < len(ADDRESS_NAMES):
            left = deadline - time.monotonic()
            if left <= 0:
                raise child.failure(f"printed no addresses within {timeout_s:.0f}s: {printed}")
            try:
                raw = await asyncio.wait_for(stdout.readline(), left)
            except TimeoutError:
                continue
            if not raw:
                await child.process.wait()
                raise child.failure(f"ended ({child.process.returncode}) before its addresses")
            line = raw.decode(errors="replace").strip()
            printed.append(line)
            name, _, value = line.partition("=")
            if name in ADDRESS_NAMES:
                addresses[name] = value
        self.addresses = addresses
        child.drain = asyncio.create_task(self._drain(stdout, child.log_path))

    @staticmethod
    async def _drain(stream: asyncio.StreamReader, log_path: Path) -> None:
        """Keep reading the supervisor's stdout (restart notices) into its log."""
        while raw := await stream.readline():
            with log_path.open("ab") as log:
                log.write(b"[stdout] " + raw)

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "postgres" / "pgdata"

    def postmaster_pid(self) -> int:
        return int((self.pgdata / "postmaster.pid").read_text().split()[0])

    def kill_postgres(self) -> int:
        """kill -9 the postmaster (the supervisor in `commerce infra` starts it again)."""
        pid = self.postmaster_pid()
        os.kill(pid, signal.SIGKILL)
        return pid

    async def migrate(self, timeout_s: float = 60.0) -> None:
        child = await self._spawn("migrate", "migrate")
        try:
            code = await asyncio.wait_for(child.process.wait(), timeout_s)
        except TimeoutError:
            child.process.kill()
            await child.process.wait()
            raise child.failure(f"did not finish within {timeout_s:.0f}s") from None
        if code != 0:
            raise child.failure(f"exited {code}")

    # ------------------------------------------------------------------ API and workers

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['api']}"

    async def start_api(self, timeout_s: float = 60.0) -> Child:
        """`commerce api`; ready once /health/ready answers 200."""
        child = await self._spawn("api", "api")
        self.api = child
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(base_url=self.api_url, timeout=5) as probe:
            while True:
                if not child.alive:
                    raise child.failure(f"exited ({child.process.returncode}) while starting")
                with contextlib.suppress(httpx.TransportError):
                    if (await probe.get("/health/ready")).status_code == 200:
                        return child
                if time.monotonic() > deadline:
                    raise child.failure(f"not ready within {timeout_s:.0f}s")
                await asyncio.sleep(0.1)

    async def start_worker(self, timeout_s: float = 60.0) -> Child:
        """`commerce worker`; ready once it logs that it polls the task queue."""
        child = await self._spawn(f"worker{self._serial + 1}", "worker")
        self.worker_children.append(child)
        deadline = time.monotonic() + timeout_s
        while True:
            if not child.alive:
                raise child.failure(f"exited ({child.process.returncode}) while starting")
            with contextlib.suppress(OSError):
                if b"polling task queue" in child.log_path.read_bytes():
                    return child
            if time.monotonic() > deadline:
                raise child.failure(f"not polling within {timeout_s:.0f}s")
            await asyncio.sleep(0.1)

    async def kill(self, child: Child) -> None:
        """kill -9, and reap it."""
        with contextlib.suppress(ProcessLookupError):
            child.process.kill()
        await asyncio.wait_for(child.process.wait(), 10)
        self._forget(child)

    async def stop(self, child: Child, timeout_s: float = 30.0) -> int | None:
        """SIGTERM and wait (SIGKILL after `timeout_s`); its exit code."""
        if child.alive:
            with contextlib.suppress(ProcessLookupError):
                child.process.terminate()
            try:
                await asyncio.wait_for(child.process.wait(), timeout_s)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    child.process.kill()
                await asyncio.wait_for(child.process.wait(), 10)
        if child.drain is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(child.drain, 5)
        self._forget(child)
        return child.process.returncode

    def _forget(self, child: Child) -> None:
        if child in self.worker_children:
            self.worker_children.remove(child)
        if child is self.api:
            self.api = None
        if child is self.infra:
            self.infra = None

    # ------------------------------------------------------------------ clients

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                base_url=self.api_url,
                timeout=httpx.Timeout(30.0, connect=5.0),
                limits=httpx.Limits(max_connections=40, max_keepalive_connections=40),
            )
        return self._http

    async def pool(self) -> asyncpg.Pool:
        """A small pool on the drill's PostgreSQL, for asserting on the ledgers."""
        if self._pool is None:
            pool = await asyncpg.create_pool(
                self.addresses["COMMERCE_DATABASE_URL"], min_size=1, max_size=4, timeout=10
            )
            assert pool is not None
            self._pool = pool
        return self._pool

    def token(self, subject: str, roles: list[str]) -> str:
        return mint_token(self.token_settings, subject, roles)

    async def _close_clients(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            with contextlib.suppress(Exception):
                await http.aclose()
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 5)
            except Exception:
                pool.terminate()

    # ------------------------------------------------------------------ no orphans

    def survivors(self) -> list[tuple[int, str]]:
        """Processes of this drill: those whose command line or environment names its data dir,
        and those listening on one of its ports (Valkey and PostgreSQL backends rewrite their
        process titles over both)."""
        marker = str(self.data_dir).encode()
        listeners = _listening_inodes(set(self.ports.values()))
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            ours = marker in cmdline
            with contextlib.suppress(OSError):
                ours = ours or marker in (entry / "environ").read_bytes()
            if not ours and listeners:
                with contextlib.suppress(OSError):
                    ours = any(os.readlink(fd) in listeners for fd in (entry / "fd").iterdir())
            if ours:
                title = cmdline.replace(b"\0", b" ").decode(errors="replace")
                found.append((int(entry.name), title))
        return found

    async def _wait_no_survivors(self, timeout_s: float) -> list[tuple[int, str]]:
        deadline = time.monotonic() + timeout_s
        while (found := self.survivors()) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        return found


def _listening_inodes(ports: set[int]) -> set[str]:
    """`socket:[inode]` of the TCP sockets listening on these ports (from /proc/net/tcp*)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for row in Path(table).read_text().splitlines()[1:]:
                fields = row.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) in ports:
                    inodes.add(f"socket:[{inode}]")
    return inodes
