"""JSON logs, one event per line, with the order, request and trace context carried on each
record, and no URL password in any line (`commerce.redaction`)."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

from temporalio import activity

from commerce.redaction import redacted
from commerce.telemetry import current_trace_id
from workflows.contract import order_workflow_id

_CONTEXT_FIELDS = (
    "request_id", "order_id", "workflow_id", "activity", "attempt", "trace_id", "customer_id",
)  # fmt: skip

# The id of the HTTP request being served (set by the API's RequestContext middleware).
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redacted(record.getMessage()),
        }
        for name in _CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = redacted(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """Plain lines (`COMMERCE_LOG_JSON=false`), redacted like the JSON ones."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redacted(super().format(record))


class ContextFilter(logging.Filter):
    """Fills the trace id from the current span and, inside a Temporal activity, the order id,
    workflow id, activity and attempt from its info; fields a caller passed in `extra` win."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "trace_id", None) is None:
            record.trace_id = current_trace_id()
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id.get()
        if activity.in_activity():
            info = activity.info()
            for name, value in (
                ("workflow_id", info.workflow_id),
                ("order_id", order_id_of(info.workflow_id or "")),
                ("activity", info.activity_type),
                ("attempt", info.attempt),
            ):
                if getattr(record, name, None) is None:
                    setattr(record, name, value)
        return True


def order_id_of(workflow_id: str) -> str | None:
    """The order behind a saga's workflow id (`order-<order_id>`), None for other workflows."""
    prefix = order_workflow_id("")
    return workflow_id.removeprefix(prefix) if workflow_id.startswith(prefix) else None


def context_handler(stream: TextIO = sys.stderr, as_json: bool = True) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if as_json else TextFormatter())
    return handler


def configure_logging(level: str = "INFO", as_json: bool = True) -> None:
    handler = context_handler(sys.stderr, as_json)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
