"""docker-compose.yml is wired together: services, files, buckets, ports, secrets and the reload path agree."""

from __future__ import annotations

import re
import shutil
import subprocess
from urllib.parse import urlparse

from adaptml.config import load_config
from adaptml.reload.webhook import create_webhook_app
from adaptml.storage import S3Uri

from .manifests import (
    COMPOSE,
    EMBEDDED_S3_OVERRIDE,
    ROOT,
    Tagged,
    compose,
    dockerfile_stages,
    our_services,
    service_command,
)

SPEC = compose()
SERVICES = SPEC["services"]


def _bind_port(service: str) -> int:
    argv = service_command(SERVICES[service], dockerfile_stages())
    return int(argv[argv.index("--bind") + 1].rsplit(":", 1)[1])


def test_dependencies_exist_and_one_shot_jobs_do_not_restart():
    for name, service in SERVICES.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
            if rule["condition"] == "service_completed_successfully":
                assert SERVICES[dependency]["restart"] == "no", dependency
            if rule["condition"] == "service_healthy":
                assert not SERVICES[dependency].get("healthcheck", {}).get("disable"), dependency


def test_build_targets_files_and_volumes_exist():
    stages = dockerfile_stages()
    assert {s["build"]["target"] for s in our_services().values()} == {"app", "pipeline"} <= set(stages)
    named = set(SPEC.get("volumes", {}))
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), source
            else:
                assert source in named, source


def test_the_setup_script_is_valid_shell_and_seeds_what_the_configs_read():
    script = ROOT / "deploy" / "compose" / "minio-setup.sh"
    shell = shutil.which("sh") or "/bin/sh"
    assert subprocess.run([shell, "-n", str(script)], check=False).returncode == 0
    setup = SERVICES["minio-setup"]["environment"]
    for config_path in sorted((ROOT / "configs").glob("*.yaml")):
        config = load_config(config_path)
        data, registry = S3Uri.parse(config.data.uri), S3Uri.parse(config.registry)
        assert data.bucket == registry.bucket == setup["BUCKET"], config_path
        assert data.key == f"data/{data.name}" and (ROOT / "src" / "adaptml" / "datasets" / data.name).exists()
        assert (
            registry.key
            == setup["REGISTRY_PREFIX"]
            == SERVICES["reload-webhook"]["environment"]["ADAPTML_REGISTRY_PREFIX"]
        )


def test_minio_notifies_the_webhook_which_notifies_the_app():
    minio = SERVICES["minio"]["environment"]
    webhook = SERVICES["reload-webhook"]["environment"]
    app = SERVICES["app"]["environment"]
    target_id = next(k for k in minio if k.startswith("MINIO_NOTIFY_WEBHOOK_ENDPOINT_")).rsplit("_", 1)[1]
    assert f"arn:minio:sqs::{target_id}:webhook" in (ROOT / "deploy" / "compose" / "minio-setup.sh").read_text()
    endpoint = urlparse(minio[f"MINIO_NOTIFY_WEBHOOK_ENDPOINT_{target_id}"])
    assert endpoint.hostname == "reload-webhook" and endpoint.port == _bind_port("reload-webhook")
    routes = {(r.rule, m) for r in create_webhook_app(token="").url_map.iter_rules() for m in r.methods or ()}
    assert (endpoint.path, "POST") in routes
    assert minio[f"MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_{target_id}"] == webhook["ADAPTML_WEBHOOK_TOKEN"]
    (target,) = webhook["ADAPTML_RELOAD_TARGETS"].split(",")
    assert urlparse(target).hostname == "app" and urlparse(target).port == _bind_port("app")
    assert webhook["ADAPTML_RELOAD_SECRET"] == app["ADAPTML_RELOAD_SECRET"]


def test_the_app_and_workers_share_one_dask_scheduler_and_everyone_uses_minio():
    scheduler = service_command(SERVICES["dask-scheduler"], dockerfile_stages())
    port = scheduler[scheduler.index("--port") + 1]
    address = SERVICES["app"]["environment"]["DASK_SCHEDULER_ADDRESS"]
    assert address == f"tcp://dask-scheduler:{port}"
    workers = [name for name in SERVICES if name.startswith("dask-worker")]
    assert len(workers) == 2
    for name in workers:
        assert address in service_command(SERVICES[name], dockerfile_stages())
    for name, service in our_services().items():
        endpoint = service.get("environment", {}).get("AWS_ENDPOINT_URL")
        assert endpoint is None or re.fullmatch(r"http://minio:9000", endpoint), name
    assert "AWS_ENDPOINT_URL" in SERVICES["app"]["environment"]
    assert "AWS_ENDPOINT_URL" in SERVICES["pipeline"]["environment"]


