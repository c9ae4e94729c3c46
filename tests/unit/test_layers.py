"""Imports point inward, as CONTRIBUTING.md's table says: each rule below is one of its rows.

Read from the source (tests/import_graph.py): every import statement counts, lazy ones too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.import_graph import ImportGraph, package_of

IO_LIBRARIES = {"asyncpg", "redis", "httpx", "stripe", "fastapi"}


@pytest.fixture(scope="module")
def graph() -> ImportGraph:
    return ImportGraph.read()


def _is_contract(module: str) -> bool:
    """The workflows' contract: task queues, ids, update and query names, the messages that
    cross the saga's boundaries (`workflows/*contract.py`, `workflows/*inputs.py`)."""
    name = module.rpartition(".")[2]
    return package_of(module) == "workflows" and name.endswith(("contract", "inputs"))


def _breaches(graph: ImportGraph, package: str, allowed: set[str]) -> list[str]:
    return sorted({
        f"{imp.module}, line {imp.line}: imports {imp.target}"
        for module in graph.files
        if package_of(module) == package
        for imp in graph.imports[module]
        if package_of(imp.target) not in allowed
    })  # fmt: skip


def _report(breaches: list[str], rule: str) -> str:
    return f"{rule} (CONTRIBUTING.md, Layers):\n  " + "\n  ".join(breaches)


def test_domain_imports_nothing_of_ours(graph: ImportGraph) -> None:
    breaches = _breaches(graph, "domain", {"domain"})
    assert not breaches, _report(breaches, "domain/ imports nothing of ours")


def test_eventstore_imports_only_the_domain(graph: ImportGraph) -> None:
    breaches = _breaches(graph, "eventstore", {"domain", "eventstore"})
    assert not breaches, _report(breaches, "eventstore/ imports only domain/ of ours")


def test_workflows_import_only_the_domain(graph: ImportGraph) -> None:
    breaches = _breaches(graph, "workflows", {"domain", "workflows"})
    assert not breaches, _report(breaches, "workflows/ import only domain/ of ours")


def test_workflows_load_no_io_library(graph: ImportGraph) -> None:
    """Not directly, nor through any module of ours they load (the sandbox passes them through)."""
    loaded = {
        f"{workflow} → {' → '.join(graph.path_between(workflow, module, set(graph.files))[1:])}"
        f" imports {sorted(graph.external[module] & IO_LIBRARIES)}"
        for workflow in graph.files
        if package_of(workflow) == "workflows"
        for module in graph.reachable(workflow)
        if graph.external[module] & IO_LIBRARIES
    }
    assert not loaded, _report(sorted(loaded), "workflows/ load no I/O library")


def test_the_contract_imports_no_temporal_and_only_the_domain(graph: ImportGraph) -> None:
    """What the API, the activities and the workflows share holds types and names only."""
    breaches = {
        f"{module}, line {imp.line}: imports {imp.target}"
        for module in graph.files
        if _is_contract(module)
        for imp in graph.imports[module]
        if imp.line  # not the implicit import of its package, `workflows/__init__.py`
        and not (_is_contract(imp.target) or package_of(imp.target) == "domain")
    }
    breaches |= {
        f"{module}: imports temporalio"
        for module in graph.files
        if _is_contract(module) and "temporalio" in graph.external[module]
    }
    assert not breaches, _report(sorted(breaches), "the contract imports only the domain")


def test_only_the_worker_imports_a_workflow(graph: ImportGraph) -> None:
    """The API, the activities and the process wiring use the workflows' contract; the workflow
    classes themselves are registered by worker.py alone."""
    breaches = {
        f"{imp.module}, line {imp.line}: imports {imp.target}"
        for module in graph.files
        if package_of(module) not in ("workflows", "worker")
        for imp in graph.imports[module]
        if package_of(imp.target) == "workflows" and not _is_contract(imp.target)
    }
    assert not breaches, _report(sorted(breaches), "only worker.py imports a workflow")


def test_api_imports_nothing_from_activities(graph: ImportGraph) -> None:
    """Neither a module of `activities/` nor a name defined there and re-exported elsewhere."""
    breaches = set()
    for module in (m for m in graph.files if package_of(m) == "api"):
        for imp in graph.imports[module]:
            homes = {graph.defined_in(imp.target, name) for name in imp.names} | {imp.target}
            for home in (h for h in homes if package_of(h) == "activities"):
                breaches.add(f"{module}, line {imp.line}: imports from {home}")
    assert not breaches, _report(sorted(breaches), "api/ imports nothing from activities/")


def test_a_name_re_exported_from_another_package_is_traced_to_its_home(tmp_path: Path) -> None:
    for package in ("inner", "outer", "front"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "inner" / "types.py").write_text("class Answer: ...\n")
    (tmp_path / "outer" / "contract.py").write_text("from inner.types import Answer\n")
    (tmp_path / "front" / "route.py").write_text("from outer.contract import Answer\n")

    graph = ImportGraph.read(tmp_path, packages=["inner", "outer", "front"], top=[])

    assert graph.defined_in("outer.contract", "Answer") == "inner.types"
    assert graph.defined_in("inner.types", "Answer") == "inner.types"
