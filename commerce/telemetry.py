"""OpenTelemetry tracing: HTTP → Temporal client → workflow → activities → SQL and Redis.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set: then no tracer provider is installed, nothing
is patched and the SDK is not even imported, so tests and benchmarks pay nothing for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import trace

from commerce.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider


def current_trace_id() -> str | None:
    """The active span's trace id as 32 hex digits, or None outside a recorded trace."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


@dataclass
class Tracing:
    """A tracer provider and the instrumentation wired to it; `shutdown` undoes both."""

    provider: TracerProvider

    def temporal_interceptors(self) -> Sequence[Any]:
        """For `Client.connect(interceptors=…)`: workers built on that client trace too."""
        from temporalio.contrib.opentelemetry import TracingInterceptor

        return [TracingInterceptor(self.provider.get_tracer("temporalio"))]

    def instrument_app(self, app: FastAPI) -> None:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            app, tracer_provider=self.provider, excluded_urls="/metrics,/health/.*"
        )

    def shutdown(self) -> None:
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        AsyncPGInstrumentor().uninstrument()
        RedisInstrumentor().uninstrument()
        self.provider.shutdown()


def configure_tracing(
    service_name: str, settings: Settings, span_processor: SpanProcessor | None = None
) -> Tracing | None:
    """Trace this process over OTLP when configured, or into `span_processor` (tests).

    Instruments asyncpg and redis-py for the whole process; the FastAPI app and the Temporal
    client are wired by the caller with `instrument_app` and `temporal_interceptors`.
    """
    if span_processor is None and not settings.otel_exporter_otlp_endpoint:
        return None
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = settings.otel_service_name or service_name
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    if span_processor is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)  # once per process; tests keep theirs local
    else:
        provider.add_span_processor(span_processor)
    AsyncPGInstrumentor().instrument(tracer_provider=provider)
    RedisInstrumentor().instrument(tracer_provider=provider)
    return Tracing(provider)
