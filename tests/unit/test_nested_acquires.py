"""No code asks the pool for a connection while it holds one from the same pool.

Holding one connection and waiting for a second wedges a pool as soon as every connection is held
that way: each holder waits for a connection only another holder could give back. The spending
limit's hold did it (it read the shop's limit through the pool inside its transaction), and a
worker picking up a dozen authorizations at once after a restart stood still until each step's
timeout. Read from the source with `ast` (nothing is imported): inside every
`async with ….acquire() as conn:` block, an awaited call must go through the held connection
(`conn.…`, or `conn` passed on), and a method of the same class it calls must not reach the pool.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.import_graph import PACKAGES, ROOT, TOP_MODULES

_POOLS = ("_pool", "pool")


def _sources() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))
    for module in TOP_MODULES:
        yield ROOT / f"{module}.py"


def _held(block: ast.AsyncWith) -> set[str]:
    """The names an `async with` binds to a connection taken from a pool (`….acquire()`)."""
    names = set()
    for item in block.items:
        call, bound = item.context_expr, item.optional_vars
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
            continue
        if call.func.attr == "acquire" and isinstance(bound, ast.Name):
            names.add(bound.id)
    return names


def _reaches_pool(method: ast.AST, methods: dict[str, ast.AST], seen: frozenset[str]) -> bool:
    """Whether a method touches `self._pool`/`self.pool`, itself or through methods it calls."""
    for node in ast.walk(method):
        if isinstance(node, ast.Attribute) and node.attr in _POOLS:
            if isinstance(node.value, ast.Name) and node.value.id == "self":
                return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target, name = node.func.value, node.func.attr
            is_self = isinstance(target, ast.Name) and target.id == "self"
            if is_self and name in methods and name not in seen:
                if _reaches_pool(methods[name], methods, seen | {name}):
                    return True
    return False


def _second_acquires(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    classes = [node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    methods: dict[str, ast.AST] = {
        item.name: item
        for cls in classes
        for item in cls.body
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    for block in (node for node in ast.walk(tree) if isinstance(node, ast.AsyncWith)):
        held = _held(block)
        if not held:
            continue
        for node in ast.walk(ast.Module(body=block.body, type_ignores=[])):
            if not (isinstance(node, ast.Await) and isinstance(node.value, ast.Call)):
                continue
            call, where = node.value, f"{path.relative_to(ROOT)}:{node.lineno}"
            func = call.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                owner, name = func.value.id, func.attr
                if owner in held:
                    continue  # on the held connection
                if owner == "self" and name in methods:
                    if _reaches_pool(methods[name], methods, frozenset({name})):
                        yield f"{where}: self.{name}(…) reaches the pool"
                    continue
            if any(isinstance(arg, ast.Name) and arg.id in held for arg in call.args):
                continue  # hands the held connection on
            yield f"{where}: {ast.unparse(call)[:90]} does not use the held connection"


def test_no_code_waits_for_a_second_connection_while_holding_one() -> None:
    sources = list(_sources())

    found = [line for path in sources for line in _second_acquires(path)]

    assert len(sources) > 100  # the walk found our packages
    assert not found, "\n".join(found)


def test_the_check_finds_a_method_that_reads_through_the_pool_inside_a_held_block(
    tmp_path: Path,
) -> None:
    wedge = ROOT / "eventstore" / "_wedge_example.py"
    source = """
class Holds:
    async def hold(self):
        async with self._pool.acquire() as conn, conn.transaction():
            await self._decide(conn)

    async def _decide(self, conn):
        return await self._pool.fetchval("SELECT 1")
"""
    wedge.write_text(source)
    try:
        found = list(_second_acquires(wedge))
    finally:
        wedge.unlink()

    assert found == ["eventstore/_wedge_example.py:5: self._decide(…) reaches the pool"]
