"""The Helm chart: lint, render with every values file, validate against Kubernetes schemas offline,
and check what the chart promises (settings, probes, hardening, GPU, NATS cluster, required values)."""
from __future__ import annotations

import ast
import asyncio
import base64
import importlib
import json
import math
import re
import subprocess
from urllib.parse import urlparse

import kubernetes_validate
import pytest

from emopulse.runtime.settings import Settings
from emopulse.stack import SERVICES
from tests.deploy.conftest import CHART, CI_VALUES, REPO, helm_template, render

VALUES = ["default", *[p.name for p in CI_VALUES]]
# Every component the chart runs from components.yaml: the embedded stack's services, the pulse among them.
CHART_SERVICES = tuple(dict.fromkeys((*SERVICES, "pulse")))
# The live-stream settings (values.yaml `settings`), read by every service.
LIVE_SETTINGS = ("ENDPOINT_MS", "PARTIAL_EVERY_S", "SOURCE_TIMEOUT_S", "RECONNECT_BUDGET_S", "RECONNECT_MAX_DELAY_S",
                 "LEASE_TTL_S", "LAG_WARNING_S", "STREAMS_PER_INGEST", "STREAM_RETENTION_S")
# The pulse's settings (values.yaml `settings`: the gateway checks alert rules against the windows too).
PULSE_SETTINGS = ("PULSE_WINDOWS_S", "PULSE_EVERY_S", "WEBHOOK_TIMEOUT_S", "WEBHOOK_ATTEMPTS")
WORKLOADS = ("Deployment", "StatefulSet")
# Validated against the oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest
# schema kubernetes-validate ships.
K8S_VERSIONS = ("1.27.0", kubernetes_validate.utils.latest_version())
# Prometheus Operator CRDs have no schema in kubernetes-validate: checked structurally below.
CRDS = {("monitoring.coreos.com/v1", "ServiceMonitor"), ("monitoring.coreos.com/v1", "PodMonitor")}
# The settings the chart sets itself; every other setting comes from `settings` in values.
MANAGED = {"EMOPULSE_NATS_URL", "EMOPULSE_STREAM_REPLICAS", "EMOPULSE_TRITON_URL", "EMOPULSE_GRPC_PORT", "EMOPULSE_METRICS_PORT",
           "EMOPULSE_DATA_DIR", "EMOPULSE_STORAGE", "EMOPULSE_S3_BUCKET", "EMOPULSE_S3_ENDPOINT_URL",
           "EMOPULSE_S3_REGION", "EMOPULSE_HISTORY_URL", "EMOPULSE_TLS_CERT", "EMOPULSE_TLS_KEY", "EMOPULSE_TLS_CLIENT_CA"}
# Accounts and safety: AUTH and AUTH_CACHE_S (values `settings`), the gateway's TLS files (components.gateway.tls).
ACCOUNT_SETTINGS = {"EMOPULSE_AUTH", "EMOPULSE_AUTH_CACHE_S", "EMOPULSE_TLS_CERT", "EMOPULSE_TLS_KEY", "EMOPULSE_TLS_CLIENT_CA"}
# What a service cannot run without (the storage ones when storage.type=s3).
NEEDED = {"EMOPULSE_NATS_URL", "EMOPULSE_GRPC_PORT", "EMOPULSE_METRICS_PORT", "EMOPULSE_DATA_DIR",
          "EMOPULSE_STORAGE"}


def setting_names() -> set[str]:
    return set(Settings.env_names())


