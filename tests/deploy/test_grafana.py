"""The Grafana dashboard: importable JSON whose queries use only metrics that exist."""
from __future__ import annotations

import importlib
import importlib.util
import json
import re

import yaml
from prometheus_client import REGISTRY

from emopulse.stack import SERVICES
from tests.deploy.conftest import REPO

DASHBOARD = REPO / "deploy" / "grafana" / "emopulse.json"
# Series from outside our code: Prometheus itself, Triton, the NATS exporter (-jsz=all).
EXTERNAL = {"up", "nv_inference_count", "nv_inference_exec_count", "nv_inference_request_success",
            "nv_inference_request_failure", "nv_inference_queue_duration_us",
            "jetstream_consumer_num_pending", "jetstream_consumer_num_ack_pending"}
# The live-stream ingest's metrics (services/ingest): the "Live streams" row must show each.
INGEST = {"emopulse_ingest_streams", "emopulse_ingest_stream_up", "emopulse_ingest_stream_lag_seconds",
          "emopulse_ingest_reconnects_total", "emopulse_ingest_takeovers_total", "emopulse_ingest_partials_dropped_total",
          "emopulse_ingest_final_latency_seconds", "emopulse_ingest_partial_latency_seconds"}
# The live pulse's metrics (services/pulse): the "Live pulse" row must show each.
PULSE = {"emopulse_pulse_sentiment", "emopulse_pulse_negative_share", "emopulse_pulse_speaking_ratio",
         "emopulse_pulse_faces", "emopulse_pulse_media_seconds", "emopulse_alerts_total",
         "emopulse_webhook_deliveries_total"}
PROMQL_WORDS = {"sum", "by", "rate", "histogram_quantile", "avg", "le", "and", "or", "absent", "delta",
                "without", "on", "ignoring", "group_left", "group_right", "max", "min", "count", "clamp_min",
                "deriv", "increase", "changes", "bool"}


def exprs_of_dashboard() -> list[str]:
    doc = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in doc["panels"] for t in p.get("targets", [])]


def metric_names(expr: str) -> set[str]:
    expr = re.sub(r"\{[^}]*\}", "", expr)              # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)             # ranges
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right) ?\([^)]*\)", "", expr)   # grouping / matching labels
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr))
    return {w for w in words if w not in PROMQL_WORDS and not re.fullmatch(r"e\d+", w)}


def our_metrics() -> set[str]:
    """Names (with _bucket/_count/_sum/_total series) every service module registers."""
    for service in dict.fromkeys((*SERVICES, "pulse")):     # the pulse: its row and rules read its metrics
        importlib.import_module(f"services.{service}.service")
    names = set()
    for collector in list(REGISTRY._collector_to_names):
        for metric in collector.describe() if hasattr(collector, "describe") else []:
            names.add(metric.name)
            names |= {metric.name + s for s in ("_total", "_bucket", "_count", "_sum", "_created")}
    return names


def test_dashboard_shape():
    doc = json.loads(DASHBOARD.read_text())
    assert doc["uid"] and doc["title"] == "EmoPulse"
    assert doc["templating"]["list"][0]["type"] == "datasource"
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    titles = " ".join(p["title"].lower() for p in doc["panels"])
    for needed in ("jobs per second", "utterances", "stage latency p50 / p95", "consumer lag", "error rate",
                   "triton inferences", "triton queue time", "live sentiment", "live streams by state",
                   "live stream up", "live stream lag", "reconnects", "final latency", "partial latency",
                   "fusion result lag"):
        assert needed in titles, needed
    rows = [p["title"] for p in doc["panels"] if p["type"] == "row"]
    assert "Live streams" in rows
    for p in doc["panels"]:
        if p["type"] != "row":
            assert p["targets"] and p["datasource"]["uid"] == "${datasource}"


def test_queries_use_existing_metrics():
    ours = our_metrics()
    assert "emopulse_fusion_utterances_fused_total" in ours and "emopulse_stage_seconds_bucket" in ours
    rules = yaml.safe_load((REPO / "deploy" / "prometheus" / "alerts.yaml").read_text())
    exprs = exprs_of_dashboard() + [r["expr"] for g in rules["groups"] for r in g["rules"]]
    unknown = set()
    for expr in exprs:
        unknown |= {n for n in metric_names(expr) if n not in ours and n not in EXTERNAL}
    assert not unknown, f"queries name metrics nobody exports: {sorted(unknown)}"
    assert "made_up_metric_total" in metric_names("sum(rate(made_up_metric_total[5m]))")


