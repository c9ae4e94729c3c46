"""`commerce infra` as a user runs it: addresses, readiness, clean stop, data kept across restarts."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as redis
from temporalio.client import Client

from commerce.embedded import EmbeddedPostgres, free_port, port_answers

pytestmark = pytest.mark.slow


def _environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMMERCE_", "TEMPORAL_"))}
    env.update(
        COMMERCE_DATA_DIR=str(data_dir),
        COMMERCE_EMBEDDED_POSTGRES_PORT=str(free_port()),
        COMMERCE_EMBEDDED_REDIS_PORT=str(free_port()),
        COMMERCE_EMBEDDED_TEMPORAL_PORT=str(free_port()),
        COMMERCE_TEMPORAL_UI_PORT=str(free_port()),
    )
    return env


async def _start_infra(
    env: dict[str, str], cwd: Path | None = None
) -> tuple[asyncio.subprocess.Process, dict[str, str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "commerce.cli", "infra",
        env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    addresses: dict[str, str] = {}
    while len(addresses) < 3:
        line = (await asyncio.wait_for(process.stdout.readline(), 90)).decode().strip()
        assert line, "commerce infra ended before printing its addresses"
        if "=" in line and not line.startswith("#"):
            name, value = line.split("=", 1)
            addresses[name] = value
    return process, addresses


async def _stop(process: asyncio.subprocess.Process) -> int:
    process.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(process.wait(), 60)


def _children_of_data_dir(data_dir: Path) -> list[str]:
    """Processes naming the data dir in their command line or environment (PostgreSQL run as its
    system user names a cluster outside it, but inherits COMMERCE_DATA_DIR)."""
    found = []
    for process in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (process / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            environ = (process / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(data_dir) in cmdline or f"COMMERCE_DATA_DIR={data_dir}\0" in environ:
            found.append(cmdline)
    return found


async def test_infra_prints_addresses_serves_and_keeps_data_across_restart(tmp_path: Path) -> None:
    env = _environment(tmp_path / "data")
    process, addresses = await _start_infra(env)
    try:
        assert set(addresses) == {"COMMERCE_DATABASE_URL", "COMMERCE_REDIS_URL", "TEMPORAL_ADDRESS"}
        conn = await asyncpg.connect(addresses["COMMERCE_DATABASE_URL"])
        await conn.execute("CREATE TABLE kept (note text); INSERT INTO kept VALUES ('still here')")
        await conn.close()
        cache = redis.from_url(addresses["COMMERCE_REDIS_URL"])
        assert await cache.ping()
        await cache.aclose()
        client = await Client.connect(addresses["TEMPORAL_ADDRESS"])
        assert await client.service_client.check_health()
    finally:
        assert await _stop(process) == 0
    assert _children_of_data_dir(tmp_path / "data") == []

    process, addresses = await _start_infra(env)
    try:
        conn = await asyncpg.connect(addresses["COMMERCE_DATABASE_URL"])
        assert await conn.fetchval("SELECT note FROM kept") == "still here"
        await conn.close()
    finally:
        assert await _stop(process) == 0


def _ignore_sigint() -> None:
    """As a shell does for a job it runs in the background."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_a_stop_asked_while_servers_start_stops_those_started_and_ends_0(
    tmp_path: Path, stop: signal.Signals
) -> None:
    """Ctrl-C or SIGTERM before every server is up is honoured at once, as it is once they are:
    what started is stopped and infra ends 0. SIGINT arrives ignored at launch (a background job)."""
    data_dir = tmp_path / "data"
    env = _environment(data_dir)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "commerce.cli", "infra",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        preexec_fn=_ignore_sigint,
    )  # fmt: skip
    async with asyncio.timeout(60):  # Valkey answers first; PostgreSQL's initdb takes longer
        while not await port_answers(int(env["COMMERCE_EMBEDDED_REDIS_PORT"])):
            await asyncio.sleep(0.02)
    process.send_signal(stop)
    try:
        code = await asyncio.wait_for(process.wait(), 30)
    except TimeoutError:
        process.kill()
        await process.wait()
        code = None
    assert process.stdout is not None
    said = (await process.stdout.read()).decode(errors="replace")
    assert code == 0, f"infra ended {code} (None: still running 30 s after the stop):\n{said}"
    assert "COMMERCE_DATABASE_URL=" not in said, f"every server was up before the stop: {said}"
    assert _children_of_data_dir(data_dir) == []


