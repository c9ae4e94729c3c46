"""Our modules and what each imports, read from the source with `ast` (nothing is imported).

Every import statement counts, wherever it sits: at the top, inside a function (a lazy import is
still a dependency) or under `if TYPE_CHECKING:`. `from package import name` is an edge to
`package.name` when that is one of our modules, else to `package`. A module also imports its
parent packages (Python runs their `__init__.py` first): those edges have line 0.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("domain", "eventstore", "activities", "workflows", "api", "commerce")
TOP_MODULES = ("worker",)


@dataclass(frozen=True)
class Import:
    """`module` imports `target` (one of ours) at `line`; `names` are the names it takes;
    `bound` when the names become attributes of `module` (not inside a function or class)."""

    module: str
    target: str
    line: int
    names: tuple[str, ...] = ()
    bound: bool = True


@dataclass
class ImportGraph:
    """Our modules (dotted names → files) and their imports of each other and of the world."""

    files: dict[str, Path]
    imports: dict[str, list[Import]] = field(default_factory=dict)
    external: dict[str, set[str]] = field(default_factory=dict)  # top-level names of the world's

    @classmethod
    def read(
        cls, root: Path = ROOT, packages: Iterable[str] = PACKAGES, top: Iterable[str] = TOP_MODULES
    ) -> ImportGraph:
        files = {name: path for package in packages for name, path in _modules(root, package)}
        files |= {name: root / f"{name}.py" for name in top if (root / f"{name}.py").is_file()}
        graph = cls(files)
        for name, path in files.items():
            graph._read(name, path)
        return graph

    def _read(self, module: str, path: Path) -> None:
        found: list[Import] = []
        external: set[str] = set()
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node, bound in _import_statements(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self._add(found, external, module, alias.name, node.lineno, (), bound)
                continue
            source = _absolute(node, package)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in self.files:
                    self._add(found, external, module, submodule, node.lineno, (), bound)
                else:
                    self._add(found, external, module, source, node.lineno, (alias.name,), bound)
        parents = module.split(".")[:-1]
        for depth in range(len(parents), 0, -1):
            if (parent := ".".join(parents[:depth])) in self.files:
                found.append(Import(module, parent, 0, (), False))
        self.imports[module] = found
        self.external[module] = external

    def _add(
        self, found: list[Import], external: set[str], module: str, name: str, line: int,
        names: tuple[str, ...], bound: bool,
    ) -> None:  # fmt: skip
        target = self.ours(name)
        if target is None:
            external.add(name.partition(".")[0])
        elif target != module:
            found.append(Import(module, target, line, names, bound))

    def ours(self, name: str) -> str | None:
        """The module of ours that `name` (a dotted import path) loads, or None."""
        while name and name not in self.files:
            name = name.rpartition(".")[0]
        return name or None

    def targets(self, module: str) -> set[str]:
        return {found.target for found in self.imports[module]}

    def reachable(self, module: str) -> set[str]:
        """Every module of ours that importing `module` loads, `module` included."""
        seen, todo = {module}, [module]
        while todo:
            for target in self.targets(todo.pop()) - seen:
                seen.add(target)
                todo.append(target)
        return seen

    def circles(self) -> list[list[str]]:
        """Each group of modules that import each other, directly or through others (Tarjan's
        strongly connected components of more than one module), sorted."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        groups: list[list[str]] = []

        def visit(module: str) -> None:
            index[module] = low[module] = len(index)
            stack.append(module)
            for target in sorted(self.targets(module)):
                if target not in index:
                    visit(target)
                    low[module] = min(low[module], low[target])
                elif target in stack:
                    low[module] = min(low[module], index[target])
            if low[module] == index[module]:
                group = []
                while (member := stack.pop()) != module:
                    group.append(member)
                group.append(module)
                if len(group) > 1:
                    groups.append(sorted(group))

        for module in sorted(self.files):
            if module not in index:
                visit(module)
        return sorted(groups)

    def path_between(self, start: str, goal: str, within: set[str]) -> list[str]:
        """A shortest import path from `start` to `goal` through `within` (for messages)."""
        paths = {start: [start]}
        todo = [start]
        while todo:
            module = todo.pop(0)
            for target in sorted(self.targets(module) & within):
                if target not in paths:
                    paths[target] = [*paths[module], target]
                    todo.append(target)
        return paths.get(goal, [])

    def defined_in(self, module: str, name: str) -> str:
        """The module of ours where `name`, imported from `module`, is defined: followed through
        re-exports (`from elsewhere import name` at the top of `module`)."""
        for _ in range(len(self.files)):
            found = (i.target for i in self.imports[module] if i.bound and name in i.names)
            origin = next(found, None)
            if origin is None:
                return module
            module = origin
        return module


def _import_statements(tree: ast.Module) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement, and whether it binds module attributes (not in a def or class)."""
    todo: list[tuple[ast.AST, bool]] = [(tree, True)]
    while todo:
        node, bound = todo.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, bound
        inner = bound and not isinstance(
            node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
        )
        todo.extend((child, inner) for child in ast.iter_child_nodes(node))


def _modules(root: Path, package: str) -> Iterator[tuple[str, Path]]:
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def package_of(module: str) -> str:
    return module.partition(".")[0]