def test_live_stream_panels():
    """The "Live streams" row: every ingest metric is on it, latencies as p50 and p95 quantiles."""
    doc = json.loads(DASHBOARD.read_text())
    panels = doc["panels"]
    start = next(i for i, p in enumerate(panels) if p["type"] == "row" and p["title"] == "Live streams")
    row = panels[start + 1:]
    row = row[:next((i for i, p in enumerate(row) if p["type"] == "row"), len(row))]
    exprs = [t["expr"] for p in row for t in p["targets"]]
    named = set().union(*(metric_names(e) for e in exprs))
    assert {n.removesuffix("_bucket") for n in named} >= INGEST | {"emopulse_fusion_result_lag_seconds"}
    for metric in ("emopulse_ingest_final_latency_seconds", "emopulse_ingest_partial_latency_seconds"):
        quantiles = {e.split(",")[0] for e in exprs if f"{metric}_bucket" in e}
        assert quantiles == {"histogram_quantile(0.5", "histogram_quantile(0.95"}, metric
    assert any(e.startswith("histogram_quantile(0.95") and "emopulse_fusion_result_lag_seconds_bucket" in e for e in exprs)
    above = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels[:start])
    assert panels[start]["gridPos"]["y"] == above and all(p["gridPos"]["y"] > above for p in row)


def test_ingest_exports_its_listed_metrics():
    assert INGEST <= our_metrics()


def row_panels(panels: list[dict], title: str) -> tuple[int, list[dict]]:
    """The index of the row titled so, and the panels under it (up to the next row)."""
    start = next(i for i, p in enumerate(panels) if p["type"] == "row" and p["title"] == title)
    row = panels[start + 1:]
    return start, row[:next((i for i, p in enumerate(row) if p["type"] == "row"), len(row))]


def test_live_pulse_panels():
    """The "Live pulse" row: every pulse gauge per stream, the alert and webhook counters; the gauges
    read the window the `window` variable picks, from the replica with the stream's latest pulse."""
    doc = json.loads(DASHBOARD.read_text())
    panels = doc["panels"]
    start, row = row_panels(panels, "Live pulse")
    exprs = [t["expr"] for p in row for t in p["targets"]]
    assert set().union(*(metric_names(e) for e in exprs)) == PULSE
    gauges = PULSE - {"emopulse_pulse_media_seconds", "emopulse_alerts_total", "emopulse_webhook_deliveries_total"}
    for gauge in gauges:
        (expr,) = [e for e in exprs if gauge in e]
        assert expr.startswith("max by (stream) (") and f'{gauge}{{window="$window"}}' in expr, expr
        assert "group_left max by (stream) (emopulse_pulse_media_seconds)" in expr, expr   # the latest replica
    legends = {t["legendFormat"] for p in row for t in p["targets"] if metric_names(t["expr"]) & gauges}
    assert legends == {"{{stream}}"}
    assert any("by (kind, severity)" in e and "emopulse_alerts_total" in e for e in exprs)
    assert any("by (outcome)" in e and "emopulse_webhook_deliveries_total" in e for e in exprs)
    window = next(v for v in doc["templating"]["list"] if v["name"] == "window")
    assert "emopulse_pulse_sentiment, window" in window["definition"] and window["current"]["value"] == "60s"
    # the row comes after every other panel, and its panels under it
    above = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels[:start])
    assert panels[start]["gridPos"]["y"] == above and all(p["gridPos"]["y"] > above for p in row)
    assert "pulse" in next(t["expr"] for p in panels if p["title"] == "Targets up" for t in p["targets"])


def test_pulse_exports_its_listed_metrics():
    """What the row and the alert rules read is what services/pulse registers, and the pulse's
    window label is what its gauges get for the default windows ("10s", "60s", "300s")."""
    assert PULSE <= our_metrics()
    from emopulse.runtime.settings import Settings
    assert [f"{w:g}s" for w in Settings().pulse_windows()] == ["10s", "60s", "300s"]
