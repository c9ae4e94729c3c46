"""Secrets generated once per data dir for development (the JWT secret, the payload key)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path


def kept_secret(data_dir: Path, name: str, make: Callable[[], str]) -> str:
    """The secret in `data_dir/name`, made on first use. Processes starting together agree on
    one value: the file appears whole (a hard link of a finished file) and the first link wins."""
    path = data_dir / name
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        candidate = data_dir / f".{name}.{os.getpid()}.tmp"
        candidate.write_text(make())
        candidate.chmod(0o600)
        try:
            with contextlib.suppress(FileExistsError):
                os.link(candidate, path)
        finally:
            candidate.unlink()
    return path.read_text().strip()
