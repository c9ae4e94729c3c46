"""commerce/published_values.py lists every value of this repository that could pass for a secret,
so an installed service refuses them without the repository at hand."""

from __future__ import annotations

from commerce.published_values import MAX_PUBLISHED_CHARS, PUBLISHED_DIGESTS
from commerce.secret_rules import digest, is_published
from tests.published_values import MODULE, REPO, published_values


def test_every_secret_like_value_in_the_repository_is_published() -> None:
    found = list(published_values())
    missing = sorted(
        {f"{path.relative_to(REPO)}: {value}" for path, value in found if not is_published(value)}
    )
    assert not missing, (
        f"{len(missing)} value(s) not in {MODULE.relative_to(REPO)}; "
        "run `python -m tests.published_values`:\n" + "\n".join(missing[:20])
    )
    assert max(len(value) for _, value in found) <= MAX_PUBLISHED_CHARS


def test_the_scan_sees_the_files_secrets_are_copied_from() -> None:
    scanned = {path.relative_to(REPO).as_posix() for path, _ in published_values()}
    assert {"docs/production.md", "docker-compose.yml", "tests/conftest.py"} <= scanned
    values = {value for _, value in published_values()}
    assert "test-secret-for-the-suite-only-0123456789" in values  # tests/conftest.py
    assert digest("test-secret-for-the-suite-only-0123456789") in PUBLISHED_DIGESTS


def test_few_published_digests_are_stale() -> None:
    # A stale digest (its value was edited away) refuses nothing anyone would generate; it only
    # waits for the next refresh. Missing ones are what the first test fails on.
    current = {digest(value) for _, value in published_values()}
    assert len(PUBLISHED_DIGESTS - current) <= len(PUBLISHED_DIGESTS) // 10, (
        "refresh: python -m tests.published_values"
    )