def pod_spec(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def service_models(name: str) -> tuple[str, ...]:
    """The Triton models a service says it needs (its service class's `models`)."""
    module = importlib.import_module(f"services.{name}.service")
    found = {cls.models for cls in vars(module).values()
             if isinstance(cls, type) and cls.__module__ == module.__name__ and "models" in vars(cls)}
    assert len(found) == 1, (name, found)
    return found.pop()


def model_env_names() -> set[str]:
    """EMOPULSE_* variables the Triton models (and the weights cache they use) read."""
    names = {"EMOPULSE_CACHE_DIR"}
    for path in (REPO / "models").glob("*/1/model.py"):
        names |= set(re.findall(r"EMOPULSE_[A-Z0-9_]+", path.read_text()))
    return names


def test_lint_strict(helm):
    for args in ([], *(["-f", str(p)] for p in CI_VALUES)):
        proc = subprocess.run([helm, "lint", "--strict", str(CHART), *args], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_there_are_ci_values_files():
    assert len(CI_VALUES) >= 3


@pytest.mark.parametrize("values", VALUES)
def test_renders_and_validates_against_kubernetes_schemas(rendered, values):
    docs = rendered(values)
    assert len(docs) >= 10
    for doc in docs:
        key = (doc["apiVersion"], doc["kind"])
        if key in CRDS:
            spec = doc["spec"]
            endpoints = spec.get("endpoints") or spec.get("podMetricsEndpoints")
            assert spec["selector"]["matchLabels"] and endpoints and all(e["port"] == "metrics" for e in endpoints)
            continue
        for version in K8S_VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)


def test_validation_can_fail():
    bad = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
           "spec": {"replicas": "two", "selector": {}, "template": {}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSIONS[0], strict=True)


def test_one_range_template_renders_every_component(rendered):
    docs = rendered()
    deployments = {d["metadata"]["labels"]["app.kubernetes.io/component"]: src
                   for d, src in zip(docs, docs.sources) if d["kind"] == "Deployment"}
    assert set(deployments) == {*CHART_SERVICES, "triton"}
    assert {deployments[s] for s in CHART_SERVICES} == {"emopulse/templates/components.yaml"}
    for s in CHART_SERVICES:
        container = pod_spec(docs.named("Deployment", f"t-emopulse-{s}"))["containers"][0]
        assert container["args"] == [f"services.{s}"]


@pytest.mark.parametrize("values", VALUES)
def test_env_is_exactly_real_settings(rendered, values):
    """Every EMOPULSE_* the chart sets is a setting the services read, and each service gets what
    it needs to run (NATS, Triton for model users, ports, data dir, storage)."""
    settings = setting_names()
    docs = rendered(values)
    components = [d for d in docs.of("Deployment") if d["metadata"]["labels"]["app.kubernetes.io/component"] in CHART_SERVICES]
    assert components
    for doc in components:
        name = doc["metadata"]["labels"]["app.kubernetes.io/component"]
        env = env_of(pod_spec(doc)["containers"][0])
        ours = {k for k in env if k.startswith("EMOPULSE_")}
        assert ours <= settings, f"{name}: not settings: {sorted(ours - settings)}"
        assert NEEDED <= ours, f"{name}: missing {sorted(NEEDED - ours)}"
        assert ("EMOPULSE_TRITON_URL" in ours) == bool(service_models(name)), name       # model users only
        if env["EMOPULSE_STORAGE"]["value"] == "s3":
            assert {"EMOPULSE_S3_BUCKET", "EMOPULSE_S3_REGION"} <= ours
        values_of = {k: v.get("value") for k, v in env.items()}
        assert int(values_of["EMOPULSE_GRPC_PORT"]) == pod_spec(doc)["containers"][0]["ports"][0]["containerPort"]
        assert Settings.from_env(values_of).nats_url.startswith("nats://")   # parses as Settings
    for doc in docs.of("Deployment"):
        if doc["metadata"]["labels"]["app.kubernetes.io/component"] == "triton":
            env = {k for k in env_of(pod_spec(doc)["containers"][0]) if k.startswith("EMOPULSE_")}
            assert env <= model_env_names(), sorted(env - model_env_names())


def test_schema_lists_every_other_setting():
    """values.schema.json allows exactly the settings the chart does not set itself."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    allowed = {"EMOPULSE_" + n for n in schema["properties"]["settings"]["propertyNames"]["enum"]}
    assert not allowed & MANAGED
    assert allowed | MANAGED == setting_names()


def test_component_blocks_merge_over_default(rendered):
    docs = rendered("external-values.yaml")
    pdbs = {d["metadata"]["name"] for d in docs.of("PodDisruptionBudget")}
    assert pdbs == {"t-emopulse-fusion"}          # default pdb.enabled=false, fusion re-enables it
    assert docs.named("Deployment", "t-emopulse-fusion")["spec"]["replicas"] == 2
    default = rendered()
    assert default.named("Deployment", "t-emopulse-gateway")["spec"]["replicas"] == 2
    assert default.named("Deployment", "t-emopulse-vision")["spec"]["replicas"] == 1
    ha = rendered("ha-values.yaml")
    vision = env_of(pod_spec(ha.named("Deployment", "t-emopulse-vision"))["containers"][0])
    assert vision["EMOPULSE_VISION_FPS"]["value"] == "1.0" and vision["EMOPULSE_LOG_LEVEL"]["value"] == "INFO"
    assert "EMOPULSE_VISION_FPS" not in env_of(pod_spec(ha.named("Deployment", "t-emopulse-audiotext"))["containers"][0])
    assert "t-emopulse-vision" not in {d["metadata"]["name"] for d in rendered("pvc-models-values.yaml").of("Deployment")}


@pytest.mark.parametrize("values", VALUES)
def test_pods_are_hardened_and_probed(rendered, values):
    docs = rendered(values)
    for doc in (d for d in docs if d["kind"] in WORKLOADS):
        spec = pod_spec(doc)
        name = doc["metadata"]["name"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] > 0, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec.get("automountServiceAccountToken") is False, name
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert c["image"].split("/")[-1].split(":")[-1] not in ("latest", ""), c["image"]
            assert c.get("resources", {}).get("requests"), name
        component = doc["metadata"]["labels"]["app.kubernetes.io/component"]
        main = spec["containers"][0]
        mounts = {m["mountPath"] for m in main.get("volumeMounts", [])}
        if component in CHART_SERVICES:
            assert {"/tmp", "/var/lib/emopulse"} <= mounts
            if "EMOPULSE_TLS_CERT" in env_of(main):          # TLS: the kubelet's grpc probe cannot speak it
                assert main["readinessProbe"]["tcpSocket"] == {"port": "grpc"}, name
            else:
                assert main["readinessProbe"]["grpc"]["port"] == 50051
            assert "tcpSocket" in main["livenessProbe"] and "startupProbe" in main
            assert {p["name"] for p in main["ports"]} == {"grpc", "metrics"}
        if component == "triton":
            assert main["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
            assert {"/tmp", "/dev/shm"} <= mounts
            assert 8002 in {p["containerPort"] for p in main["ports"] if p["name"] == "metrics"}


@pytest.mark.parametrize("values", VALUES)
def test_labels_selectors_and_references(rendered, values):
    docs = rendered(values)
    pods = {}
    for doc in docs:
        labels = doc["metadata"]["labels"]
        for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component",
                    "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "helm.sh/chart"):
            assert key in labels, f"{doc['kind']}/{doc['metadata']['name']} lacks {key}"
        if doc["kind"] in WORKLOADS:
            template_labels = doc["spec"]["template"]["metadata"]["labels"]
            assert doc["spec"]["selector"]["matchLabels"].items() <= template_labels.items()
            pods[doc["metadata"]["name"]] = template_labels

    def selects(selector):
        return any(selector.items() <= labels.items() for labels in pods.values())

    for svc in docs.of("Service"):
        assert selects(svc["spec"]["selector"]), svc["metadata"]["name"]
    for pdb in docs.of("PodDisruptionBudget"):
        assert selects(pdb["spec"]["selector"]["matchLabels"]), pdb["metadata"]["name"]
    for hpa in docs.of("HorizontalPodAutoscaler"):
        assert hpa["spec"]["scaleTargetRef"]["name"] in pods
        deployment = docs.named("Deployment", hpa["spec"]["scaleTargetRef"]["name"])
        assert "replicas" not in deployment["spec"]       # the HPA owns the replica count
    names = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert len(names) == len(set(names))


def test_gpu_and_cpu_triton(rendered):
    gpu = pod_spec(rendered().named("Deployment", "t-emopulse-triton"))
    res = gpu["containers"][0]["resources"]
    assert res["limits"]["nvidia.com/gpu"] == 1 and res["requests"]["nvidia.com/gpu"] == 1
    assert any(t["key"] == "nvidia.com/gpu" for t in gpu["tolerations"])
    cpu = pod_spec(rendered("cpu-values.yaml").named("Deployment", "t-emopulse-triton"))
    assert "nvidia.com/gpu" not in json.dumps(cpu)
    assert "--allow-gpu-metrics=false" in cpu["containers"][0]["args"]


def test_model_repository_sources(rendered):
    args = pod_spec(rendered().named("Deployment", "t-emopulse-triton"))["containers"][0]["args"]
    dockerfile = (REPO / "deploy" / "docker" / "triton.Dockerfile").read_text()
    repo = next(a.split("=", 1)[1] for a in args if a.startswith("--model-repository="))
    assert repo == "/opt/emopulse/models" and f"--model-repository={repo}" in dockerfile
    s3 = pod_spec(rendered("ha-values.yaml").named("Deployment", "t-emopulse-triton"))["containers"][0]
    assert "--model-repository=s3://models-prod/emopulse" in s3["args"]
    assert env_of(s3)["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["name"] == "emopulse-s3"
    pvc = pod_spec(rendered("pvc-models-values.yaml").named("Deployment", "t-emopulse-triton"))
    assert "--model-repository=/models" in pvc["containers"][0]["args"]
    assert any(v.get("persistentVolumeClaim", {}).get("claimName") == "triton-models" for v in pvc["volumes"])


def test_s3_credentials_come_from_a_secret(rendered):
    docs = rendered("pvc-models-values.yaml")
    secret = docs.named("Secret", "t-emopulse-s3")
    assert set(secret["stringData"]) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    env = env_of(pod_spec(docs.named("Deployment", "t-emopulse-gateway"))["containers"][0])
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "t-emopulse-s3", "key": "AWS_SECRET_ACCESS_KEY"}
    assert "Secret" not in {d["kind"] for d in rendered("ha-values.yaml")}      # existingSecret used


def test_nats_single_and_clustered(rendered):
    single = rendered()
    sts = single.named("StatefulSet", "t-emopulse-nats")
    assert sts["spec"]["replicas"] == 1 and sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    assert "cluster {" not in single.named("ConfigMap", "t-emopulse-nats")["data"]["nats.conf"]
    ha = rendered("ha-values.yaml")
    conf = ha.named("ConfigMap", "t-emopulse-nats")["data"]["nats.conf"]
    routes = re.findall(r"nats://(t-emopulse-nats-\d)\.t-emopulse-nats-headless\.emo\.svc:6222", conf)
    assert routes == [f"t-emopulse-nats-{i}" for i in range(3)]
    assert "jetstream" in conf and "max_payload: 1MB" in conf
    assert ha.named("StatefulSet", "t-emopulse-nats")["spec"]["replicas"] == 3
    exporter = [c for c in pod_spec(ha.named("StatefulSet", "t-emopulse-nats"))["containers"] if c["name"] == "exporter"]
    assert exporter and "-jsz=all" in exporter[0]["args"]
    external = rendered("external-values.yaml")
    assert not external.of("StatefulSet")
    env = env_of(pod_spec(external.named("Deployment", "t-emopulse-vision"))["containers"][0])
    assert env["EMOPULSE_NATS_URL"]["value"] == "nats://emopulse-app:$(NATS_PASSWORD)@nats.messaging.svc:4222"
    assert env["EMOPULSE_TRITON_URL"]["value"] == "triton.inference.svc:8001"


def test_autoscaling_on_cpu_and_consumer_lag(rendered):
    docs = rendered("ha-values.yaml")
    hpas = {h["metadata"]["name"]: h for h in docs.of("HorizontalPodAutoscaler")}
    assert set(hpas) == {f"t-emopulse-{s}" for s in ("transcriber", "audiotext", "vision", "fusion", "pulse")}
    transcriber = hpas["t-emopulse-transcriber"]["spec"]["metrics"]
    assert [m["type"] for m in transcriber] == ["External"]
    assert transcriber[0]["external"]["metric"]["selector"]["matchLabels"] == {"consumer_name": "transcriber"}
    assert [m["type"] for m in hpas["t-emopulse-vision"]["spec"]["metrics"]] == ["Resource", "External"]
    assert [m["type"] for m in hpas["t-emopulse-fusion"]["spec"]["metrics"]] == ["Resource"]
    assert [m["type"] for m in hpas["t-emopulse-pulse"]["spec"]["metrics"]] == ["Resource", "External"]
    assert not rendered().of("HorizontalPodAutoscaler")


def test_monitoring_and_network_policy_toggles(rendered):
    default = rendered()
    assert not {"ServiceMonitor", "PodMonitor"} & {d["kind"] for d in default}
    assert "NetworkPolicy" in {d["kind"] for d in default}                  # on by default
    ann = pod_spec(default.named("Deployment", "t-emopulse-fusion"))
    assert default.named("Deployment", "t-emopulse-fusion")["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == "9090"
    ha = rendered("ha-values.yaml")
    assert ha.named("ServiceMonitor", "t-emopulse")["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert ha.named("PodMonitor", "t-emopulse")
    # every Service the ServiceMonitor selects has a `metrics` port
    for svc in ha.of("Service"):
        if svc["metadata"]["name"].endswith("-headless"):
            continue
        assert "metrics" in {p["name"] for p in svc["spec"]["ports"]}, svc["metadata"]["name"]
    policies = {p["metadata"]["name"]: p for p in ha.of("NetworkPolicy")}
    assert set(policies) == {f"t-emopulse-{s}" for s in (*CHART_SERVICES, "triton", "nats")}
    # the monitors scrape every component's metrics port, the pulse's too
    pods = {d["metadata"]["labels"]["app.kubernetes.io/component"]: d["spec"]["template"]["metadata"]["labels"]
            for d in ha.of("Deployment")}
    services = {s["metadata"]["labels"]["app.kubernetes.io/component"]: s for s in ha.of("Service")}
    service_monitor, pod_monitor = ha.named("ServiceMonitor", "t-emopulse")["spec"], ha.named("PodMonitor", "t-emopulse")["spec"]
    for name in CHART_SERVICES:
        assert service_monitor["selector"]["matchLabels"].items() <= services[name]["metadata"]["labels"].items(), name
        assert pod_monitor["selector"]["matchLabels"].items() <= pods[name].items(), name
        assert "metrics" in {p["name"] for p in pod_spec(deployment_of(ha, name))["containers"][0]["ports"]}, name
        metrics_rule = policies[f"t-emopulse-{name}"]["spec"]["ingress"][1]
        assert metrics_rule["ports"] == [{"port": "metrics", "protocol": "TCP"}], name
    gateway_grpc = policies["t-emopulse-gateway"]["spec"]["ingress"][0]
    assert gateway_grpc["from"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "ingress"}
    assert ann is not None


@pytest.mark.parametrize("args, message", [
    (["--set", "nats.bundled.enabled=false"], "set nats.url"),
    (["--set", "triton.enabled=false"], "triton.externalUrl"),
    (["--set", "storage.type=local"], "storage.local.existingClaim"),
    (["--set", "storage.s3.bucket="], "storage.s3.bucket is required"),
    (["--set", "triton.modelRepository.source=s3"], "triton.modelRepository.s3.uri"),
    (["--set", "triton.modelRepository.source=pvc"], "triton.modelRepository.pvc.claimName"),
    (["--set", "storage.s3.accessKeyId=only-one"], "set both accessKeyId and secretAccessKey"),
    (["--set", "components.gateway.autoscaling.enabled=true",
      "--set", "components.gateway.autoscaling.consumerLag.enabled=true"],
     "components.gateway.autoscaling.consumerLag.consumer"),
    (["--set", "components.vision.autoscaling.enabled=true",
      "--set", "components.vision.autoscaling.targetCPUUtilizationPercentage=0"], "enable targetCPUUtilizationPercentage"),
    (["--set-string", "settings.NATS_URL=nats://x:4222"], "settings"),           # managed by the chart
    (["--set-string", "settings.NOT_A_SETTING=1"], "settings"),
    (["--set", "settings.CONCURRENCY=8"], "Expected: string"),
    (["--set", "nats.bundled.replicas=2"], "replicas"),
    (["--set", "components.web.replicas=1"], "components"),
    (["--set", "components.ingest.sourceEgress=everywhere"], "sourceEgress"),
    (["--set", "components.default.sourceEgress[0].ports[0].port=554"], "sourceEgress"),   # per component only
    (["--set", "components.pulse.webhookEgress=everywhere"], "webhookEgress"),
    (["--set", "components.default.webhookEgress[0].ports[0].port=443"], "webhookEgress"),  # per component only
    (["--set", "components.pulse.usesStorage=no"], "usesStorage"),
    (["--set-string", "settings.AUTH=maybe"], "AUTH"),
    (["--set", "settings.AUTH=true"], "AUTH"),                                  # a bare on/true is a boolean
    (["--set", "nats.auth.user=1st"], "user"),                                  # NATS would read it as a number
    (["--set", "nats.auth.passwordKey="], "passwordKey"),
    (["--set", "nats.url=nats://app:hunter2@nats.messaging:4222", "--set", "nats.auth.existingSecret=nats-client"],
     "already holds credentials"),
    (["--set", "components.vision.tls.secretName=vision-tls"], "components.vision.tls: only the gateway serves TLS"),
    (["--set", "components.default.tls.secretName=all-tls"], "tls"),              # per component only
    (["--set", "components.gateway.tls.clientAuth=true"], "components.gateway.tls.secretName"),
    (["--set", "components.gateway.tls.secret=gw-tls"], "secret"),               # a misspelt key
])
def test_wrong_values_fail_with_a_clear_message(helm, args, message):
    proc = helm_template(helm, *args)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr


def test_stream_replicas_follow_the_bundled_cluster(rendered):
    for values, expected in ((None, "1"), ("ha-values.yaml", "3"), ("external-values.yaml", "1")):
        docs = rendered(values) if values else rendered()
        env = env_of(pod_spec(docs.named("Deployment", "t-emopulse-fusion"))["containers"][0])
        assert env["EMOPULSE_STREAM_REPLICAS"]["value"] == expected, values


# Reliability bounds: the chart follows the services' shutdown order and size limits ------------

HELPERS = (CHART / "templates" / "_helpers.tpl").read_text()
GiB = 1024**3
CLOSE_S, MARGIN_S = 5, 4          # the chart's budget for closing connections, and its margin


def deployment_of(docs, name: str) -> dict:
    return docs.named("Deployment", f"t-emopulse-{name}")


def emopulse_env(docs, name: str) -> dict[str, str]:
    env = env_of(pod_spec(deployment_of(docs, name))["containers"][0])
    return {k: v.get("value") for k, v in env.items() if k.startswith("EMOPULSE_")}


def data_size_limit(docs, name: str) -> str:
    return next(v["emptyDir"]["sizeLimit"] for v in pod_spec(deployment_of(docs, name))["volumes"] if v["name"] == "data")


def test_chart_setting_defaults_are_the_services_defaults():
    """The defaults the chart computes with (emopulse.settingDefaults) are settings.py's."""
    block = HELPERS.split('define "emopulse.settingDefaults"', 1)[1].split("{{- end -}}", 1)[0]
    chart = {k: float(v) for k, v in re.findall(r'"([A-Z0-9_]+)" "([0-9.]+)"', block)}
    assert len(chart) == 11
    defaults = Settings()
    assert chart == {k: float(getattr(defaults, k.lower())) for k in chart}
    from emopulse.runtime import bus
    assert re.search(r'define "emopulse.jetstreamStreams" -}}(\d+)', HELPERS)[1] == str(len(bus.ALL_STREAMS))
    buckets = opened_buckets()
    assert {"jobs", "fusion", "transcripts", "streams", "pulse"} <= buckets
    assert re.search(r'define "emopulse.jetstreamBuckets" -}}(\d+)', HELPERS)[1] == str(len(buckets)), sorted(buckets)


def opened_buckets() -> set[str]:
    """The KV buckets the services open, by name: the jobs bucket (bus.ensure_streams) and each
    `bus.bucket(js, NAME, ...)` in services/, NAME evaluated in its module (a module constant, an
    imported one or bus.X), so a bucket opened by two services counts once. A function that passes
    one of its parameters as NAME (the gateway's `_kv(name)`) counts what its callers pass."""
    from emopulse.runtime import bus
    names = {bus.JOBS_BUCKET}

    def is_bucket_call(node) -> bool:
        return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "bucket"
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "bus")

    for path in sorted((REPO / "services").glob("*/*.py")):
        if path.name == "__main__.py":
            continue
        tree = ast.parse(path.read_text())
        module = vars(importlib.import_module(f"services.{path.parent.name}.{path.stem}"))
        helpers: dict[str, int] = {}         # function -> position (after self) of its name parameter
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            params = [a.arg for a in fn.args.args]
            params = params[1:] if params[:1] in (["self"], ["cls"]) else params
            for call in filter(is_bucket_call, ast.walk(fn)):
                arg = call.args[1]
                if isinstance(arg, ast.Name) and arg.id in params:
                    helpers[fn.name] = params.index(arg.id)
                else:
                    names.add(eval(compile(ast.Expression(arg), str(path), "eval"), module))
        for call in ast.walk(tree):
            if isinstance(call, ast.Call):
                callee = getattr(call.func, "attr", getattr(call.func, "id", None))
                if callee in helpers:
                    names.add(eval(compile(ast.Expression(call.args[helpers[callee]]), str(path), "eval"), module))
    assert all(isinstance(n, str) and n for n in names), names
    return names


