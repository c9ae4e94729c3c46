"""deploy/Dockerfile, linted by its structure: two stages, unprivileged runtime, a health check."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass

import pytest

from tests.deploy.support import DEPLOY, REPO, is_known_env


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions in order, with `\\` continuations joined and comments dropped."""
    instructions: list[Instruction] = []
    logical = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not logical and (not stripped or stripped.startswith("#")):
            continue
        if logical and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            logical += stripped[:-1].rstrip() + " "
            continue
        logical += stripped
        keyword, _, arguments = logical.partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
        logical = ""
    assert not logical, "the Dockerfile ends inside a continued line"
    return instructions


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse_dockerfile((DEPLOY / "Dockerfile").read_text())


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    result: list[list[Instruction]] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            result.append([])
        result[-1].append(instruction)
    return result


def test_parser_joins_continuations_and_skips_comments() -> None:
    parsed = parse_dockerfile('# c\nFROM a AS b\nRUN x \\\n  # inner\n  && y\nCMD ["z"]\n')
    assert parsed == [
        Instruction("FROM", "a AS b"),
        Instruction("RUN", "x && y"),
        Instruction("CMD", '["z"]'),
    ]


def test_multi_stage_builder_and_slim_runtime(instructions: list[Instruction]) -> None:
    builder, *_, runtime = stages(instructions)
    assert len(stages(instructions)) >= 2
    assert re.fullmatch(r"python:3\.11-slim AS builder", builder[0].arguments)
    assert runtime[0].arguments.startswith("python:3.11-slim")
    assert any("gcc" in i.arguments for i in builder if i.keyword == "RUN")
    assert not any("gcc" in i.arguments for i in runtime if i.keyword == "RUN")
    assert any(i.keyword == "COPY" and "--from=builder" in i.arguments for i in runtime)


def test_runtime_runs_as_a_non_root_user_before_cmd(instructions: list[Instruction]) -> None:
    runtime = stages(instructions)[-1]
    keywords = [i.keyword for i in runtime]
    assert "USER" in keywords and "CMD" in keywords
    user_index = max(i for i, keyword in enumerate(keywords) if keyword == "USER")
    assert user_index < keywords.index("CMD")
    user = runtime[user_index].arguments.split(":")[0]
    assert user not in {"root", "0"}


def test_default_command_ports_and_health_check(instructions: list[Instruction]) -> None:
    runtime = stages(instructions)[-1]
    by_keyword = {i.keyword: i.arguments for i in runtime}
    assert json.loads(by_keyword["CMD"]) == ["commerce", "api"]
    assert {"8084", "9464"} <= set(by_keyword["EXPOSE"].split())
    healthcheck = by_keyword["HEALTHCHECK"]
    assert "/health/live" in healthcheck
    exec_form = json.loads(healthcheck[healthcheck.index("CMD") + 3 :].strip())
    assert exec_form[0] == "python"  # the slim image has no curl


def test_every_package_of_the_project_is_copied(instructions: list[Instruction]) -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    setuptools = pyproject["tool"]["setuptools"]
    packages = {pattern.rstrip("*") for pattern in setuptools["packages"]["find"]["include"]}
    modules = {f"{module}.py" for module in setuptools["py-modules"]}
    copied = {
        path.rstrip("/")
        for i in stages(instructions)[0]
        if i.keyword == "COPY" and not i.arguments.startswith("--")
        for path in i.arguments.split()[:-1]
    }
    assert packages | modules | {"pyproject.toml", "README.md"} <= copied
    for path in copied:
        assert (REPO / path).exists(), path


def test_environment_names_are_settings(instructions: list[Instruction]) -> None:
    names = [
        pair.split("=")[0]
        for i in instructions
        if i.keyword == "ENV"
        for pair in i.arguments.split()
        if pair.split("=")[0].startswith(("COMMERCE_", "TEMPORAL_"))
    ]
    assert names and all(is_known_env(name) for name in names), names


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    ignored = {
        line.strip().rstrip("/") for line in (REPO / ".dockerignore").read_text().splitlines()
    }
    assert {".git", ".venv", ".data", ".pytest_cache", ".mypy_cache"} <= ignored
    for needed in ("pyproject.toml", "README.md", "commerce", "worker.py"):
        assert needed not in ignored
