"""The workflows are deterministic by construction: what the SDK's sandbox would catch at run time,
read from the source of every module a workflow loads (the worker runs them unsandboxed,
worker.build_worker; recorded histories still replay in the sandbox, test_workflow_replay.py).

Read with `ast` (tests/import_graph.py), nothing is imported. The sandbox checks only a workflow's
own module (everything it passes through runs unchecked); these rules cover `domain/` and the
passed-through helpers of `workflows/` too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

import pytest

from tests.import_graph import ImportGraph, package_of

# The standard library and SDK modules a workflow may load: none reads a clock, a random source,
# the environment or the network of its own accord (asyncio runs on the workflow's own event loop,
# whose time is the workflow's).
DETERMINISTIC_LIBRARIES = {
    "__future__", "abc", "asyncio", "collections", "dataclasses", "datetime", "decimal", "enum",
    "functools", "itertools", "math", "operator", "re", "temporalio", "types", "typing",
}  # fmt: skip
# Of the SDK, the parts meant for workflow code; `temporalio.client`, `.worker`, `.activity` and
# `.testing` do I/O or belong to other processes.
WORKFLOW_SDK = {"temporalio", "temporalio.workflow", "temporalio.common", "temporalio.exceptions"}
# `datetime.now()` and kin read the machine's clock; a workflow reads `workflow.now()`.
CLOCK_READS = {"now", "utcnow", "today"}
MUTATORS = {
    "append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault", "add",
    "discard", "popitem", "sort", "reverse",
}  # fmt: skip


@pytest.fixture(scope="module")
def graph() -> ImportGraph:
    return ImportGraph.read()


@pytest.fixture(scope="module")
def loaded(graph: ImportGraph) -> dict[str, ast.Module]:
    """Every module of ours that some workflow module loads, parsed."""
    modules = {
        module
        for workflow in graph.files
        if package_of(workflow) == "workflows"
        for module in graph.reachable(workflow)
    }
    return {module: ast.parse(graph.files[module].read_text()) for module in sorted(modules)}


def test_workflows_load_only_deterministic_libraries(
    graph: ImportGraph, loaded: dict[str, ast.Module]
) -> None:
    found = {
        f"{module} imports {library}"
        for module in loaded
        for library in graph.external[module] - DETERMINISTIC_LIBRARIES
    } | {
        f"{module}, line {node.lineno}: imports {name}"
        for module, tree in loaded.items()
        for node, name in _sdk_imports(tree)
        if name not in WORKFLOW_SDK
    }
    assert not found, "a workflow loads a library that may not be deterministic:\n  " + "\n  ".join(
        sorted(found)
    )


def test_workflows_read_no_clock_but_the_workflows(loaded: dict[str, ast.Module]) -> None:
    found = sorted(
        f"{module}, line {node.lineno}: {ast.unparse(node)}"
        for module, tree in loaded.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr in CLOCK_READS
        and ast.unparse(node.value) != "workflow"
    )
    assert not found, "read the time with workflow.now():\n  " + "\n  ".join(found)


def test_workflows_keep_no_state_between_runs(loaded: dict[str, ast.Module]) -> None:
    """Unsandboxed, a module's globals outlive a run: nothing may rebind or change them."""
    shared = {name for tree in loaded.values() for name in _module_names(tree)}
    found = sorted(
        f"{module}, line {node.lineno}: {ast.unparse(node)}"
        for module, tree in loaded.items()
        for node in _changes_to(shared, tree)
    )
    assert not found, "a module-level name is changed at run time:\n  " + "\n  ".join(found)


def test_the_rules_catch_what_they_name() -> None:
    """Each rule's reader, on a module that breaks it."""
    tree = ast.parse(
        "from temporalio import client\n"
        "import temporalio.worker\n"
        "SEEN = []\n"
        "def step():\n"
        "    global COUNT\n"
        "    SEEN.append(1)\n"
        "    SEEN[0] = 2\n"
    )
    assert [name for _, name in _sdk_imports(tree)] == ["temporalio.client", "temporalio.worker"]
    changes = sorted(ast.unparse(node) for node in _changes_to(_module_names(tree), tree))
    assert changes == ["SEEN.append", "SEEN[0]", "global COUNT"]


def _sdk_imports(tree: ast.Module) -> Iterator[tuple[ast.stmt, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.partition(".")[0] == "temporalio":
                    yield node, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module == "temporalio":
            for alias in node.names:
                yield node, f"temporalio.{alias.name}"


def _module_names(tree: ast.Module) -> set[str]:
    return {
        target.id
        for statement in tree.body
        if isinstance(statement, ast.Assign | ast.AnnAssign | ast.AugAssign)
        for target in (
            statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        )
        if isinstance(target, ast.Name)
    }


def _changes_to(names: set[str], tree: ast.Module) -> Iterator[ast.AST]:
    """`global` statements, item stores and deletes on `names`, and their mutating methods."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            yield node
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Store | ast.Del)
            and isinstance(node.value, ast.Name)
            and node.value.id in names
        ):
            yield node
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in MUTATORS
            and isinstance(node.value, ast.Name)
            and node.value.id in names
        ):
            yield node