def test_termination_grace_follows_the_shutdown_settings(helm, rendered):
    s = Settings()
    expected = math.ceil(s.shutdown_grace_s + s.shutdown_drain_s + CLOSE_S + MARGIN_S)
    assert expected == 20
    docs = rendered()
    for name in CHART_SERVICES:
        assert pod_spec(deployment_of(docs, name))["terminationGracePeriodSeconds"] == expected, name
    longer = render(helm, "--set-string", "settings.SHUTDOWN_DRAIN_S=9.5")
    assert {pod_spec(deployment_of(longer, n))["terminationGracePeriodSeconds"] for n in CHART_SERVICES} == {22}
    one = render(helm, "--set-string", "components.vision.settings.SHUTDOWN_DRAIN_S=9.5",
                 "--set", "components.fusion.terminationGracePeriodSeconds=45",
                 "--set", "components.gateway.terminationGracePeriodSeconds=16")
    grace = {n: pod_spec(deployment_of(one, n))["terminationGracePeriodSeconds"] for n in CHART_SERVICES}
    assert grace == {**{n: 20 for n in CHART_SERVICES}, "vision": 22, "fusion": 45, "gateway": 16}


def test_s3_cache_limit_and_scratch_follow_tmp_size(helm, rendered):
    docs = rendered()
    upload = Settings().upload_limit_bytes
    assert data_size_limit(docs, "gateway") == "4Gi" and 4 * GiB >= 2 * upload
    for name in ("transcriber", "vision"):
        assert data_size_limit(docs, name) == "8Gi"
        assert emopulse_env(docs, name)["EMOPULSE_S3_CACHE_LIMIT_BYTES"] == str(4 * GiB)
        assert 4 * GiB + upload <= 8 * GiB
    for name in ("gateway", "audiotext", "fusion"):
        assert "EMOPULSE_S3_CACHE_LIMIT_BYTES" not in emopulse_env(docs, name)
    # Kubernetes quantities, decimal and binary, and plain bytes
    for size, cache in (("5Gi", 5 * GiB // 2), ("8G", 4_000_000_000), ("6144Mi", 3 * GiB), ("9000000000", 4_500_000_000),
                        ("4.5Gi", int(4.5 * GiB) // 2)):
        env = emopulse_env(render(helm, "--set-string", f"components.vision.tmpSize={size}"), "vision")
        assert env["EMOPULSE_S3_CACHE_LIMIT_BYTES"] == str(cache), size
    # a set value wins; local storage has no S3 cache to size
    env = emopulse_env(render(helm, "--set-string", "components.vision.settings.S3_CACHE_LIMIT_BYTES=1000",
                              "--set", "components.vision.tmpSize=16Gi"), "vision")
    assert env["EMOPULSE_S3_CACHE_LIMIT_BYTES"] == "1000"
    assert "EMOPULSE_S3_CACHE_LIMIT_BYTES" not in emopulse_env(rendered("external-values.yaml"), "vision")
    # a smaller upload limit lets a smaller gateway disk through
    small = render(helm, "--set-string", f"settings.UPLOAD_LIMIT_BYTES={256 * 1024**2}", "--set", "components.gateway.tmpSize=512Mi")
    assert emopulse_env(small, "gateway")["EMOPULSE_UPLOAD_LIMIT_BYTES"] == str(256 * 1024**2)


def test_jetstream_store_fits_the_stream_and_bucket_limits(helm, rendered):
    s = Settings()
    from emopulse.runtime import bus
    streams, buckets = len(bus.ALL_STREAMS), len(opened_buckets())     # every bucket the services open
    need = streams * s.stream_max_bytes + buckets * s.kv_max_bytes
    assert (streams, buckets) == (8, 7) and need == 23 * GiB     # PUSH, PULSE, AUDIENCE, streams, pulse, alert_rules, webhooks: live
    conf = rendered().named("ConfigMap", "t-emopulse-nats")["data"]["nats.conf"]
    assert "max_file_store: 24Gi" in conf and 24 * GiB > need
    for replicas in ("1", "3"):
        ok = helm_template(helm, "--set", f"nats.bundled.replicas={replicas}", "--set-string", f"nats.bundled.jetstream.maxFileStore={need}")
        assert ok.returncode == 0, ok.stderr
        short = helm_template(helm, "--set", f"nats.bundled.replicas={replicas}", "--set-string", f"nats.bundled.jetstream.maxFileStore={need - 1}")
        assert short.returncode != 0 and "per server" in short.stderr, short.stderr
    # one replica of each stream on a 3-server cluster: a third each
    spread = ["--set", "nats.bundled.replicas=3", "--set", "nats.streamReplicas=1"]
    assert helm_template(helm, *spread, "--set-string", f"nats.bundled.jetstream.maxFileStore={-(-need // 3)}").returncode == 0
    assert "7 GiB per server" in helm_template(helm, *spread, "--set-string", f"nats.bundled.jetstream.maxFileStore={need // 3 - 1}").stderr
    # lower limits fit a smaller store: 8 x 1 GiB + 7 x 1 GiB
    smaller = helm_template(helm, "--set-string", f"settings.STREAM_MAX_BYTES={GiB}", "--set", "nats.bundled.jetstream.maxFileStore=15GB",
                            "--set", "nats.bundled.persistence.size=15Gi")
    assert smaller.returncode == 0, smaller.stderr
    # an external NATS is not sized by this chart
    assert helm_template(helm, "--set", "nats.url=nats://n:4222", "--set", "nats.bundled.jetstream.maxFileStore=1Gi").returncode == 0


@pytest.mark.parametrize("args, message", [
    (["--set", "components.vision.terminationGracePeriodSeconds=15"],
     "components.vision.terminationGracePeriodSeconds (15) is below SHUTDOWN_GRACE_S (3) + SHUTDOWN_DRAIN_S (8) + 5 s"),
    (["--set-string", "settings.SHUTDOWN_DRAIN_S=12"], "SHUTDOWN_GRACE_S (3) < SHUTDOWN_DRAIN_S (12) < ACK_WAIT_S (10) must hold"),
    (["--set-string", "components.fusion.settings.SHUTDOWN_GRACE_S=8"],
     "components.fusion: SHUTDOWN_GRACE_S (8) < SHUTDOWN_DRAIN_S (8) < ACK_WAIT_S (10) must hold"),
    (["--set-string", "settings.ACK_WAIT_S=5"], "< ACK_WAIT_S (5) must hold"),
    (["--set-string", "settings.OUTAGE_BUDGET_S=900"], "OUTAGE_BUDGET_S (900) must be below STALL_TIMEOUT_S (900)"),
    (["--set-string", "settings.SHUTDOWN_DRAIN_S=soon"], 'SHUTDOWN_DRAIN_S="soon" is not a number of seconds'),
    (["--set-string", "settings.UPLOAD_LIMIT_BYTES=3221225472"],
     "components.gateway.tmpSize (4Gi) must hold two uploads of UPLOAD_LIMIT_BYTES (3 GiB)"),
    (["--set", "components.gateway.tmpSize=3Gi"], "components.gateway.tmpSize (3Gi) must hold two uploads"),
    (["--set-string", "settings.UPLOAD_LIMIT_BYTES=2Gi"], 'UPLOAD_LIMIT_BYTES="2Gi" is not a whole number of bytes'),
    (["--set", "components.vision.tmpSize=3Gi"], "components.vision.tmpSize (3Gi) must hold S3_CACHE_LIMIT_BYTES (1.5 GiB"),
    (["--set-string", "components.transcriber.settings.S3_CACHE_LIMIT_BYTES=7516192768"],
     "components.transcriber.tmpSize (8Gi) must hold S3_CACHE_LIMIT_BYTES (7 GiB"),
    (["--set", "components.vision.tmpSize=lots"], "tmpSize"),
    (["--set", "nats.bundled.jetstream.maxFileStore=20Gi"], "nats.bundled.jetstream.maxFileStore (20Gi) is below the 23 GiB per server"),
    (["--set", "nats.bundled.persistence.size=23Gi"], "nats.bundled.persistence.size (23Gi) is smaller than nats.bundled.jetstream.maxFileStore (24Gi)"),
    (["--set", "nats.streamReplicas=3"], "nats.streamReplicas (3) is more than nats.bundled.replicas (1)"),
    (["--set-string", "settings.STREAM_MAX_AGE_S=86400"],
     "STREAM_RETENTION_S (604800) must not exceed STREAM_MAX_AGE_S (86400)"),
    (["--set-string", "components.ingest.settings.STREAM_RETENTION_S=700000"],
     "components.ingest: STREAM_RETENTION_S (700000) must not exceed STREAM_MAX_AGE_S (604800)"),
    (["--set-string", "settings.PULSE_WINDOWS_S=10\\,a minute"],
     'components.gateway: PULSE_WINDOWS_S="10,a minute" is not seconds, comma-separated'),
    (["--set-string", "components.pulse.settings.PULSE_WINDOWS_S=0\\,60"],
     'components.pulse: PULSE_WINDOWS_S="0,60": every window must be above 0 s'),
    (["--set-string", "settings.PULSE_WINDOWS_S=\\,"], 'PULSE_WINDOWS_S="," needs at least one window above 0 s'),
    (["--set-string", "components.pulse.settings.PULSE_WINDOWS_S=10\\,60"],
     'components.pulse: PULSE_WINDOWS_S ("10,60") differs from the gateway\'s ("10,60,300")'),
])
def test_inconsistent_bounds_fail_with_a_clear_message(helm, args, message):
    proc = helm_template(helm, *args)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr


# Live streams: the ingest component ------------------------------------------------------------

def egress_ports(rule: dict) -> set[tuple[int, str]]:
    return {(p["port"], p["protocol"]) for p in rule.get("ports", [])}


def test_ingest_is_a_worker_with_two_replicas(rendered):
    """The ingest is one more component of the range: a Deployment of 2 (no leader election, the
    replicas share streams through NATS), Triton, probes, metrics, PDB and shutdown grace like the
    other workers, and the transcriber's resources."""
    docs = rendered()
    ingest = deployment_of(docs, "ingest")
    assert ingest["spec"]["replicas"] == 2
    pod = pod_spec(ingest)
    main = pod["containers"][0]
    assert main["args"] == ["services.ingest"] and main["image"] == pod_spec(deployment_of(docs, "transcriber"))["containers"][0]["image"]
    assert main["resources"] == pod_spec(deployment_of(docs, "transcriber"))["containers"][0]["resources"]
    assert env_of(main)["EMOPULSE_TRITON_URL"]["value"] == "t-emopulse-triton:8001"
    assert main["readinessProbe"]["grpc"] == {"port": 50051, "service": ""}
    assert pod["terminationGracePeriodSeconds"] == 20
    assert ingest["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == "9090"
    assert {p["name"] for p in docs.named("Service", "t-emopulse-ingest")["spec"]["ports"]} == {"grpc", "metrics"}
    assert docs.named("PodDisruptionBudget", "t-emopulse-ingest")["spec"]["maxUnavailable"] == 1
    ha = rendered("ha-values.yaml")
    assert deployment_of(ha, "ingest")["spec"]["replicas"] == 3             # no HPA: a fixed count
    assert "t-emopulse-ingest" not in {h["metadata"]["name"] for h in ha.of("HorizontalPodAutoscaler")}


def test_ingest_can_be_disabled(helm):
    docs = render(helm, "--set", "components.ingest.enabled=false", "--set", "networkPolicy.enabled=true")
    assert not [d for d in docs if d["metadata"]["name"] == "t-emopulse-ingest"]


def test_live_settings_are_the_services_defaults(helm, rendered):
    """Every live-stream setting is a real setting, set in values with the services' default, and
    reaches the ingest (and, being global, every other service too); a component may override."""
    defaults = Settings()
    assert {"EMOPULSE_" + n for n in LIVE_SETTINGS} <= set(Settings.env_names())
    docs = rendered()
    for name in CHART_SERVICES:
        env = emopulse_env(docs, name)
        for setting in LIVE_SETTINGS:
            assert float(env[f"EMOPULSE_{setting}"]) == float(getattr(defaults, setting.lower())), (name, setting)
    tuned = render(helm, "--set-string", "components.ingest.settings.ENDPOINT_MS=700")
    assert emopulse_env(tuned, "ingest")["EMOPULSE_ENDPOINT_MS"] == "700"
    assert emopulse_env(tuned, "gateway")["EMOPULSE_ENDPOINT_MS"] == "500"
    shorter = render(helm, "--set-string", "settings.STREAM_MAX_AGE_S=86400", "--set-string", "settings.STREAM_RETENTION_S=86400")
    assert emopulse_env(shorter, "ingest")["EMOPULSE_STREAM_RETENTION_S"] == "86400"


def test_ingest_network_policy_allows_its_egress(helm, rendered):
    """With NetworkPolicies the ingest (only) also limits egress: DNS, the bundled NATS and Triton
    pods, S3's port, and sourceEgress (default: anywhere); narrowed in ha-values."""
    docs = render(helm, "--set", "networkPolicy.enabled=true")
    policies = {p["metadata"]["name"]: p["spec"] for p in docs.of("NetworkPolicy")}
    ingest = policies.pop("t-emopulse-ingest")
    assert ingest["policyTypes"] == ["Ingress", "Egress"]
    assert policies.pop("t-emopulse-pulse")["policyTypes"] == ["Ingress", "Egress"]      # webhooks: below
    for name, spec in policies.items():
        assert spec["policyTypes"] == ["Ingress"] and "egress" not in spec, name     # egress left open
    dns, nats, triton, s3, *sources = ingest["egress"]
    assert egress_ports(dns) == {(53, "UDP"), (53, "TCP")} and "to" not in dns
    assert nats["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "nats"
    assert egress_ports(nats) == {(4222, "TCP")}
    assert triton["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "triton"
    assert egress_ports(triton) == {(8001, "TCP")}
    assert egress_ports(s3) == {(443, "TCP")} and "to" not in s3
    assert sources == [{}]                                                          # any destination, any port
    # its ingress is a worker's: gRPC from the release, metrics
    assert [r["ports"][0]["port"] for r in ingest["ingress"]] == ["grpc", "metrics"]
    # ha-values: the sources narrowed, nothing open to anywhere on any port
    ha = rendered("ha-values.yaml").named("NetworkPolicy", "t-emopulse-ingest")["spec"]
    rules = ha["egress"]
    assert {} not in rules and all("ports" in r for r in rules)
    assert rules[-2]["to"] == [{"ipBlock": {"cidr": "10.20.0.0/16"}}]
    assert (554, "TCP") in egress_ports(rules[-2]) and egress_ports(rules[-1]) == {(443, "TCP")}
    assert egress_ports(rules[3]) == {(9000, "TCP")}                                # storage.s3.endpoint's port
    # external NATS and Triton: their ports, to any address; local storage: no S3 rule
    ext = render(helm, "-f", str(CHART / "ci" / "external-values.yaml"), "--set", "networkPolicy.enabled=true",
                 "--set", "nats.url=nats://n1:4222\\,nats://n2:4333").named("NetworkPolicy", "t-emopulse-ingest")["spec"]
    ports = [egress_ports(r) for r in ext["egress"] if r]
    assert ports == [{(53, "UDP"), (53, "TCP")}, {(4222, "TCP"), (4333, "TCP")}, {(8001, "TCP")}]
    assert all("to" not in r for r in ext["egress"])
    # sourceEgress removed: egress is not limited at all
    open_ = render(helm, "--set", "networkPolicy.enabled=true", "--set", "components.ingest.sourceEgress=null")
    assert open_.named("NetworkPolicy", "t-emopulse-ingest")["spec"]["policyTypes"] == ["Ingress"]


# Live pulse and alerts: the pulse component ----------------------------------------------------

def test_pulse_is_a_worker_with_two_replicas(rendered):
    """The pulse is one more component of the range: a Deployment of 2 (its state is in NATS KV,
    changed by compare-and-set, so replicas are safe), the services image, NATS but no Triton,
    probes, metrics, PDB and shutdown grace like the other workers."""
    docs = rendered()
    pulse = deployment_of(docs, "pulse")
    assert pulse["spec"]["replicas"] == 2
    pod = pod_spec(pulse)
    main = pod["containers"][0]
    assert main["args"] == ["services.pulse"] and main["image"] == pod_spec(deployment_of(docs, "fusion"))["containers"][0]["image"]
    env = emopulse_env(docs, "pulse")
    assert env["EMOPULSE_NATS_URL"] == "nats://emopulse:$(NATS_PASSWORD)@t-emopulse-nats:4222" and "EMOPULSE_TRITON_URL" not in env
    assert service_models("pulse") == ()
    assert main["readinessProbe"]["grpc"] == {"port": 50051, "service": ""}
    assert "tcpSocket" in main["livenessProbe"] and "tcpSocket" in main["startupProbe"]
    assert {p["name"]: p["containerPort"] for p in main["ports"]} == {"grpc": 50051, "metrics": 9090}
    assert env["EMOPULSE_GRPC_PORT"] == "50051" and env["EMOPULSE_METRICS_PORT"] == "9090"
    assert pod["terminationGracePeriodSeconds"] == 20
    assert pulse["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == "9090"
    assert {p["name"] for p in docs.named("Service", "t-emopulse-pulse")["spec"]["ports"]} == {"grpc", "metrics"}
    assert docs.named("PodDisruptionBudget", "t-emopulse-pulse")["spec"]["maxUnavailable"] == 1
    assert main["resources"]["requests"] == {"cpu": "100m", "memory": "256Mi"}
    # ha-values: an HPA on CPU and on its results consumer's lag
    ha = rendered("ha-values.yaml")
    hpa = ha.named("HorizontalPodAutoscaler", "t-emopulse-pulse")["spec"]
    assert "replicas" not in deployment_of(ha, "pulse")["spec"]
    lag = next(m["external"] for m in hpa["metrics"] if m["type"] == "External")
    assert lag["metric"]["selector"]["matchLabels"] == {"consumer_name": "pulse"}


def test_pulse_settings_are_the_services_defaults(helm, rendered):
    """The pulse's settings are real settings, in values with the services' defaults, and reach the
    pulse and the gateway (which checks alert rules against PULSE_WINDOWS_S) alike."""
    defaults = Settings()
    assert {"EMOPULSE_" + n for n in PULSE_SETTINGS} <= set(Settings.env_names())
    docs = rendered()
    for name in ("pulse", "gateway"):
        env = emopulse_env(docs, name)
        assert env["EMOPULSE_PULSE_WINDOWS_S"] == defaults.pulse_windows_s == "10,60,300"
        for setting in PULSE_SETTINGS[1:]:
            assert float(env[f"EMOPULSE_{setting}"]) == float(getattr(defaults, setting.lower())), (name, setting)
        assert Settings.from_env(env).pulse_windows() == [10, 60, 300]
    # the helper's default when unset is the services' default
    assert f'{{- $v := "{defaults.pulse_windows_s}" -}}' in HELPERS
    tuned = render(helm, "--set-string", "components.pulse.settings.WEBHOOK_ATTEMPTS=3",
                   "--set-string", "settings.PULSE_WINDOWS_S=30\\,60", "--set-string", "settings.PULSE_EVERY_S=2")
    assert emopulse_env(tuned, "pulse")["EMOPULSE_WEBHOOK_ATTEMPTS"] == "3"
    assert emopulse_env(tuned, "gateway")["EMOPULSE_WEBHOOK_ATTEMPTS"] == "6"
    assert {emopulse_env(tuned, n)["EMOPULSE_PULSE_WINDOWS_S"] for n in ("pulse", "gateway")} == {"30,60"}
    assert emopulse_env(tuned, "pulse")["EMOPULSE_PULSE_EVERY_S"] == "2"
    # the same windows written differently are the same windows; without a gateway nothing to agree with
    assert helm_template(helm, "--set-string", "components.pulse.settings.PULSE_WINDOWS_S=300\\,60\\,10.0").returncode == 0
    alone = helm_template(helm, "--set", "components.gateway.enabled=false", "--set-string", "components.pulse.settings.PULSE_WINDOWS_S=30")
    assert alone.returncode == 0, alone.stderr


def test_pulse_network_policy_allows_webhooks(helm, rendered):
    """With NetworkPolicies the pulse limits egress: DNS, the bundled NATS pods and webhookEgress
    (default: HTTP and HTTPS anywhere); no Triton and no S3, which it does not use; narrowed in
    ha-values; webhookEgress removed leaves its egress open."""
    docs = render(helm, "--set", "networkPolicy.enabled=true")
    pulse = docs.named("NetworkPolicy", "t-emopulse-pulse")["spec"]
    assert pulse["policyTypes"] == ["Ingress", "Egress"]
    assert pulse["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "pulse"
    dns, nats, *hooks = pulse["egress"]
    assert egress_ports(dns) == {(53, "UDP"), (53, "TCP")} and "to" not in dns
    assert nats["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "nats"
    assert egress_ports(nats) == {(4222, "TCP")}
    assert hooks == [{"ports": [{"port": 80, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}]}]   # to anywhere
    assert [r["ports"][0]["port"] for r in pulse["ingress"]] == ["grpc", "metrics"]
    assert pulse["ingress"][0]["from"][0]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "emopulse",
                                                                            "app.kubernetes.io/instance": "t"}
    # ha-values: S3 on its own port for the ingest, not for the pulse; webhooks narrowed
    ha = rendered("ha-values.yaml")
    rules = ha.named("NetworkPolicy", "t-emopulse-pulse")["spec"]["egress"]
    assert (9000, "TCP") not in set().union(*(egress_ports(r) for r in rules))
    assert (9000, "TCP") in set().union(*(egress_ports(r) for r in ha.named("NetworkPolicy", "t-emopulse-ingest")["spec"]["egress"]))
    assert {} not in rules and all("ports" in r for r in rules)
    public, internal = rules[-2:]
    assert public["to"][0]["ipBlock"] == {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}
    assert egress_ports(public) == {(443, "TCP")} and egress_ports(internal) == {(8443, "TCP")}
    # external NATS: its ports to any address; no Triton rule even with an external Triton
    ext = render(helm, "-f", str(CHART / "ci" / "external-values.yaml"), "--set", "networkPolicy.enabled=true",
                 "--set", "nats.url=nats://n1:4222\\,nats://n2:4333").named("NetworkPolicy", "t-emopulse-pulse")["spec"]
    assert [egress_ports(r) for r in ext["egress"]] == [{(53, "UDP"), (53, "TCP")}, {(4222, "TCP"), (4333, "TCP")},
                                                        {(80, "TCP"), (443, "TCP")}]
    # no webhooks at all: DNS and NATS only; webhookEgress removed: egress not limited
    closed = render(helm, "--set", "networkPolicy.enabled=true", "--set-json", "components.pulse.webhookEgress=[]")
    assert len(closed.named("NetworkPolicy", "t-emopulse-pulse")["spec"]["egress"]) == 2
    open_ = render(helm, "--set", "networkPolicy.enabled=true", "--set", "components.pulse.webhookEgress=null")
    assert open_.named("NetworkPolicy", "t-emopulse-pulse")["spec"]["policyTypes"] == ["Ingress"]
    # a component that uses storage and limits egress keeps its S3 rule
    stored = render(helm, "--set", "networkPolicy.enabled=true", "--set", "components.pulse.usesStorage=true")
    assert {(443, "TCP")} in [egress_ports(r) for r in stored.named("NetworkPolicy", "t-emopulse-pulse")["spec"]["egress"]]


def test_pulse_can_be_disabled(helm):
    docs = render(helm, "--set", "components.pulse.enabled=false", "--set", "networkPolicy.enabled=true")
    assert not [d for d in docs if d["metadata"]["name"] == "t-emopulse-pulse"]
    assert deployment_of(docs, "gateway")


# The history store: every replica of the gateway and the pulse on one database --------------------

def test_history_url_reaches_the_gateway_and_the_pulse(helm, rendered):
    """history.existingSecret (preferred) or history.databaseUrl -> EMOPULSE_HISTORY_URL on the
    components with usesHistory (gateway, pulse) and on no other; neither -> no variable (each pod
    its own sqlite file); egress-limited pods (the pulse) may reach the database's port."""
    def history_env(docs) -> dict[str, dict]:
        return {d["metadata"]["labels"]["app.kubernetes.io/component"]: env_of(pod_spec(d)["containers"][0])["EMOPULSE_HISTORY_URL"]
                for d in docs.of("Deployment") if "EMOPULSE_HISTORY_URL" in env_of(pod_spec(d)["containers"][0])}

    assert history_env(rendered()) == {}
    secret = render(helm, "--set", "history.existingSecret=emopulse-history", "--set", "networkPolicy.enabled=true",
                    "--set", "history.databaseUrl=postgresql://ignored:x@db:5999/emo")          # the Secret wins
    ref = {"valueFrom": {"secretKeyRef": {"name": "emopulse-history", "key": "url"}}}
    assert history_env(secret) == {"gateway": {"name": "EMOPULSE_HISTORY_URL", **ref},
                                   "pulse": {"name": "EMOPULSE_HISTORY_URL", **ref}}
    for doc in secret.of("Deployment") + secret.of("NetworkPolicy"):
        kubernetes_validate.validate(doc, K8S_VERSIONS[-1], strict=True)
    assert "emopulse-history" not in {d["metadata"]["name"] for d in secret.of("Secret")}   # the user's own
    egress = secret.named("NetworkPolicy", "t-emopulse-pulse")["spec"]["egress"]
    assert {(5432, "TCP")} in [egress_ports(r) for r in egress]
    assert "egress" not in secret.named("NetworkPolicy", "t-emopulse-gateway")["spec"]          # egress left open
    keyed = render(helm, "--set", "history.existingSecret=db", "--set", "history.secretKey=HISTORY_URL")
    assert history_env(keyed)["pulse"]["valueFrom"]["secretKeyRef"] == {"name": "db", "key": "HISTORY_URL"}
    # a plain URL: as a value, its port in the egress rule
    url = "postgresql://emopulse:pw@pg.db.svc:6543/emopulse"
    plain = render(helm, "--set", f"history.databaseUrl={url}", "--set", "networkPolicy.enabled=true")
    assert {k: v["value"] for k, v in history_env(plain).items()} == {"gateway": url, "pulse": url}
    assert Settings.from_env(emopulse_env(plain, "gateway")).history_url == url
    assert {(6543, "TCP")} in [egress_ports(r) for r in plain.named("NetworkPolicy", "t-emopulse-pulse")["spec"]["egress"]]
    # a URL the service would refuse fails without printing it; HISTORY_URL is not a `settings` entry
    bad = helm_template(helm, "--set", "history.databaseUrl=mysql://emopulse:hunter2@db/emo")
    assert bad.returncode != 0 and "history.databaseUrl must be postgresql://" in bad.stderr and "hunter2" not in bad.stderr
    assert helm_template(helm, "--set-string", "settings.HISTORY_URL=postgresql://x").returncode != 0


# Accounts and safety: API keys, NATS credentials, NetworkPolicies, the gateway's TLS -------------

def services_of(docs) -> list[dict]:
    return [d for d in docs.of("Deployment") if d["metadata"]["labels"]["app.kubernetes.io/component"] in CHART_SERVICES]


def test_account_settings_are_settings():
    """AUTH, AUTH_CACHE_S and the TLS files are settings the services read, and the chart's
    AUTH_CACHE_S is the services' default."""
    assert ACCOUNT_SETTINGS <= set(Settings.env_names())
    values = (CHART / "values.yaml").read_text()
    cache_s = re.search(r'^  AUTH_CACHE_S: "([0-9.]+)"', values, re.M)[1]
    assert float(cache_s) == float(Settings().auth_cache_s)
    assert Settings.from_env({"EMOPULSE_AUTH": "on"}).auth == "on"
    assert Settings.from_env({"EMOPULSE_AUTH": "off"}).auth == "off"


@pytest.mark.parametrize("values", VALUES)
def test_auth_is_on_by_default(rendered, values):
    """Every service (the gateway enforces API keys; the others read the setting too) gets
    EMOPULSE_AUTH=on and EMOPULSE_AUTH_CACHE_S=2 with every values file."""
    docs = services_of(rendered(values))
    assert {d["metadata"]["labels"]["app.kubernetes.io/component"] for d in docs} >= {"gateway", "pulse"}
    for doc in docs:
        env = env_of(pod_spec(doc)["containers"][0])
        assert env["EMOPULSE_AUTH"] == {"name": "EMOPULSE_AUTH", "value": "on"}, doc["metadata"]["name"]
        assert env["EMOPULSE_AUTH_CACHE_S"]["value"] == "2", doc["metadata"]["name"]


def test_auth_and_its_cache_can_be_set(helm):
    off = render(helm, "--set-string", "settings.AUTH=off", "--set-string", "components.gateway.settings.AUTH_CACHE_S=5")
    assert {emopulse_env(off, n)["EMOPULSE_AUTH"] for n in CHART_SERVICES} == {"off"}
    assert emopulse_env(off, "gateway")["EMOPULSE_AUTH_CACHE_S"] == "5"
    assert emopulse_env(off, "pulse")["EMOPULSE_AUTH_CACHE_S"] == "2"
    # `--set settings.AUTH=off` (not --set-string) is a string too, and allowed
    assert emopulse_env(render(helm, "--set", "settings.AUTH=off"), "gateway")["EMOPULSE_AUTH"] == "off"


def nats_conf_authorization(docs) -> dict[str, str] | None:
    conf = docs.named("ConfigMap", "t-emopulse-nats")["data"]["nats.conf"]
    block = re.search(r"^authorization \{\n(.*?)^\}", conf, re.M | re.S)
    if not block:
        return None
    return dict(re.findall(r"^\s*(\w+):\s*(\S+)\s*$", block[1], re.M))


async def test_the_rendered_nats_config_refuses_anonymous_clients(rendered, tmp_path):
    """The chart's nats.conf, run by a real nats-server (ports and paths moved to this machine's):
    a client without the password is refused, one with it gets JetStream."""
    import nats

    from emopulse.stack import _bin, free_port, tcp_open

    port, monitor = free_port(), free_port()
    docs_conf = rendered().named("ConfigMap", "t-emopulse-nats")["data"]["nats.conf"]
    conf = re.sub(r"^port: \d+", f"port: {port}", docs_conf, flags=re.M)
    conf = re.sub(r"^http_port: \d+", f"http_port: {monitor}", conf, flags=re.M)
    conf = conf.replace("/data/jetstream", str(tmp_path / "js")).replace("/var/run/nats/nats.pid", str(tmp_path / "pid"))
    (tmp_path / "nats.conf").write_text(conf)
    env = {"NATS_PASSWORD": "Abc123xyz", "POD_NAME": "t-emopulse-nats-0", "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([_bin("nats-server"), "-c", str(tmp_path / "nats.conf")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if tcp_open(port):
                break
            await asyncio.sleep(0.05)
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(f"nats://127.0.0.1:{port}", connect_timeout=2, allow_reconnect=False,
                               max_reconnect_attempts=0)
        nc = await nats.connect(f"nats://emopulse:Abc123xyz@127.0.0.1:{port}", connect_timeout=2)
        await nc.jetstream().add_stream(name="CHECK", subjects=["check.>"])
        await nc.close()
    finally:
        proc.kill()
        proc.wait()


def test_nats_requires_credentials_from_a_generated_secret(rendered, helm):
    """Default: the bundled server's config has an authorization block whose password is the
    NATS_PASSWORD variable; NATS and every service take NATS_PASSWORD from the chart's Secret
    (a generated 32-character password, a letter first), defined before EMOPULSE_NATS_URL, which
    carries user and $(NATS_PASSWORD); expanded as Kubernetes does, the URL logs in with them."""
    docs = rendered()
    assert nats_conf_authorization(docs) == {"user": '"emopulse"', "password": "$NATS_PASSWORD"}
    secret = docs.named("Secret", "t-emopulse-nats-auth")
    assert set(secret["data"]) == {"password"} and "stringData" not in secret
    password = base64.b64decode(secret["data"]["password"]).decode()
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]{31}", password), password
    ref = {"secretKeyRef": {"name": "t-emopulse-nats-auth", "key": "password"}}
    nats = next(c for c in pod_spec(docs.named("StatefulSet", "t-emopulse-nats"))["containers"] if c["name"] == "nats")
    assert env_of(nats)["NATS_PASSWORD"]["valueFrom"] == ref
    for doc in services_of(docs):
        env = pod_spec(doc)["containers"][0]["env"]
        names = [e["name"] for e in env]
        assert names.index("NATS_PASSWORD") < names.index("EMOPULSE_NATS_URL"), names     # $(VAR) needs it first
        assert env[names.index("NATS_PASSWORD")]["valueFrom"] == ref
        url = env[names.index("EMOPULSE_NATS_URL")]["value"]
        assert url == "nats://emopulse:$(NATS_PASSWORD)@t-emopulse-nats:4222"
        expanded = urlparse(url.replace("$(NATS_PASSWORD)", password))
        assert (expanded.username, expanded.password, expanded.hostname, expanded.port) == \
            ("emopulse", password, "t-emopulse-nats", 4222)
    # the password is in the Secret only (one render's: each render generates a new one)
    text = helm_template(helm).stdout
    encoded = re.search(r"^kind: Secret\nmetadata:\n  name: t-emopulse-nats-auth\n(?:.*\n)*?  password: (\S+)$", text, re.M)[1]
    assert text.count(encoded) == 1 and base64.b64decode(encoded).decode() not in text
    # the exporter reads the monitoring port over HTTP (outside `authorization`), not the client port
    exporter = next(c for c in pod_spec(docs.named("StatefulSet", "t-emopulse-nats"))["containers"] if c["name"] == "exporter")
    assert exporter["args"][-1] == "http://localhost:8222" and "NATS_PASSWORD" not in env_of(exporter)
    # credentials off: no block, no Secret, a plain URL
    off = render(helm, "--set", "nats.auth.enabled=false")
    assert nats_conf_authorization(off) is None and not off.of("Secret")
    assert emopulse_env(off, "fusion")["EMOPULSE_NATS_URL"] == "nats://t-emopulse-nats:4222"
    assert "NATS_PASSWORD" not in env_of(pod_spec(deployment_of(off, "fusion"))["containers"][0])


def test_nats_credentials_from_an_existing_secret(rendered, helm):
    """nats.auth.existingSecret (ha-values: emopulse-nats, key NATS_PASSWORD): no Secret rendered,
    every NATS_PASSWORD refers to it, and no password literal anywhere: two renders are identical
    (a generated password would differ) and the only `password` in the config is the variable."""
    docs = rendered("ha-values.yaml")
    assert not docs.of("Secret")
    assert nats_conf_authorization(docs) == {"user": '"emopulse"', "password": "$NATS_PASSWORD"}
    ref = {"secretKeyRef": {"name": "emopulse-nats", "key": "NATS_PASSWORD"}}
    refs = [env_of(c)["NATS_PASSWORD"]["valueFrom"] for d in docs if d["kind"] in WORKLOADS
            for c in pod_spec(d)["containers"] if "NATS_PASSWORD" in env_of(c)]
    assert len(refs) == len(services_of(docs)) + 1 and all(r == ref for r in refs)       # the services and NATS
    for doc in services_of(docs):
        assert env_of(pod_spec(doc)["containers"][0])["EMOPULSE_NATS_URL"]["value"] == \
            "nats://emopulse:$(NATS_PASSWORD)@t-emopulse-nats:4222"
    args = ["-f", str(CHART / "ci" / "ha-values.yaml")]
    first, second = helm_template(helm, *args), helm_template(helm, *args)
    assert first.returncode == 0 and first.stdout == second.stdout
    assert re.findall(r"password\W*[:=]\s*(\S+)", first.stdout, re.I) == ["$NATS_PASSWORD"]
    # an external server: the credentials go into each of its URLs; without existingSecret none
    external = rendered("external-values.yaml")
    assert not external.of("Secret") and not external.of("ConfigMap")
    env = env_of(pod_spec(deployment_of(external, "gateway"))["containers"][0])
    assert env["NATS_PASSWORD"]["valueFrom"] == {"secretKeyRef": {"name": "nats-client", "key": "password"}}
    two = render(helm, "-f", str(CHART / "ci" / "external-values.yaml"), "--set", "nats.url=nats://n1:4222\\,nats://n2:4333")
    assert emopulse_env(two, "fusion")["EMOPULSE_NATS_URL"] == \
        "nats://emopulse-app:$(NATS_PASSWORD)@n1:4222,nats://emopulse-app:$(NATS_PASSWORD)@n2:4333"
    plain = render(helm, "-f", str(CHART / "ci" / "external-values.yaml"), "--set", "nats.auth.existingSecret=")
    assert emopulse_env(plain, "fusion")["EMOPULSE_NATS_URL"] == "nats://nats.messaging.svc:4222"
    assert "NATS_PASSWORD" not in env_of(pod_spec(deployment_of(plain, "fusion"))["containers"][0])
    # a URL that already holds credentials is refused without printing them
    both = helm_template(helm, "--set", "nats.url=nats://app:hunter2@n:4222", "--set", "nats.auth.existingSecret=s")
    assert both.returncode != 0 and "hunter2" not in both.stderr


def release_pods(docs) -> dict[str, dict]:
    return {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"] for d in docs if d["kind"] in WORKLOADS}


@pytest.mark.parametrize("values", VALUES)
def test_network_policies_are_on_and_triton_admits_only_the_release(rendered, values):
    """NetworkPolicies render by default (and with every values file). Triton's admits HTTP and
    gRPC only from pods carrying this release's name and instance labels (every pod of the release
    does; another release's do not), in its own namespace; its metrics port is open to
    networkPolicy.metricsFrom as every other component's is. NATS's route port admits NATS pods only."""
    docs = rendered(values)
    policies = {p["metadata"]["name"]: p["spec"] for p in docs.of("NetworkPolicy")}
    services = {f"t-emopulse-{d['metadata']['labels']['app.kubernetes.io/component']}" for d in services_of(docs)}
    assert services and services <= set(policies)
    release = {"app.kubernetes.io/name": "emopulse", "app.kubernetes.io/instance": "t"}
    pods = release_pods(docs)
    assert all(release.items() <= labels.items() for labels in pods.values()), pods
    other_release = {**next(iter(pods.values())), "app.kubernetes.io/instance": "other"}
    assert not release.items() <= other_release.items()
    service_metrics = {json.dumps(p["ingress"][1].get("from")) for n, p in policies.items() if n in services}
    assert len(service_metrics) == 1                  # networkPolicy.metricsFrom, the same for every service
    triton_deployment = [d for d in docs.of("Deployment") if d["metadata"]["labels"]["app.kubernetes.io/component"] == "triton"]
    if not triton_deployment:
        assert "t-emopulse-triton" not in policies
        return
    triton = policies["t-emopulse-triton"]
    assert triton["podSelector"]["matchLabels"] == triton_deployment[0]["spec"]["selector"]["matchLabels"]
    assert triton["policyTypes"] == ["Ingress"]
    container_ports = {p["name"] for p in pod_spec(triton_deployment[0])["containers"][0]["ports"]}
    seen = set()
    for rule in triton["ingress"]:
        ports = {p["port"] for p in rule["ports"]}
        assert ports <= container_ports, ports                           # named ports that exist
        seen |= ports
        if ports & {"http", "grpc"}:
            assert rule["from"] == [{"podSelector": {"matchLabels": release}}], rule
        else:
            assert ports == {"metrics"}, rule                                # only metrics may be open wider
            assert json.dumps(rule.get("from")) in service_metrics
    assert seen == {"http", "grpc", "metrics"}
    nats = policies.get("t-emopulse-nats")
    if nats:
        cluster = [r for r in nats["ingress"] if {"port": "cluster", "protocol": "TCP"} in r["ports"]]
        assert len(cluster) == 1 and cluster[0]["ports"] == [{"port": "cluster", "protocol": "TCP"}]
        assert cluster[0]["from"] == [{"podSelector": {"matchLabels": {**release, "app.kubernetes.io/component": "nats"}}}]


def test_network_policies_can_be_switched_off(helm):
    assert not render(helm, "--set", "networkPolicy.enabled=false").of("NetworkPolicy")


def test_gateway_tls(helm, rendered):
    """components.gateway.tls: the kubernetes.io/tls Secret's tls.crt and tls.key (and ca.crt for
    client certificates, here from a Secret of its own) mounted read-only into the gateway only,
    EMOPULSE_TLS_* naming the mounted files, and probes that work over TLS (tcpSocket: the kubelet's
    grpc probe cannot do TLS). Off by default."""
    tls_dir = "/etc/emopulse/tls"
    default = rendered()
    for doc in services_of(default):
        main = pod_spec(doc)["containers"][0]
        assert not {"EMOPULSE_TLS_CERT", "EMOPULSE_TLS_KEY", "EMOPULSE_TLS_CLIENT_CA"} & set(env_of(main))
        assert "tls" not in {v["name"] for v in pod_spec(doc)["volumes"]}
        assert "grpc" in main["readinessProbe"]

    def check(docs, cert_secret: str, ca_secret: str | None):
        gateway = deployment_of(docs, "gateway")
        for version in K8S_VERSIONS:
            kubernetes_validate.validate(gateway, version, strict=True)
        pod = pod_spec(gateway)
        main = pod["containers"][0]
        volume = next(v for v in pod["volumes"] if v["name"] == "tls")
        sources = volume["projected"]["sources"]
        assert volume["projected"]["defaultMode"] == 0o440
        files = {i["path"]: (src["secret"]["name"], i["key"]) for src in sources for i in src["secret"]["items"]}
        expected = {"tls.crt": (cert_secret, "tls.crt"), "tls.key": (cert_secret, "tls.key")}
        if ca_secret:
            expected["ca.crt"] = (ca_secret, "ca.crt")
        assert files == expected
        mount = next(m for m in main["volumeMounts"] if m["name"] == "tls")
        assert mount == {"name": "tls", "mountPath": tls_dir, "readOnly": True}
        env = {k: v["value"] for k, v in env_of(main).items() if k.startswith("EMOPULSE_TLS_")}
        want = {"EMOPULSE_TLS_CERT": f"{tls_dir}/tls.crt", "EMOPULSE_TLS_KEY": f"{tls_dir}/tls.key"}
        if ca_secret:
            want["EMOPULSE_TLS_CLIENT_CA"] = f"{tls_dir}/ca.crt"
        assert env == want
        assert {p[len(tls_dir) + 1:] for p in env.values()} == set(files)     # every file named is mounted
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert main[probe]["tcpSocket"] == {"port": "grpc"}, probe
        assert main["readinessProbe"]["periodSeconds"] == 10
        for doc in services_of(docs):                                      # the workers: no TLS, grpc probes
            if doc is not gateway:
                worker = pod_spec(doc)["containers"][0]
                assert not any(k.startswith("EMOPULSE_TLS_") for k in env_of(worker))
                assert worker["readinessProbe"]["grpc"]["port"] == 50051

    check(rendered("ha-values.yaml"), "emopulse-gateway-tls", "emopulse-clients-ca")
    check(render(helm, "--set", "components.gateway.tls.secretName=gw-tls"), "gw-tls", None)
    check(render(helm, "--set", "components.gateway.tls.secretName=gw-tls", "--set", "components.gateway.tls.clientAuth=true"),
          "gw-tls", "gw-tls")                                              # ca.crt from the certificate's own Secret
