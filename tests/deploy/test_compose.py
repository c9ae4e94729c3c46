"""docker-compose.yml: the production-shaped stack converges and every app process is configured."""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from commerce.embedded import SEARCH_ATTRIBUTES
from commerce.payload_codec import new_key_spec
from commerce.settings import Settings
from tests.deploy.support import DEPLOY, REPO, is_known_env

APP_SERVICES = {"migrate": "migrate", "api": "api", "worker": "worker", "codec": "codec-server"}
ALL_SERVICES = {
    "postgres", "redis", "temporal", "temporal-ui", "migrate", "api", "worker",
    "prometheus", "grafana", "jaeger",
}  # fmt: skip
REQUIRED_APP_ENV = {
    "COMMERCE_DATABASE_URL", "COMMERCE_REDIS_URL", "TEMPORAL_ADDRESS",
    "COMMERCE_ENVIRONMENT", "COMMERCE_JWT_SECRET", "COMMERCE_PAYLOAD_KEYS",
    "COMMERCE_CUSTOMER_KEY_SECRET", "COMMERCE_JWT_ISSUER", "COMMERCE_JWT_AUDIENCE",
    "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME",
}  # fmt: skip
# What the operator exports before `docker compose up` (docs/production.md, "Docker Compose").
OPERATOR_SECRETS = {
    "COMMERCE_JWT_SECRET": secrets.token_hex(32),
    "COMMERCE_PAYLOAD_KEYS": new_key_spec("k1"),
    "COMMERCE_CUSTOMER_KEY_SECRET": secrets.token_hex(32),
    "POSTGRES_PASSWORD": secrets.token_hex(24),
    "GRAFANA_ADMIN_PASSWORD": secrets.token_hex(16),
}
# Variables whose value is a secret: compose must take them from the operator, with no default.
_SECRET_NAME = re.compile(r"PASSWORD|PWD|SECRET|_KEYS?$|API_KEY")
# Jaeger's OTLP receivers, by the protocol the exporter speaks.
OTLP_PORTS = {"grpc": "http://jaeger:4317", "http/protobuf": "http://jaeger:4318"}
_INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:-|:\?)(?P<arg>[^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's `${X:-default}` / `${X:?error}` / `$$`, enough to check the values we write."""

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if name in env:
            return env[name]
        if op == ":-":
            return arg
        raise KeyError(f"{name} is required: {arg}")

    return _INTERPOLATION.sub(replace, value.replace("$$", "\0")).replace("\0", "$")


def test_every_service_of_the_stack_is_defined(services: dict[str, Any]) -> None:
    assert ALL_SERVICES <= set(services)


def test_images_are_the_real_servers(services: dict[str, Any]) -> None:
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["temporal"]["image"].startswith("temporalio/auto-setup:")
    assert services["temporal-ui"]["image"].startswith("temporalio/ui:")
    assert services["prometheus"]["image"].startswith("prom/prometheus:")
    assert services["grafana"]["image"].startswith("grafana/grafana:")
    assert services["jaeger"]["image"].startswith("jaegertracing/all-in-one:")


def test_app_services_build_one_image_and_run_their_command(services: dict[str, Any]) -> None:
    images = {services[name]["image"] for name in APP_SERVICES}
    assert len(images) == 1
    for name, command in APP_SERVICES.items():
        service = services[name]
        assert service["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}
        assert (REPO / service["build"]["dockerfile"]).is_file()
        assert service["command"] == ["commerce", command]
    assert services["migrate"]["restart"] == "no"


def test_temporal_persists_in_postgres(services: dict[str, Any]) -> None:
    env = services["temporal"]["environment"]
    assert env["DB"] == "postgres12"
    assert env["POSTGRES_SEEDS"] == "postgres"
    assert services["temporal"]["depends_on"]["postgres"]["condition"] == "service_healthy"


@pytest.mark.parametrize(
    ("service", "probe"),
    [
        ("postgres", "pg_isready"),
        ("redis", "redis-cli ping"),
        ("temporal", "operator cluster health"),
        ("api", "/health/ready"),
    ],
)
def test_servers_and_api_have_health_checks(
    services: dict[str, Any], service: str, probe: str
) -> None:
    test = services[service]["healthcheck"]["test"]
    assert test[0] in {"CMD", "CMD-SHELL"}
    assert probe in " ".join(test[1:])


def test_api_waits_for_healthy_servers_and_a_migrated_schema(services: dict[str, Any]) -> None:
    depends = services["api"]["depends_on"]
    for server in ("postgres", "redis", "temporal"):
        assert depends[server]["condition"] == "service_healthy"
    assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert services["worker"]["depends_on"] == depends
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_every_depends_on_names_a_service_and_a_condition(services: dict[str, Any]) -> None:
    for name, service in services.items():
        depends = service.get("depends_on", {})
        for target, spec in depends.items() if isinstance(depends, dict) else []:
            assert target in services, f"{name} depends on unknown {target}"
            assert spec["condition"] in {
                "service_started", "service_healthy", "service_completed_successfully",
            }  # fmt: skip
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[target], f"{target} has no health check"


def test_api_listens_on_all_interfaces_and_publishes_8084(services: dict[str, Any]) -> None:
    api = services["api"]
    assert api["environment"]["COMMERCE_API_HOST"] == "0.0.0.0"
    assert "8084:8084" in api["ports"]
    assert ["9466"] == [str(port) for port in api["expose"]]  # metrics: never published
    assert api["environment"]["COMMERCE_API_METRICS_HOST"] == "0.0.0.0"


def test_worker_has_no_host_port_so_it_scales(services: dict[str, Any]) -> None:
    worker = services["worker"]
    assert "ports" not in worker
    assert "container_name" not in worker
    assert {"9464", "9465"} <= {str(port) for port in worker["expose"]}
    env = worker["environment"]
    assert env["COMMERCE_WORKER_METRICS_PORT"] == "9464"
    assert env["COMMERCE_WORKER_SDK_METRICS_PORT"] == "9465"
    assert env["COMMERCE_WORKER_METRICS_HOST"] == "0.0.0.0"  # reachable by Prometheus


def test_ui_ports(services: dict[str, Any]) -> None:
    assert "127.0.0.1:8233:8080" in services["temporal-ui"]["ports"]
    assert "127.0.0.1:16686:16686" in services["jaeger"]["ports"]
    assert services["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"


def test_only_the_api_listens_beyond_this_machine(services: dict[str, Any]) -> None:
    for name in ("postgres", "redis", "worker", "migrate"):
        assert "ports" not in services[name], f"{name} publishes a host port"
    for name, service in services.items():
        for port in service.get("ports", []):
            if name == "api":
                assert port == "8084:8084"
            else:
                assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} to all"
    assert {"temporal", "temporal-ui", "grafana", "codec"} <= {
        name for name, service in services.items() if service.get("ports")
    }


def test_secrets_and_passwords_come_from_the_operator_with_no_default(
    services: dict[str, Any],
) -> None:
    checked = 0
    for name, service in services.items():
        for var, value in (service.get("environment") or {}).items():
            used = [
                m for m in _INTERPOLATION.finditer(str(value)) if _SECRET_NAME.search(m["name"])
            ]
            if _SECRET_NAME.search(var) or used:
                checked += 1
                assert used, f"{name}: {var} is written in the file"
                for match in used:
                    optional = match["name"] == "COMMERCE_CARRIER_WEBHOOK_SECRET"  # 503 without
                    expected = ":-" if optional and match["arg"] == "" else ":?"
                    assert match["op"] == expected, f"{name}: {var} has a default"
    assert checked >= 10
    for var in OPERATOR_SECRETS:
        interpolate(f"${{{var}}}", OPERATOR_SECRETS)  # each is documented and given below


def test_every_app_service_is_configured_for_production(services: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert REQUIRED_APP_ENV <= set(env), f"{name} misses {REQUIRED_APP_ENV - set(env)}"
        assert env["COMMERCE_ENVIRONMENT"] == "production"
        assert env["COMMERCE_JWT_SECRET"].startswith("${COMMERCE_JWT_SECRET:?")
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == OTLP_PORTS[env["OTEL_EXPORTER_OTLP_PROTOCOL"]]
        assert env["OTEL_SERVICE_NAME"] == f"commerce-{name}"


def test_every_app_env_var_is_a_real_setting(services: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        unknown = [var for var in services[name]["environment"] if not is_known_env(var)]
        assert not unknown, f"{name} sets variables no setting reads: {unknown}"


def test_app_env_is_accepted_by_settings(
    services: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(KeyError, match="COMMERCE_JWT_SECRET"):
        interpolate(services["api"]["environment"]["COMMERCE_JWT_SECRET"], {})
    for name in APP_SERVICES:
        for var, value in services[name]["environment"].items():
            monkeypatch.setenv(var, interpolate(str(value), OPERATOR_SECRETS))
        settings = Settings()
        assert settings.environment == "production"
        assert {"database_url", "redis_url", "temporal_address"} == {
            server for server in ("database_url", "redis_url", "temporal_address")
            if settings.is_external(server)
        }  # fmt: skip
        assert settings.database_url.endswith("@postgres:5432/commerce")
        assert settings.temporal_address == "temporal:7233"
        assert settings.sandbox_refusal() is None  # the API and workers start


def test_an_example_secret_from_this_repository_is_refused(
    services: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The placeholder deploy/k8s/secret.yaml used to ship, copied by a careless operator.
    given = {**OPERATOR_SECRETS, "COMMERCE_JWT_SECRET": "REPLACE-ME-with-a-long-random-string"}
    for var, value in services["api"]["environment"].items():
        monkeypatch.setenv(var, interpolate(str(value), given))
    with pytest.raises(ValidationError, match="COMMERCE_JWT_SECRET: is a value published"):
        Settings()


def test_migrate_registers_the_search_attributes_before_the_app_starts(
    services: dict[str, Any],
) -> None:
    assert set(SEARCH_ATTRIBUTES) == {"OrderStatus", "CustomerId", "OrderTotal", "ReturnStatus"}
    assert services["migrate"]["depends_on"]["temporal"]["condition"] == "service_healthy"
    assert "temporal-setup" not in services  # `commerce migrate` does it, with the app's TLS
    for app in ("api", "worker"):
        condition = services[app]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully"


def test_observability_config_files_are_mounted(services: dict[str, Any]) -> None:
    mounts = services["prometheus"]["volumes"] + services["grafana"]["volumes"]
    sources = {mount.split(":")[0] for mount in mounts if mount.startswith("./")}
    assert sources == {
        "./deploy/prometheus/prometheus.yml",
        "./deploy/grafana/provisioning",
        "./deploy/grafana/dashboards",
    }
    for source in sources:
        assert (REPO / source).exists(), source
    assert (DEPLOY / "grafana/dashboards/commerce.json").is_file()


def test_named_volumes_are_declared(compose: dict[str, Any], services: dict[str, Any]) -> None:
    for service in services.values():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if not source.startswith(("./", "/")):
                assert source in compose["volumes"], source


def strings(node: object) -> list[str]:
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in strings(key) + strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return [node] if isinstance(node, str) else []


def test_every_dollar_is_an_interpolation_or_escaped(compose: dict[str, Any]) -> None:
    # Compose would read a bare `$name` in a shell script as one of its own variables.
    for value in strings(compose):
        assert "$" not in _INTERPOLATION.sub("", value.replace("$$", "")), value