async def test_malformed_address_setting_ends_with_one_line_naming_it(tmp_path: Path) -> None:
    env = _environment(tmp_path)
    env["COMMERCE_DATABASE_URL"] = "mysql://somewhere/db"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "commerce.cli", "migrate",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await process.communicate()
    lines = err.decode().strip().splitlines()
    assert process.returncode == 2
    assert len(lines) == 1 and "COMMERCE_DATABASE_URL" in lines[0]


async def test_unreachable_database_ends_with_one_line_naming_the_setting(tmp_path: Path) -> None:
    env = _environment(tmp_path)
    env["COMMERCE_DATABASE_URL"] = f"postgresql://nobody@127.0.0.1:{free_port()}/commerce"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "commerce.cli", "migrate",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await process.communicate()
    lines = err.decode().strip().splitlines()
    assert process.returncode == 1
    assert len(lines) == 1 and lines[0].startswith("commerce migrate: COMMERCE_DATABASE_URL=")


async def test_infra_starts_a_crashed_postgres_again_on_the_same_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    process, addresses = await _start_infra(_environment(data_dir))
    try:
        conn = await asyncpg.connect(addresses["COMMERCE_DATABASE_URL"])
        await conn.execute("CREATE TABLE survivor (note text); INSERT INTO survivor VALUES ('ok')")
        await conn.close()
        pid_file = data_dir / "postgres" / "pgdata" / "postmaster.pid"
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)

        async def back() -> str:
            while True:
                try:
                    conn = await asyncpg.connect(addresses["COMMERCE_DATABASE_URL"], timeout=2)
                except (OSError, asyncpg.PostgresError):
                    await asyncio.sleep(0.2)
                    continue
                try:
                    return str(await conn.fetchval("SELECT note FROM survivor"))
                finally:
                    await conn.close()

        assert await asyncio.wait_for(back(), 60) == "ok"
        assert process.returncode is None
    finally:
        assert await _stop(process) == 0


def _ancestry(path: Path) -> dict[str, tuple[int, int, int]]:
    """Mode, owner and group of `path`'s every existing ancestor, from the root down."""
    found = {}
    for ancestor in [*reversed(path.absolute().parents), path.absolute()]:
        if ancestor.exists():
            st = ancestor.stat()
            found[str(ancestor)] = (st.st_mode, st.st_uid, st.st_gid)
    return found


@pytest.mark.skipif(os.geteuid() != 0, reason="PostgreSQL runs as a system user only under root")
async def test_infra_as_root_in_a_private_checkout_changes_no_ancestor(tmp_path: Path) -> None:
    # A home like /root (0700) with a checkout in it, outside pytest's own directories.
    home = Path(tempfile.mkdtemp(prefix="commerce-private-home-"))
    checkout = home / "shop"
    checkout.mkdir()
    env = _environment(Path(".data"))  # the default, relative to the checkout, as `make run`
    before = _ancestry(checkout / ".data")
    try:
        process, addresses = await _start_infra(env, cwd=checkout)
        try:
            conn = await asyncpg.connect(addresses["COMMERCE_DATABASE_URL"])
            assert await conn.fetchval("SELECT current_user") == "postgres"
            await conn.close()
        finally:
            assert await _stop(process) == 0
        after = _ancestry(checkout / ".data")
        assert {path: after[path] for path in before} == before
    finally:
        _remove_cluster(checkout / ".data")
        shutil.rmtree(home)


def _remove_cluster(data_dir: Path) -> None:
    """As root the cluster lives outside the data dir; a test's is deleted with it."""
    EmbeddedPostgres("postgres", data_dir / "postgres", 0).remove_cluster()


@pytest.mark.skipif(os.geteuid() != 0, reason="PostgreSQL runs as a system user only under root")
async def test_infra_as_root_refuses_in_one_line_a_cluster_out_of_its_users_reach() -> None:
    # A cluster directory an earlier version made in place, inside a home like /root (0700).
    home = Path(tempfile.mkdtemp(prefix="commerce-private-home-"))
    try:
        (home / "shop" / ".data" / "postgres" / "pgdata").mkdir(parents=True)
        before = _ancestry(home / "shop" / ".data" / "postgres" / "pgdata")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "commerce.cli", "infra",
            env=_environment(Path(".data")), cwd=home / "shop",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(process.communicate(), 90)
        lines = err.decode().strip().splitlines()
        assert process.returncode == 1
        assert len(lines) == 1 and lines[0].startswith("commerce infra: COMMERCE_DATA_DIR: ")
        assert _ancestry(home / "shop" / ".data" / "postgres" / "pgdata") == before
    finally:
        shutil.rmtree(home)
