"""No two of our modules import each other, directly or through others.

A circle makes the import order matter (the first module sees the second half-built) and hides
which of the two is the lower layer; a lazy import inside a function only hides the circle, so
every import statement counts (see tests/import_graph.py).
"""

from __future__ import annotations

from pathlib import Path

from tests.import_graph import ImportGraph


def _circle_message(graph: ImportGraph, group: list[str]) -> str:
    members = set(group)
    lines = [f"  {' ↔ '.join(group)}"]
    edges = {(i.module, i.line, i.target) for m in group for i in graph.imports[m]}
    for module, line, target in sorted(edge for edge in edges if edge[2] in members):
        where = f"line {line}" if line else "as its package"
        lines.append(f"    {module}, {where}: imports {target}")
    return "\n".join(lines)


def test_no_import_circle_among_our_modules() -> None:
    graph = ImportGraph.read()

    circles = graph.circles()

    assert len(graph.files) > 100  # the walk found our packages
    assert not circles, "import circles (break each: move the shared part down a layer):\n" + (
        "\n".join(_circle_message(graph, group) for group in circles)
    )


def test_a_circle_through_a_lazy_import_is_found(tmp_path: Path) -> None:
    package = tmp_path / "shop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "ports.py").write_text("def bound():\n    from shop.steps import Steps\n")
    (package / "steps.py").write_text("from shop import helpers\n")
    (package / "helpers.py").write_text("from shop.ports import bound\n")
    (package / "alone.py").write_text("import shop.helpers\n")

    graph = ImportGraph.read(tmp_path, packages=["shop"], top=[])

    assert graph.circles() == [["shop.helpers", "shop.ports", "shop.steps"]]


def test_a_package_that_imports_its_own_modules_is_a_circle(tmp_path: Path) -> None:
    package = tmp_path / "shop"
    package.mkdir()
    (package / "__init__.py").write_text("from shop.steps import ALL\n")  # a registry
    (package / "steps.py").write_text("ALL = []\n")

    graph = ImportGraph.read(tmp_path, packages=["shop"], top=[])

    assert graph.circles() == [["shop", "shop.steps"]]
