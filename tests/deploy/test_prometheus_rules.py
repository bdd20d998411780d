"""Alert rules: `promtool check rules` and `promtool test rules` (the Debian prometheus package)."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.conftest import REPO

RULES = REPO / "deploy" / "prometheus"


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: make deps installs the Debian package prometheus"
    return path


def run(*argv) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def test_rules_are_valid(promtool):
    proc = run(promtool, "check", "rules", str(RULES / "alerts.yaml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 17 rules found" in proc.stdout


def test_rule_unit_tests_pass(promtool):
    proc = run(promtool, "test", "rules", str(RULES / "alerts_test.yaml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_unit_tests_catch_a_broken_threshold(promtool, tmp_path: Path):
    """The rule tests have teeth: the same tests fail against rules with a wrong threshold."""
    shutil.copy(RULES / "alerts_test.yaml", tmp_path)
    broken = (RULES / "alerts.yaml").read_text().replace("rate(emopulse_events_consumed_total[5m])) > 0.05",
                                                         "rate(emopulse_events_consumed_total[5m])) > 0.5")
    assert broken != (RULES / "alerts.yaml").read_text()
    (tmp_path / "alerts.yaml").write_text(broken)
    proc = run(promtool, "test", "rules", str(tmp_path / "alerts_test.yaml"))
    assert proc.returncode != 0
    assert "EmoPulseWorkerErrorRatioHigh" in proc.stdout + proc.stderr


def test_every_alert_is_unit_tested():
    import yaml
    rules = yaml.safe_load((RULES / "alerts.yaml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    tests = yaml.safe_load((RULES / "alerts_test.yaml").read_text())
    fired = {t["alertname"] for case in tests["tests"] for t in case["alert_rule_test"] if t["exp_alerts"]}
    assert alerts == fired


def test_ingest_capacity_in_the_saturation_alert_is_the_setting():
    """EmoPulseIngestSaturated divides by a fixed STREAMS_PER_INGEST: the chart's value and the
    services' default."""
    import yaml
    from emopulse.runtime.settings import Settings
    rules = yaml.safe_load((RULES / "alerts.yaml").read_text())
    expr = next(r["expr"] for g in rules["groups"] for r in g["rules"] if r.get("alert") == "EmoPulseIngestSaturated")
    per_ingest = int(re.search(r"\(\s*(\d+)\s*\*\s*count\(up\{component=\"ingest\"\}", expr)[1])
    values = yaml.safe_load((REPO / "deploy" / "helm" / "emopulse" / "values.yaml").read_text())
    assert per_ingest == int(values["settings"]["STREAMS_PER_INGEST"]) == Settings().streams_per_ingest


def test_stream_alerts_cover_the_ingest_target():
    """The ingest is a component like the others for the availability alerts."""
    text = (RULES / "alerts.yaml").read_text()
    assert "fusion|ingest|triton" in text and 'absent(up{component="ingest"})' in text


def test_pulse_alerts_read_a_window_the_chart_computes():
    """The pulse rules read the 60 s window of the pulse gauges, which the chart's PULSE_WINDOWS_S
    (and the services' default) includes; the pulse is a component like the others for the
    availability alerts."""
    import yaml
    from emopulse.runtime.settings import Settings
    rules = yaml.safe_load((RULES / "alerts.yaml").read_text())
    pulse = {r["alert"]: r["expr"] for g in rules["groups"] if g["name"] == "emopulse.pulse" for r in g["rules"]}
    assert set(pulse) == {"EmoPulseStreamNegative", "EmoPulseStreamSentimentLow", "EmoPulseStreamSilent",
                          "EmoPulseWebhookDeliveriesFailing"}
    windows = {w for name, expr in pulse.items() for w in re.findall(r'window="([^"]+)"', expr)}
    assert windows == {"60s"}
    values = yaml.safe_load((REPO / "deploy" / "helm" / "emopulse" / "values.yaml").read_text())
    chart = Settings(pulse_windows_s=values["settings"]["PULSE_WINDOWS_S"]).pulse_windows()
    assert 60 in chart and 60 in Settings().pulse_windows()
    text = (RULES / "alerts.yaml").read_text()
    assert "|triton|pulse\"} == 0" in text and 'absent(up{component="pulse"})' in text
