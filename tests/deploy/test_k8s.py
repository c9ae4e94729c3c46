"""deploy/k8s: every manifest validates against the Kubernetes schemas (offline, strict)."""

from __future__ import annotations

import copy
import re
import secrets
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError

from commerce.payload_codec import new_key_spec
from commerce.settings import Settings
from tests.deploy.support import DEPLOY, REPO, is_known_env

K8S = DEPLOY / "k8s"
KUBERNETES_VERSION = "1.30"
Resource = dict[str, Any]


def load(path: Path) -> list[Resource]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


@pytest.fixture(scope="module")
def kustomization() -> Resource:
    return load(K8S / "kustomization.yaml")[0]


@pytest.fixture(scope="module")
def resources(kustomization: Resource) -> list[Resource]:
    return [document for name in kustomization["resources"] for document in load(K8S / name)]


def find(resources: list[Resource], kind: str, name: str) -> Resource:
    [resource] = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    return resource


def pod_spec(resource: Resource) -> Resource:
    spec: Resource = resource["spec"]["template"]["spec"]
    return spec


def test_kustomization_lists_every_manifest_in_the_folder(kustomization: Resource) -> None:
    listed = set(kustomization["resources"])
    on_disk = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk
    assert kustomization["namespace"] == "commerce"


def test_every_manifest_validates_against_the_schemas(resources: list[Resource]) -> None:
    for resource in resources:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def test_validation_rejects_a_misspelt_field(resources: list[Resource]) -> None:
    broken = copy.deepcopy(find(resources, "Deployment", "commerce-api"))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_everything_lives_in_the_commerce_namespace(resources: list[Resource]) -> None:
    find(resources, "Namespace", "commerce")
    for resource in resources:
        if resource["kind"] != "Namespace":
            assert resource["metadata"]["namespace"] == "commerce", resource["metadata"]["name"]


def test_api_deployment_probes_and_replicas(resources: list[Resource]) -> None:
    api = find(resources, "Deployment", "commerce-api")
    assert api["spec"]["replicas"] == 2
    [container] = pod_spec(api)["containers"]
    assert container["command"] == ["commerce", "api"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert {"name": "http", "containerPort": 8084, "protocol": "TCP"} in container["ports"]
    service = find(resources, "Service", "commerce-api")
    assert service["spec"]["selector"] == api["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_worker_deployment_exposes_metrics_and_probes_them(resources: list[Resource]) -> None:
    worker = find(resources, "Deployment", "commerce-worker")
    [container] = pod_spec(worker)["containers"]
    assert container["command"] == ["commerce", "worker"]
    assert {"name": "metrics", "containerPort": 9464, "protocol": "TCP"} in container["ports"]
    assert {"name": "sdk-metrics", "containerPort": 9465, "protocol": "TCP"} in container["ports"]
    for probe in ("readinessProbe", "livenessProbe"):
        action = container[probe].get("httpGet") or container[probe]["tcpSocket"]
        assert action["port"] in {"metrics", 9464}


def test_worker_autoscales_on_cpu(resources: list[Resource]) -> None:
    hpa = find(resources, "HorizontalPodAutoscaler", "commerce-worker")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "commerce-worker",
    }  # fmt: skip
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"
    text = (K8S / "worker.yaml").read_text()
    assert "backlog" in text and "temporal_activity_schedule_to_start_latency" in text


def test_migration_job_runs_commerce_migrate(resources: list[Resource]) -> None:
    job = find(resources, "Job", "commerce-migrate")
    [container] = pod_spec(job)["containers"]
    assert container["command"] == ["commerce", "migrate"]  # schema and search attributes
    assert pod_spec(job)["restartPolicy"] in {"OnFailure", "Never"}
    assert "initContainers" not in pod_spec(job)


def workloads(resources: list[Resource]) -> list[Resource]:
    return [r for r in resources if r["kind"] in {"Deployment", "Job"}]


def test_every_container_is_unprivileged_and_bounded(resources: list[Resource]) -> None:
    for workload in workloads(resources):
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] != 0
        for container in spec["containers"] + spec.get("initContainers", []):
            limits, requests = container["resources"]["limits"], container["resources"]["requests"]
            assert {"cpu", "memory"} <= set(limits) and {"cpu", "memory"} <= set(requests)
            assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_pods_carry_prometheus_scrape_annotations(resources: list[Resource]) -> None:
    for name, port in (("commerce-api", 9466), ("commerce-worker", 9464)):
        deployment = find(resources, "Deployment", name)
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(port)
        assert annotations["prometheus.io/path"] == "/metrics"
        ports = [p["containerPort"] for p in pod_spec(deployment)["containers"][0]["ports"]]
        assert port in ports


# The Secret docs/production.md has the operator create, by name: `--from-literal=NAME=...`.
PRODUCTION_GUIDE = REPO / "docs" / "production.md"


def guide_secret_names() -> list[str]:
    return re.findall(r"--from-literal=(\w+)=", PRODUCTION_GUIDE.read_text())


def generated_secrets() -> dict[str, str]:
    values = {name: secrets.token_hex(32) for name in guide_secret_names()}
    values["COMMERCE_PAYLOAD_KEYS"] = new_key_spec("k1")
    password = secrets.token_hex(16)
    values["COMMERCE_DATABASE_URL"] = f"postgresql://commerce:{password}@postgres:5432/commerce"
    return values