# ---- security defaults (issue 14, point 5) ------------------------------------------------------------------------

RAW = COMPOSE.read_text()
SECRET_NAMES = re.compile(r"(PASSWORD|SECRET|TOKEN|SIGNING_KEY|ACCESS_KEY)")


def test_every_published_port_binds_loopback_only():
    for spec in (SPEC, compose(EMBEDDED_S3_OVERRIDE)):
        for name, service in spec["services"].items():
            ports = service.get("ports", [])
            ports = ports.value if isinstance(ports, Tagged) else ports
            for port in ports:
                assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
    assert "ports" not in SERVICES["dask-scheduler"], "the scheduler is for the compose network only"


def test_every_credential_and_secret_is_required_and_none_is_written_here():
    for name, service in SERVICES.items():
        for key, value in service.get("environment", {}).items():
            if SECRET_NAMES.search(key) or key == "MINIO_ROOT_USER":
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", str(value)), f"{name}.{key} must be ${{VAR:?...}}"
    assert not re.search(r":-[^}]*(secret|token|password)", RAW, re.IGNORECASE), "a default secret is written here"


def test_only_setup_holds_root_the_pipeline_writes_and_the_app_and_webhook_only_read():
    root = SERVICES["minio"]["environment"]["MINIO_ROOT_PASSWORD"]
    for name, service in SERVICES.items():
        env = service.get("environment", {})
        if name not in ("minio", "minio-setup"):
            assert root not in env.values(), f"{name} holds MinIO's root password"
    assert "PUBLISHER" in SERVICES["pipeline"]["environment"]["AWS_ACCESS_KEY_ID"]
    for name in ("app", "reload-webhook"):
        assert "READER" in SERVICES[name]["environment"]["AWS_ACCESS_KEY_ID"], name
    script = (ROOT / "deploy" / "compose" / "minio-setup.sh").read_text()
    assert "policy adaptml-reader GetObject\n" in script
    assert "user reader" in script and "user publisher" in script


def test_dask_workers_inherit_no_credentials_or_secrets_and_dashboards_stay_local():
    for name in ("dask-scheduler", "dask-worker-1", "dask-worker-2"):
        assert not SERVICES[name].get("environment"), f"{name} needs no credentials or secrets"
    scheduler = service_command(SERVICES["dask-scheduler"], dockerfile_stages())
    assert scheduler[scheduler.index("--dashboard-address") + 1].startswith("127.0.0.1:")
    for name in ("dask-worker-1", "dask-worker-2"):
        assert "--no-dashboard" in service_command(SERVICES[name], dockerfile_stages())


def test_the_embedded_s3_override_replaces_minio_and_keeps_the_rest():
    override = compose(EMBEDDED_S3_OVERRIDE)["services"]
    assert set(override) <= set(SERVICES)
    assert override["minio"]["build"]["target"] == "demo" and "demo" in dockerfile_stages()
    assert override["minio"]["command"][:2] == ["adaptml", "s3"]
    assert override["minio"]["depends_on"] == Tagged("!reset", {})  # MinIO waited for the webhook; `s3` need not
    assert override["reload-webhook"]["command"][:2] == ["adaptml", "lambda-local"]
    assert "--target" in override["reload-webhook"]["command"]
    for name in ("app", "pipeline", "dask-scheduler", "dask-worker-1", "dask-worker-2"):
        assert name not in override, f"{name} runs unchanged"


def test_only_the_pipeline_holds_the_private_signing_key_and_the_app_verifies_with_the_public_one():
    pipeline, app = (SERVICES[name]["environment"] for name in ("pipeline", "app"))
    assert "ADAPTML_SIGNING_KEY" in pipeline and "ADAPTML_VERIFY_KEY" not in pipeline
    assert "ADAPTML_VERIFY_KEY" in app and "ADAPTML_SIGNING_KEY" not in app
