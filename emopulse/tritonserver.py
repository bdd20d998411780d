"""Launch the tritonserver binary bundled in nvidia-pytriton over a model repository (CPU).

``triton_command`` prepares ``work_dir/backends/python`` (the bundled Python backend plus the
Python 3.11 stub) and returns argv + env; ``wait_ready`` polls ``/v2/health/ready``; ``serve`` runs
one for the length of a ``with`` block (tests, benchmarks).

Traps handled here:

- The stub's embedded interpreter is isolated and ignores PYTHONPATH; it locates its prefix from
  ``python3`` on PATH, so the venv's ``bin`` is put first on PATH (the venv's site-packages are
  then used). The repo root is added to sys.path by each model.py.
- the backend stub links the system libpython3.11; when the venv's interpreter
is a different 3.11 build (pyenv), models fail with
``'_thread.RLock' object has no attribute '_recursion_count'`` unless the interpreter's own LIBDIR
comes first on LD_LIBRARY_PATH.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import site
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def pytriton_tritonserver_dir() -> Path:
    """`pytriton/tritonserver` inside the installed nvidia-pytriton wheel (found, not imported)."""
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("nvidia-pytriton is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "tritonserver"
    if not (path / "bin" / "tritonserver").is_file():
        raise RuntimeError(f"no tritonserver binary under {path}")
    return path


def _prepare_backends(work_dir: Path, bundled: Path) -> Path:
    """work_dir/backends/python = bundled backend files (symlinked) + the 3.11 stub (copied)."""
    backends = work_dir / "backends"
    py = backends / "python"
    py.mkdir(parents=True, exist_ok=True)
    for src in (bundled / "backends" / "python").iterdir():
        if src.name == "__pycache__":
            continue
        dst = py / src.name
        if not dst.exists():
            dst.symlink_to(src)
    ver = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub_src = bundled / "python_backend_stubs" / ver / "triton_python_backend_stub"
    if not stub_src.is_file():
        raise RuntimeError(f"no Python backend stub for Python {ver} in {stub_src.parent.parent}")
    stub = py / "triton_python_backend_stub"
    # Copied, not symlinked: the stub's RPATH ($ORIGIN/../../../../nvidia_pytriton.libs) is
    # resolved against the copy, so its libs are given via LD_LIBRARY_PATH below.
    if not stub.exists():
        tmp = py / f".stub-{os.getpid()}"
        shutil.copy2(stub_src, tmp)
        os.replace(tmp, stub)
    return backends


def triton_command(
    model_repository: Path,
    work_dir: Path,
    http_port: int,
    grpc_port: int,
    metrics_port: int,
    *,
    log_verbose: int = 0,
) -> tuple[list[str], dict[str, str]]:
    """argv and environment to run tritonserver on 127.0.0.1 over ``model_repository``.

    All models in the repository are loaded at start (--model-control-mode=none); the server
    exits if any fails (--exit-on-error) and is ready only when all are (--strict-readiness).
    """
    bundled = pytriton_tritonserver_dir()
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    backends = _prepare_backends(work_dir, bundled)
    libs = bundled.parent.parent / "nvidia_pytriton.libs"

    env = dict(os.environ)
    # The backend stub starts an *isolated* embedded interpreter (PyConfig_InitIsolatedConfig):
    # PYTHONPATH is ignored. It finds its prefix from `python3` on PATH, so the venv's bin goes
    # first: the stub then reads the venv's pyvenv.cfg and uses its site-packages. PYTHONPATH is
    # still set (model.py files append its entries to sys.path themselves, plus the repo root).
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    pythonpath = [*site.getsitepackages(), str(REPO_ROOT)]
    if env.get("PYTHONPATH"):
        pythonpath.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(pythonpath)
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    ld = [libdir, str(bundled / "lib"), str(libs), str(bundled / "backends" / "python")]
    if env.get("LD_LIBRARY_PATH"):
        ld.append(env["LD_LIBRARY_PATH"])
    env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in ld if p and Path(p).exists())
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env.setdefault("OMP_NUM_THREADS", "1")

    argv = [
        str(bundled / "bin" / "tritonserver"),
        f"--model-repository={Path(model_repository).resolve()}",
        f"--backend-directory={backends}",
        f"--cache-directory={bundled / 'caches'}",
        "--model-control-mode=none",
        "--exit-on-error=true",
        "--strict-readiness=true",
        "--allow-http=true",
        "--allow-grpc=true",
        "--allow-metrics=true",
        "--allow-gpu-metrics=false",
        "--allow-cpu-metrics=true",
        "--http-address=127.0.0.1",
        f"--http-port={http_port}",
        "--grpc-address=127.0.0.1",
        f"--grpc-port={grpc_port}",
        "--metrics-address=127.0.0.1",
        f"--metrics-port={metrics_port}",
        # Python-backend stubs talk over shared memory; /dev/shm may be small in containers.
        "--backend-config=python,shm-default-byte-size=8388608",
        f"--log-verbose={log_verbose}",
    ]
    return argv, env


def wait_ready(http_port: int, timeout: float, *, process=None, host: str = "127.0.0.1") -> float:
    """Poll GET /v2/health/ready until 200; return seconds waited. Raises TimeoutError.

    If ``process`` (a Popen) is given and exits meanwhile, raises RuntimeError at once.
    """
    url = f"http://{host}:{http_port}/v2/health/ready"
    start = time.monotonic()
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"tritonserver exited with code {process.returncode} before ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return time.monotonic() - start
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"tritonserver not ready on {url} after {timeout:.0f} s")
        time.sleep(0.1)


@contextlib.contextmanager
def serve(model_repository: Path, http_port: int, grpc_port: int, metrics_port: int, timeout: float = 300,
          env: dict[str, str] | None = None):
    """A tritonserver on these loopback ports for the block: yields (log path, seconds to ready);
    RuntimeError with the log's tail if it never gets ready; always stopped and cleaned up."""
    work = Path(tempfile.mkdtemp(prefix="emopulse-triton-"))
    argv, server_env = triton_command(model_repository, work, http_port, grpc_port, metrics_port)
    server_env.update(env or {})
    log_path = work / "tritonserver.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(argv, env=server_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        try:
            ready_s = wait_ready(http_port, timeout=timeout, process=proc)
        except Exception as exc:
            log.flush()
            raise RuntimeError(f"tritonserver not ready ({exc}):\n{log_path.read_text(errors='replace')[-6000:]}") from None
        yield log_path, ready_s
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()
        shutil.rmtree(work, ignore_errors=True)
