"""How an embedded server's start meets a taken port: with real child processes and sockets.

A port picked for a server sits free until the server binds it; any process that asks the kernel
for a port in that gap (every outgoing connection does) can take it. The Temporal dev server also
picks its own internal ports that way, so its start can lose one even when ours are free.
"""

from __future__ import annotations

import socket
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from commerce.embedded import EmbeddedServer, ephemeral_port_range, free_port

# The child stands for a server: on its first start it fails as the dev server does when one of
# its own ports was taken; on the next it listens on its port until stopped.
_SERVER = textwrap.dedent(
    """
    import socket, sys, time
    from pathlib import Path
    port, tried = int(sys.argv[1]), Path(sys.argv[2])
    if sys.argv[3] == "race" and not tried.exists():
        tried.touch()
        print("Error: listen tcp 127.0.0.1:40201: bind: address already in use", flush=True)
        sys.exit(1)
    if sys.argv[3] == "broken":
        print("FATAL: the data directory holds a newer format", flush=True)
        sys.exit(3)
    server = socket.create_server(("127.0.0.1", port))
    while True:
        time.sleep(1)
    """
)


@dataclass
class _ToyServer(EmbeddedServer):
    behaviour: str = "race"

    def command(self) -> list[str]:
        tried = self.data_dir / "tried"
        return [sys.executable, "-c", _SERVER, str(self.port), str(tried), self.behaviour]


@dataclass
class _PicksItsOwnPorts(_ToyServer):
    picks_own_ports = True


def test_a_picked_port_is_one_the_kernel_never_hands_out_on_its_own() -> None:
    low, high = ephemeral_port_range()

    ports = [free_port() for _ in range(300)]

    assert len(set(ports)) == len(ports), "a port picked twice in one process"
    for port in ports:
        assert not low <= port <= high, f"{port} lies in the kernel's range {low}-{high}"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))  # free when picked


async def test_a_server_that_loses_a_port_it_picked_itself_is_started_again(
    tmp_path: Path,
) -> None:
    server = _PicksItsOwnPorts("toy", tmp_path, free_port())
    try:
        await server.start(timeout_s=20)
        assert server.process is not None and server.process.returncode is None
    finally:
        await server.stop()
    assert "address already in use" in server.log_path.read_text()


async def test_a_port_race_is_not_retried_where_every_port_is_ours(tmp_path: Path) -> None:
    server = _ToyServer("toy", tmp_path, free_port())

    with pytest.raises(RuntimeError, match="address already in use"):
        await server.start(timeout_s=20)


async def test_a_server_that_exits_early_says_why_in_the_error(tmp_path: Path) -> None:
    server = _PicksItsOwnPorts("toy", tmp_path, free_port(), behaviour="broken")

    with pytest.raises(RuntimeError) as raised:
        await server.start(timeout_s=20)

    said = str(raised.value)
    assert "toy exited early (3)" in said
    assert "the data directory holds a newer format" in said
    assert said.count("newer format") == 1, "a failure that is not a port race is not retried"
