"""The `emopulse` command against the running stack, and its one-sentence errors."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from emopulse.stack import free_port

pytestmark = pytest.mark.slow


def emopulse(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emopulse.cli", *args], capture_output=True, text=True, timeout=300, env=env)


def test_analyze_prints_each_utterance_and_the_summary(stack, talking_clip, tmp_path):
    report = tmp_path / "r.html"
    run = emopulse("analyze", str(talking_clip[0]), "--gateway", stack.gateway, "--report", str(report))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len([l for l in lines if l.startswith("[")]) == 3
    assert "text+audio+vision" in lines[0] and "keys" in lines[2]
    assert lines[3].startswith("3 utterances in")
    assert report.read_text().count("<svg") == 3


def test_analyze_json_is_one_object_per_line(stack, talking_clip):
    run = emopulse("analyze", str(talking_clip[0]), "--gateway", stack.gateway, "--json")
    assert run.returncode == 0, run.stderr
    events = [json.loads(line) for line in run.stdout.splitlines()]
    results = [e for e in events if e["event"] == "result"]
    assert len(results) == 3 and events[-1]["event"] == "summary" and events[-1]["utteranceCount"] == 3
    assert [r.get("index", 0) for r in results] == [0, 1, 2]
    job_id = results[0]["jobId"]
    listed = emopulse("jobs", "--gateway", stack.gateway)
    assert job_id in listed.stdout and "SUCCEEDED" in listed.stdout
    watched = emopulse("watch", job_id, "--gateway", stack.gateway, "--json")
    assert [json.loads(l) for l in watched.stdout.splitlines()] == events


@pytest.mark.parametrize("args, message, code", [
    (["analyze", "/no/such/file.mp4", "--gateway", "127.0.0.1:1"], "no such file", 2),
    (["watch", "0123456789abcdef", "--gateway", "127.0.0.1:{port}"], "unreachable", 1),
])
def test_user_errors_are_one_sentence_without_traceback(args, message, code):
    args = [a.replace("{port}", str(free_port())) for a in args]
    run = emopulse(*args)
    assert run.returncode == code and message in run.stderr and "Traceback" not in run.stderr


def test_no_running_stack_says_how_to_start_one(tmp_path, talking_clip):
    import os
    run = emopulse("analyze", str(talking_clip[0]), env={**os.environ, "EMOPULSE_DATA_DIR": str(tmp_path)})
    assert run.returncode == 2 and "emopulse up" in run.stderr and "Traceback" not in run.stderr


def test_unknown_job_is_reported(stack):
    run = emopulse("cancel", "0123456789abcdef", "--gateway", stack.gateway)
    assert run.returncode == 1 and "no job with id" in run.stderr


def test_up_status_down_beside_another_stack(stack, tmp_path):
    """A second embedded stack (own data dir and ports) runs beside the session's; down stops exactly it."""
    import os
    from emopulse.stack import Stack, _alive
    env = {**os.environ, "EMOPULSE_DATA_DIR": str(tmp_path)}
    port = free_port()
    try:
        up = emopulse("up", "--port", str(port), "--workers", "vision=2", env=env)
        assert up.returncode == 0, up.stderr
        assert f"gateway 127.0.0.1:{port}" in up.stdout
        status = emopulse("status", env=env)
        assert status.returncode == 0 and status.stdout.count("serving") == 8 and status.stdout.count("ready") == 2
        assert "vision-2" in status.stdout
        assert (tmp_path / "logs" / "triton.log").exists()
        pids = Stack.load(tmp_path).pids
        assert set(pids.values()).isdisjoint(stack.pids.values())
    finally:
        down = emopulse("down", env=env)
    assert down.returncode == 0 and not any(_alive(pid) for pid in pids.values())
    assert all(_alive(pid) for pid in stack.pids.values()), "the session's stack is untouched"
    assert emopulse("status", env=env).returncode == 1
