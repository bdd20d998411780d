"""A real Prometheus (Debian `prometheus`) scrapes the running embedded stack: every service's
metrics port and Triton's. After one job, the series arrive in Prometheus with the job's numbers."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from emopulse.stack import SERVICES, free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
COMPONENTS = (*SERVICES, "triton")
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yaml"


def prometheus_config(stack, rules: Path) -> dict:
    """Scrape config for the embedded stack: one target per component, labelled like the chart's
    ServiceMonitor/PodMonitor labels them (`component`), so the same alert rules apply."""
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [{
            "job_name": "emopulse",
            # replicas (vision-2) share their service's component label, as pods of one Deployment do
            "static_configs": [{"targets": [address], "labels": {"component": name.split("-")[0], "process": name}}
                               for name, address in sorted(stack.scrape_targets().items())],
        }],
    }


class Prometheus:
    def __init__(self, url: str):
        self.url = url

    def get(self, path: str, **params) -> dict:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as reply:
            body = json.load(reply)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        return self.get("/api/v1/query", query=expr)["result"]

    def value(self, expr: str) -> float:
        """The single value of a scalar-like expression (`sum(...) or vector(0)`)."""
        result = self.query(expr)
        assert len(result) == 1, (expr, result)
        return float(result[0]["value"][1])

    def wait(self, what: str, check, timeout: float = 30):
        deadline = time.time() + timeout
        while True:
            got = check()
            if got:
                return got
            assert time.time() < deadline, f"Prometheus: {what} within {timeout:.0f}s"
            time.sleep(0.5)


@pytest.fixture(scope="module")
def prometheus(stack, tmp_path_factory):
    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing: make deps installs the Debian package"
    work = tmp_path_factory.mktemp("prometheus")
    config = work / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus_config(stack, ALERTS)))
    port = free_port()
    log = open(work / "prometheus.log", "wb")
    proc = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={work / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}",
                             "--storage.tsdb.retention.time=1h"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        prom = Prometheus(f"http://127.0.0.1:{port}")

        def ready():
            assert proc.poll() is None, (work / "prometheus.log").read_text()[-2000:]
            try:
                with urllib.request.urlopen(f"{prom.url}/-/ready", timeout=1) as reply:
                    return reply.status == 200
            except OSError:
                return False
        prom.wait("ready", ready, 60)
        yield prom
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()


def test_every_scrape_target_is_up(prometheus, stack):
    processes = {*stack.processes, "triton"}
    assert set(stack.scrape_targets()) == processes
    assert {name.split("-")[0] for name in processes} == set(COMPONENTS)

    def all_up():
        active = prometheus.get("/api/v1/targets")["activeTargets"]
        health = {t["labels"]["process"]: t["health"] for t in active}
        return health if health == {p: "up" for p in processes} else None
    prometheus.wait("every target up", all_up, 30)
    up = {r["metric"]["process"]: r["value"][1] for r in prometheus.query('up{job="emopulse"}')}
    assert up == {p: "1" for p in processes}


def test_alert_rules_load_and_evaluate_against_live_series(prometheus):
    def evaluated():
        groups = prometheus.get("/api/v1/rules")["groups"]
        rules = [r for g in groups for r in g["rules"]]
        return rules if rules and all(r.get("lastEvaluation", "").startswith("20") for r in rules) else None
    rules = prometheus.wait("rules evaluated", evaluated, 30)
    written = sum(len(group["rules"]) for group in yaml.safe_load(ALERTS.read_text())["groups"])
    assert len(rules) == written and all(r["health"] == "ok" for r in rules), [(r["name"], r.get("lastError")) for r in rules]
    down = [r for r in rules if r["name"] == "EmoPulseServiceDown"][0]
    assert down["alerts"] == []


# Counters read before and after the job: expression -> expected increase (None = at least 1).
COUNTERS = {
    "sum(emopulse_fusion_utterances_fused_total)": "utterances",
    "sum(emopulse_gateway_jobs_created_total)": 1,
    'sum(emopulse_gateway_rpcs_total{method="Upload", code="OK"})': 1,
    'sum(emopulse_gateway_rpcs_total{method="Subscribe", code="OK"})': 1,
    'sum(emopulse_jobs_finished_total{state="SUCCEEDED"})': 1,
    "sum(emopulse_job_duration_seconds_count)": 1,
    'sum(emopulse_stage_seconds_count{stage="fusion"})': "utterances",
    'sum(emopulse_stage_seconds_count{stage="transcribe"})': None,
    'sum(nv_inference_count{model="fusion"})': "utterances",
    'sum(nv_inference_request_success{model="fusion"})': "utterances",
    'sum(nv_inference_count{model="speech_to_text"})': None,
    'sum(nv_inference_count{model="face_expression"})': None,
    'sum(emopulse_events_consumed_total{service="vision"})': "at least utterances",
    'sum(emopulse_events_consumed_total{service="audiotext"})': "at least utterances",
    "sum(emopulse_fusion_result_lag_seconds_count)": "utterances",
}


def test_a_job_shows_up_in_prometheus(prometheus, stack, client, talking_clip):
    path, placed = talking_clip
    prometheus.wait("every target scraped",
                    lambda: len(prometheus.query('up{job="emopulse"} == 1')) == len(stack.scrape_targets()))
    time.sleep(2)  # one more scrape of every target, so "before" is current
    before = {expr: prometheus.value(f"{expr} or vector(0)") for expr in COUNTERS}

    job = client.upload(path)
    events = list(client.subscribe(job.id, timeout=240))
    results = [e.result for e in events if e.HasField("result")]
    assert len(results) == len(placed) == 3
    n = len(results)

    def expected(rule) -> tuple[float, float]:
        if rule == "utterances":
            return n, n
        if rule == "at least utterances":
            return n, float("inf")
        return (1, float("inf")) if rule is None else (rule, rule)

    def increases():
        got = {expr: prometheus.value(f"{expr} or vector(0)") - before[expr] for expr in COUNTERS}
        ok = all(lo <= got[e] <= hi for e, (lo, hi) in ((e, expected(r)) for e, r in COUNTERS.items()))
        return got if ok else None
    try:
        prometheus.wait("every counter increased by the job's numbers", increases, 30)
    except AssertionError:
        got = {expr: prometheus.value(f"{expr} or vector(0)") - before[expr] for expr in COUNTERS}
        raise AssertionError(f"increase per series after a job of {n} utterances: {got}") from None

    # the live-sentiment gauge: one series per sentiment, a distribution
    sentiment = {r["metric"]["sentiment"]: float(r["value"][1]) for r in prometheus.query("emopulse_live_sentiment")}
    assert set(sentiment) == {"positive", "neutral", "negative"}
    assert sum(sentiment.values()) == pytest.approx(1, abs=1e-3)
    # the dashboard's stage-latency query answers for every stage this job went through (a rate
    # needs two scrapes of a series that appeared during the job: poll)
    stages = {"transcribe", "text", "audio", "vision", "fusion"}
    p95 = 'histogram_quantile(0.95, sum by (le, stage) (rate(emopulse_stage_seconds_bucket[1m])))'
    prometheus.wait("stage p95 for every stage", lambda: stages <= {r["metric"]["stage"] for r in prometheus.query(p95)})
