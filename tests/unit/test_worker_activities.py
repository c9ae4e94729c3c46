"""The worker registers every activity that `activities/` defines, each once.

The list lives in worker.py (the composition root), apart from the classes: an activity added
to a class but not to the list would only show when a workflow schedules it and no worker
knows it.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path
from typing import Any

from activities.ports import SagaPorts
from worker import saga_activities

ACTIVITIES = Path(__file__).resolve().parents[2] / "activities"


def _is_activity(decorator: ast.expr) -> bool:
    call = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(call, ast.Attribute) and call.attr == "defn"


def _defined() -> set[str]:
    """`Class.method` of every `@activity.defn` method in activities/, read from the source."""
    found = set()
    for path in ACTIVITIES.glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef):
                found |= {
                    f"{node.name}.{method.name}"
                    for method in node.body
                    if isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef)
                    and any(_is_activity(d) for d in method.decorator_list)
                }
    return found


def test_every_activity_defined_is_registered_once() -> None:
    unused: Any = None  # the classes only keep their ports; nothing is called here
    ports = SagaPorts(unused, unused, unused, unused, unused, unused)

    registered = Counter(activity.__qualname__ for activity in saga_activities(ports))

    assert len(_defined()) >= 30  # the source walk found the activity classes
    assert set(registered) == _defined(), "worker.saga_activities lists every activity, only those"
    assert registered.most_common(1)[0][1] == 1
