"""The embedded stack: nats-server, tritonserver and every service as local processes on loopback.

Used by `emopulse up/down/status` and by the tests. The stack records what it started (pids, ports)
in <data_dir>/stack.json so `down` stops exactly that, and two stacks with different data dirs run
side by side.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from emopulse.tritonserver import triton_command

REPO_ROOT = Path(__file__).resolve().parent.parent
NATS_USER = "emopulse"
SERVICES = ("gateway", "transcriber", "ingest", "audiotext", "vision", "fusion", "pulse")


_HANDED_OUT: set[int] = set()


def _ephemeral_low() -> int:
    """Where the OS's range for outgoing connections starts (Linux; 32768 elsewhere, a common start)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A loopback port free now, chosen below the OS's ephemeral range: a port the OS hands out (bind
    to 0) is also what outgoing connections get, and one may take it before the process that is to
    listen on it starts (seen as "Address already in use" at a service's start)."""
    span = range(10000, max(_ephemeral_low(), 11000))
    for _ in range(200):
        port = secrets.choice(span)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError(f"no free loopback port in {span.start}-{span.stop - 1}")


def _bin(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def grpc_serving(address: str, timeout: float = 1.0) -> bool:
    try:
        with grpc.insecure_channel(address) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
            return reply.status == health_pb2.HealthCheckResponse.SERVING
    except grpc.RpcError:
        return False


def triton_ready(http_port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/v2/health/ready", timeout=1) as reply:
            return reply.status == 200
    except OSError:
        return False


def tcp_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Ports:
    nats: int
    triton_http: int
    triton_grpc: int
    triton_metrics: int
    gateway: int
    services: dict[str, int]   # health/reflection gRPC port of each worker process
    metrics: dict[str, int]    # Prometheus port of each service process

    @classmethod
    def pick(cls, gateway: int = 0, workers: dict[str, int] | None = None) -> "Ports":
        names = process_names(workers or {})
        return cls(free_port(), free_port(), free_port(), free_port(), gateway or free_port(),
                   {n: free_port() for n in names if n != "gateway"}, {n: free_port() for n in names})


def process_names(workers: dict[str, int]) -> list[str]:
    """One process per service, or workers[service] of them: vision, vision-2, ..."""
    names = []
    for service in SERVICES:
        count = 1 if service == "gateway" else max(1, workers.get(service, 1))
        names += [service] + [f"{service}-{i}" for i in range(2, count + 1)]
    return names


def parse_workers(text: str) -> dict[str, int]:
    """'vision=2,audiotext=2' -> {'vision': 2, 'audiotext': 2}."""
    workers = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, count = part.partition("=")
        if name not in SERVICES or name == "gateway" or not count.isdigit() or int(count) < 1:
            raise ValueError(f"{part!r}: expected WORKER=COUNT with a worker among {', '.join(SERVICES[1:])}")
        workers[name] = int(count)
    return workers


@dataclass
class Stack:
    data_dir: Path
    ports: Ports
    env: dict[str, str] = field(default_factory=dict)        # extra EMOPULSE_* settings for every service
    pids: dict[str, int] = field(default_factory=dict)
    model_repository: Path = REPO_ROOT / "models"            # what tritonserver serves
    procs: dict[str, subprocess.Popen] = field(default_factory=dict, repr=False)
    nats_password: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)  # NATS refuses anonymous clients

    @classmethod
    def new(cls, data_dir: Path, gateway_port: int = 0, env: dict[str, str] | None = None,
            model_repository: Path | None = None, workers: dict[str, int] | None = None) -> "Stack":
        return cls(Path(data_dir).resolve(), Ports.pick(gateway_port, workers), dict(env or {}),
                   model_repository=Path(model_repository or REPO_ROOT / "models").resolve())

    # ---- addresses -----------------------------------------------------------------------
    @property
    def gateway(self) -> str:
        return f"127.0.0.1:{self.ports.gateway}"

    @property
    def nats_url(self) -> str:
        return f"nats://{NATS_USER}:{self.nats_password}@127.0.0.1:{self.ports.nats}"

    @property
    def processes(self) -> list[str]:
        """Service process names in start order (the workers' extra replicas included)."""
        return list(self.ports.metrics)

    def grpc_port(self, name: str) -> int:
        return self.ports.gateway if name == "gateway" else self.ports.services[name]

    def scrape_targets(self) -> dict[str, str]:
        targets = {s: f"127.0.0.1:{p}" for s, p in self.ports.metrics.items()}
        targets["triton"] = f"127.0.0.1:{self.ports.triton_metrics}"
        return targets

    def service_env(self, name: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "EMOPULSE_NATS_URL": self.nats_url,
            "EMOPULSE_TRITON_URL": f"127.0.0.1:{self.ports.triton_grpc}",
            "EMOPULSE_GRPC_PORT": str(self.grpc_port(name)),
            "EMOPULSE_METRICS_PORT": str(self.ports.metrics[name]),
            "EMOPULSE_DATA_DIR": str(self.data_dir),
            "EMOPULSE_BIND_HOST": "127.0.0.1",  # nothing of the embedded stack listens beyond this machine
            "PYTHONPATH": str(REPO_ROOT),
        })
        env.update(self.env)
        return env

    # ---- processes -----------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        logs = self.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(argv, env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs[name] = proc
        self.pids[name] = proc.pid
        self.save()

    def start_nats(self) -> None:
        config = self.data_dir / "nats.conf"
        # NATS's default 1 MB payload limit holds: utterance audio travels by reference, not on the bus.
        config.write_text(f'listen: "127.0.0.1:{self.ports.nats}"\n'
                          f'authorization {{ user: "{NATS_USER}", password: "{self.nats_password}" }}\n'
                          f'jetstream {{ store_dir: "{self.data_dir / "nats"}" }}\n')
        config.chmod(0o600)
        self._spawn("nats", [_bin("nats-server"), "-c", str(config)], dict(os.environ))
        self._wait("nats", lambda: tcp_open(self.ports.nats), 20)

    def start_triton(self, timeout: float = 300) -> None:
        argv, env = triton_command(self.model_repository, self.data_dir / "triton", self.ports.triton_http,
                                   self.ports.triton_grpc, self.ports.triton_metrics)
        env = {**env, **{k: v for k, v in self.env.items() if k.startswith("EMOPULSE_")}}
        self._spawn("triton", argv, env)
        self._wait("triton", lambda: triton_ready(self.ports.triton_http), timeout)

    def start_service(self, name: str, timeout: float = 60) -> None:
        """Start one service process (`vision`, or a replica such as `vision-2`)."""
        service = name.split("-")[0]
        self._spawn(name, [sys.executable, "-m", f"services.{service}"], self.service_env(name))
        self._wait(name, lambda: grpc_serving(f"127.0.0.1:{self.grpc_port(name)}"), timeout)

    def start_component(self, name: str) -> None:
        """(Re)start one component by name: nats, triton, or a service process."""
        {"nats": self.start_nats, "triton": self.start_triton}.get(name, lambda: self.start_service(name))()

    def start(self, progress=print) -> "Stack":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        progress("starting nats-server")
        self.start_nats()
        progress("starting tritonserver (loads every model)")
        self.start_triton()
        for name in self.processes:
            progress(f"starting {name}")
            self.start_service(name)
        return self

    def _wait(self, name: str, ready, timeout: float) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if ready():
                return
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{name} exited with code {proc.returncode}; see {self.data_dir}/logs/{name}.log:\n"
                                   + self.log_tail(name))
            time.sleep(0.2)
        raise RuntimeError(f"{name} was not ready within {timeout:.0f}s; see {self.data_dir}/logs/{name}.log:\n"
                           + self.log_tail(name))

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.data_dir / "logs" / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        pid = self.pids.pop(name, None)
        proc = self.procs.pop(name, None)
        if pid is None:
            return
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass
        if proc is not None:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(pid, signal.SIGKILL)
                proc.wait()
        else:
            _wait_gone(pid, 20)
        self.save()

    def stop(self) -> None:
        """Stop what this stack started: services first, then Triton, then NATS."""
        for name in [*reversed(self.processes), "triton", "nats"]:
            self.kill(name, signal.SIGTERM)
        (self.data_dir / "stack.json").unlink(missing_ok=True)

    def status(self) -> dict[str, str]:
        out = {}
        for name in ["nats", "triton", *self.processes]:
            pid = self.pids.get(name)
            if pid is None or not _alive(pid):
                out[name] = "not running"
            elif name == "nats":
                out[name] = "ready" if tcp_open(self.ports.nats) else "starting"
            elif name == "triton":
                out[name] = "ready" if triton_ready(self.ports.triton_http) else "not ready"
            else:
                out[name] = "serving" if grpc_serving(f"127.0.0.1:{self.grpc_port(name)}") else "not serving"
        return out

    # ---- state file ----------------------------------------------------------------------
    def save(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        doc = {"ports": asdict(self.ports), "env": self.env, "pids": self.pids,
               "model_repository": str(self.model_repository), "nats_password": self.nats_password}
        path = self.data_dir / "stack.json"
        path.touch(mode=0o600)  # it holds the NATS password: readable by this user only
        path.write_text(json.dumps(doc, indent=1))

    @classmethod
    def load(cls, data_dir: Path) -> "Stack | None":
        path = Path(data_dir) / "stack.json"
        if not path.exists():
            return None
        doc = json.loads(path.read_text())
        return cls(Path(data_dir).resolve(), Ports(**doc["ports"]), doc["env"], {k: int(v) for k, v in doc["pids"].items()},
                   model_repository=Path(doc["model_repository"]), nats_password=doc.get("nats_password", ""))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child counts as gone
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.time() + timeout
    while _alive(pid) and time.time() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.killpg(pid, signal.SIGKILL)
