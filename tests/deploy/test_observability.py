"""Prometheus and Grafana: the dashboard queries only metrics the processes export."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.deploy.support import DEPLOY, REPO

# The instrumentation's contract: what the API's /metrics and the workers' :9464 export.
API_METRICS = {
    "commerce_http_requests_total",
    "commerce_http_request_duration_seconds_bucket",
    "commerce_orders_placed_total",
    "commerce_cart_operations_total",
}
WORKER_METRICS = {
    "commerce_orders_completed_total",
    "commerce_orders_failed_total",
    "commerce_orders_cancelled_total",
    "commerce_saga_step_duration_seconds_bucket",
    "commerce_saga_step_failures_total",
    "commerce_saga_compensations_total",
    "commerce_refunds_total",
    "commerce_saga_cleanups_deferred_total",
    "commerce_saga_cleanups_completed_total",
    "commerce_sagas_stalled_total",
    "commerce_projector_lag_events",
    "commerce_projector_events_total",
    "commerce_dispatcher_lag_events",
    "commerce_webhook_lag_seconds",
    "commerce_webhook_attempts_total",
    "commerce_webhook_deliveries_failed_total",
    "commerce_webhook_subscriptions_disabled_total",
    "commerce_notifications_sent_total",
}
# Temporal SDK (sdk-core) metrics with the `temporal_` prefix, counters `_total`, durations in
# seconds (the names are in the SDK's bridge library).
TEMPORAL_SDK_METRICS = {
    "temporal_workflow_completed_total",
    "temporal_workflow_failed_total",
    "temporal_activity_execution_latency_seconds_bucket",
    "temporal_activity_schedule_to_start_latency_seconds_bucket",
    "temporal_workflow_task_schedule_to_start_latency_seconds_bucket",
    "temporal_worker_task_slots_available",
}
EXPORTED = API_METRICS | WORKER_METRICS | TEMPORAL_SDK_METRICS

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w:$.])([A-Za-z_:][\w:]*)\b(?!\s*\()")
_PROMQL_WORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers outside label matchers, groupings,
    ranges and strings that are not function calls or keywords."""
    expr = _STRING.sub('""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = _GROUPING.sub("", expr)
    return {name for name in _IDENTIFIER.findall(expr) if name.lower() not in _PROMQL_WORDS}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DEPLOY / "grafana/dashboards/commerce.json").read_text())
    return loaded


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def expressions(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in panels(dashboard) for target in panel.get("targets", [])]


def test_metric_name_extraction() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, step) (rate(a_seconds_bucket{step="x"}[$__rate_interval])))'
        " / clamp_min(sum(increase(b_total[1h])) + on(job) c, 1e-9) > bool 0 or up"
    )
    assert metric_names(expr) == {"a_seconds_bucket", "b_total", "c", "up"}
    assert metric_names('sum(rate(x_total{status=~"5.."}[5m])) by (route)') == {"x_total"}


def test_dashboard_queries_only_exported_metrics(dashboard: dict[str, Any]) -> None:
    exprs = expressions(dashboard)
    assert exprs
    for expr in exprs:
        unknown = metric_names(expr) - EXPORTED
        assert not unknown, f"{unknown} in {expr}"


def test_dashboard_shows_every_business_metric(dashboard: dict[str, Any]) -> None:
    used = set().union(*(metric_names(expr) for expr in expressions(dashboard)))
    assert (API_METRICS | WORKER_METRICS) - used == set()


@pytest.mark.parametrize(
    ("topic", "metric"),
    [
        ("orders per second", "commerce_orders_placed_total"),
        ("saga step latency", "commerce_saga_step_duration_seconds_bucket"),
        ("failures by step", "commerce_saga_step_failures_total"),
        ("stalled sagas", "commerce_sagas_stalled_total"),
        ("projector lag", "commerce_projector_lag_events"),
        ("dispatcher lag", "commerce_webhook_lag_seconds"),
        ("dispatcher lag", "commerce_dispatcher_lag_events"),
        ("deliveries failed", "commerce_webhook_deliveries_failed_total"),
        ("api latency", "commerce_http_request_duration_seconds_bucket"),
    ],
)
def test_dashboard_has_a_panel_for(dashboard: dict[str, Any], topic: str, metric: str) -> None:
    matching = [
        panel
        for panel in panels(dashboard)
        if topic in panel["title"].lower()
        and any(metric in metric_names(t["expr"]) for t in panel.get("targets", []))
    ]
    assert matching, f"no panel titled '{topic}' querying {metric}"


def test_panels_use_the_provisioned_datasource(dashboard: dict[str, Any]) -> None:
    provisioned = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    [datasource] = provisioned["datasources"]
    assert datasource["url"] == "http://prometheus:9090"
    for panel in panels(dashboard):
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": datasource["uid"]}
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids))


def test_dashboard_provider_reads_the_mounted_folder() -> None:
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/commerce.yml").read_text())
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    mounts = dict(volume.split(":")[:2] for volume in compose["services"]["grafana"]["volumes"])
    assert mounts["./deploy/grafana/dashboards"] == provider["providers"][0]["options"]["path"]
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"


def test_prometheus_discovers_api_and_every_worker_replica() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    for job, service, port in (
        ("commerce-api", "api", 9466),
        ("commerce-worker", "worker", 9464),
        ("commerce-worker-sdk", "worker", 9465),
    ):
        [discovery] = jobs[job]["dns_sd_configs"]
        assert discovery["names"] == [service] and service in compose
        assert discovery["type"] == "A" and discovery["port"] == port
        assert jobs[job]["metrics_path"] == "/metrics"