def test_no_manifest_carries_a_secret(resources: list[Resource]) -> None:
    assert not [r for r in resources if r["kind"] == "Secret"]
    config = find(resources, "ConfigMap", "commerce-settings")["data"]
    secret_like = re.compile(r"SECRET|PASSWORD|_KEYS?$|DATABASE_URL")
    assert not [name for name in config if secret_like.search(name)]
    names = set(guide_secret_names())
    required = {"COMMERCE_JWT_SECRET", "COMMERCE_PAYLOAD_KEYS", "COMMERCE_CUSTOMER_KEY_SECRET"}
    assert required | {"COMMERCE_DATABASE_URL"} <= names
    assert "openssl rand" in PRODUCTION_GUIDE.read_text()


def test_app_containers_read_settings_that_exist(resources: list[Resource]) -> None:
    config = find(resources, "ConfigMap", "commerce-settings")["data"]
    secret = set(guide_secret_names())
    assert not secret & set(config)
    assert config["COMMERCE_ENVIRONMENT"] == "production"
    unknown = [name for name in {*config, *secret} if not is_known_env(name)]
    assert not unknown, unknown
    for workload in workloads(resources):
        app = [c for c in pod_spec(workload)["containers"] if c["image"].startswith("commerce:")]
        for container in app:
            sources = {next(iter(source.values()))["name"] for source in container["envFrom"]}
            assert sources == {"commerce-settings", "commerce-secrets"}
            assert all(is_known_env(entry["name"]) for entry in container.get("env", []))


def test_settings_accept_the_configmap_and_the_secrets_the_readme_creates(
    resources: list[Resource], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = find(resources, "ConfigMap", "commerce-settings")["data"]
    for name, value in {**config, **generated_secrets()}.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.environment == "production"
    assert settings.jwt_audience and settings.jwt_issuer
    assert all(settings.is_external(s) for s in ("database_url", "redis_url", "temporal_address"))
    assert settings.sandbox_refusal() is None  # the API and workers start


def test_the_configmap_alone_does_not_start(
    resources: list[Resource], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in find(resources, "ConfigMap", "commerce-settings")["data"].items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as refused:
        Settings()
    for name in ("COMMERCE_JWT_SECRET", "COMMERCE_PAYLOAD_KEYS", "COMMERCE_CUSTOMER_KEY_SECRET"):
        assert name in str(refused.value)


def test_every_container_has_a_read_only_root_filesystem(resources: list[Resource]) -> None:
    containers = [c for w in workloads(resources) for c in pod_spec(w)["containers"]]
    assert len(containers) == 3
    for container in containers:
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, container["name"]


def test_temporal_tls_files_are_mounted_where_the_configmap_names_them(
    resources: list[Resource],
) -> None:
    mount_path = "/etc/commerce/temporal-tls"
    named = re.findall(r"# (TEMPORAL_TLS_\w+_PATH): (\S+)", (K8S / "configmap.yaml").read_text())
    assert len(named) == 3
    for name, path in named:
        assert is_known_env(name) and path.startswith(mount_path + "/"), name
    for workload in workloads(resources):
        spec = pod_spec(workload)
        [volume] = [v for v in spec["volumes"] if v["name"] == "temporal-tls"]
        assert volume["secret"] == {"secretName": "commerce-temporal-tls", "optional": True}
        [container] = spec["containers"]
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        assert mounts["temporal-tls"] == {
            "name": "temporal-tls", "mountPath": mount_path, "readOnly": True,
        }  # fmt: skip


def _policy_for(resources: list[Resource], workload: Resource) -> Resource:
    labels = workload["spec"]["template"]["metadata"]["labels"]
    [policy] = [
        r
        for r in resources
        if r["kind"] == "NetworkPolicy"
        and r["spec"]["podSelector"].get("matchLabels")
        and r["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    ]
    return policy


def _ports(rules: list[Resource]) -> set[int]:
    return {port["port"] for rule in rules for port in rule.get("ports", [])}


def test_network_policies_deny_everything_but_what_each_workload_needs(
    resources: list[Resource],
) -> None:
    deny = find(resources, "NetworkPolicy", "default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    api, worker, migrate = (
        _policy_for(resources, find(resources, kind, name))["spec"]
        for kind, name in (
            ("Deployment", "commerce-api"),
            ("Deployment", "commerce-worker"),
            ("Job", "commerce-migrate"),
        )
    )
    assert _ports(api["ingress"]) == {8084}
    assert _ports(worker["ingress"]) == {9464, 9465}  # metrics only: the API never calls it
    assert all(rule.get("from") for rule in worker["ingress"])
    assert not migrate.get("ingress")
    servers = {53, 5432, 7233}
    assert _ports(api["egress"]) == servers | {6379, 4318}
    assert _ports(worker["egress"]) == servers | {6379, 4318, 443}  # Redis: retry carts
    assert _ports(migrate["egress"]) == servers
    for policy in (api, worker, migrate):
        assert policy["policyTypes"] == ["Ingress", "Egress"]
