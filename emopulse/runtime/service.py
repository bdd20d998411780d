"""What every service does the same way: connect, serve health and metrics, run, shut down cleanly.

A service is a class built from a Runtime; it names the Triton models it needs (for health) and
implements `async run(stopping)`. The gateway also adds its API to `runtime.server`.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Protocol

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from emopulse.runtime import auth, bus, logs, metrics
from emopulse.runtime.dependencies import Dependencies
from emopulse.runtime.settings import Settings
from emopulse.runtime.storage import MediaStore
from emopulse.runtime.triton import Triton

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class Runtime:
    """Connections and servers one service process holds; built and closed by `serve()`."""

    def __init__(self, name: str, settings: Settings):
        self.name = name
        self.settings = settings
        self.log = logging.getLogger(name)
        self.nc = None
        self.js = None
        self.jobs: bus.JobStore | None = None
        self.triton: Triton | None = None
        self.dependencies: Dependencies | None = None
        self.store = MediaStore(settings)
        self.health = health.aio.HealthServicer()
        self.gate = auth.Gate()  # the gateway guards its API with it; health and reflection stay open
        self.server = grpc.aio.server(interceptors=[self.gate])
        self.service_names: list[str] = [health.SERVICE_NAME, reflection.SERVICE_NAME]
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)

    async def publish(self, subject: str, message, msg_id: str) -> bool:
        """Publish with a message id; False when JetStream dropped it as a repeat of that id."""
        return await bus.publish(self.js, subject, message, msg_id, self.name)

    def consumer(self, stream: str, subject: str, durable: str, handler, give_up) -> bus.Consumer:
        s = self.settings
        return bus.Consumer(self.js, self.name, stream, subject, durable, handler, give_up, self.dependencies,
                            concurrency=s.concurrency, ack_wait_s=s.ack_wait_s, max_deliver=s.max_deliver,
                            outage_budget_s=s.outage_budget_s, drain_s=s.shutdown_drain_s)


class Service(Protocol):
    models: tuple[str, ...]

    async def run(self, stopping: asyncio.Event) -> None: ...


async def _watch_health(runtime: Runtime, stopping: asyncio.Event) -> None:
    """Health follows real dependency state: NATS connected and every needed model ready."""
    while not stopping.is_set():
        ok = await runtime.dependencies.ready()
        status = SERVING if ok else NOT_SERVING
        await runtime.health.set("", status)
        await runtime.health.set(f"emopulse.{runtime.name}", status)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stopping.wait(), 2.0)


async def _bounded(runtime: Runtime, what: str, closing, timeout: float = 5.0) -> None:
    """Shutdown steps get a time limit: a stuck close must not keep the process from exiting."""
    try:
        await asyncio.wait_for(closing, timeout)
    except Exception as exc:
        runtime.log.warning("%s did not finish cleanly: %r", what, exc)


def _listen(server, settings: Settings, log: logging.Logger) -> int:
    """The gRPC port: TLS only when a certificate is set (and client certificates with a client CA)."""
    address = f"{settings.bind_host}:{settings.grpc_port}"
    if not settings.tls_cert:
        return server.add_insecure_port(address)
    files = CertificateFiles(settings.tls_cert, settings.tls_key, settings.tls_client_ca, log)
    credentials = grpc.dynamic_ssl_server_credentials(files.load(), files.changed,
                                                      require_client_authentication=bool(settings.tls_client_ca))
    return server.add_secure_port(address, credentials)


class CertificateFiles:
    """The TLS certificate, key and client CA, read again when a file changes: cert-manager renews a
    mounted Secret in place, and gRPC asks before each new connection (``changed``), so a renewed
    certificate is served without a restart. A half-written or broken renewal keeps the last good one."""

    def __init__(self, cert: str, key: str, client_ca: str, log: logging.Logger):
        self.paths = [p for p in (cert, key, client_ca) if p]
        self.cert, self.key, self.client_ca, self.log = cert, key, client_ca, log
        self.stamp: tuple = ()   # the files as last loaded
        self.broken: tuple = ()  # the files as they last failed to load (said once)

    def _stamp(self) -> tuple:
        return tuple((st.st_mtime_ns, st.st_size, st.st_ino) for st in (Path(p).stat() for p in self.paths))

    def load(self) -> grpc.ServerCertificateConfiguration:
        stamp = self._stamp()
        check = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)  # a key that fits its certificate, a CA
        check.load_cert_chain(self.cert, self.key)
        if self.client_ca:
            check.load_verify_locations(self.client_ca)
        ca = Path(self.client_ca).read_bytes() if self.client_ca else None
        config = grpc.ssl_server_certificate_configuration(
            [(Path(self.key).read_bytes(), Path(self.cert).read_bytes())], root_certificates=ca)
        self.stamp = stamp
        return config

    def changed(self) -> grpc.ServerCertificateConfiguration | None:
        try:
            stamp = self._stamp()
        except OSError:  # a file missing for a moment, mid-renewal
            return None
        if stamp in (self.stamp, self.broken):
            return None
        try:
            config = self.load()
        except OSError as exc:  # (ssl.SSLError too) a half-written renewal: tried again when the files change
            self.broken = stamp
            self.log.warning("TLS files changed but could not be loaded: %s; serving the previous certificate", exc)
            return None
        self.log.info("TLS certificate reloaded from %s", self.cert)
        return config


async def serve(name: str, build, settings: Settings | None = None) -> None:
    """Run one service until SIGTERM/SIGINT. `build(runtime) -> Service`."""
    settings = settings or Settings.from_env()
    settings.require("nats_url")
    logs.setup(name, settings.log_level)
    runtime = Runtime(name, settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)

    async with AsyncExitStack() as stack:
        runtime.nc = await bus.connect(settings.nats_url, name)
        stack.push_async_callback(_bounded, runtime, "nats drain", runtime.nc.drain())
        runtime.js = runtime.nc.jetstream()
        await bus.ensure_streams(runtime.js, settings)
        runtime.jobs = bus.JobStore(runtime.js, name)
        service = build(runtime)
        if service.models:
            settings.require("triton_url")
            runtime.triton = Triton(settings.triton_url, settings.triton_timeout_s)
            stack.push_async_callback(_bounded, runtime, "triton close", runtime.triton.close())
        runtime.dependencies = Dependencies(runtime.nc, runtime.triton, service.models)
        metrics.serve(settings.metrics_port, settings.bind_host)
        reflection.enable_server_reflection(runtime.service_names, runtime.server)
        port = _listen(runtime.server, settings, runtime.log)
        await runtime.server.start()
        stack.push_async_callback(_bounded, runtime, "gRPC stop", runtime.server.stop(settings.shutdown_grace_s))
        watcher = asyncio.create_task(_watch_health(runtime, stopping))
        runtime.log.info("started: gRPC on port %d", port)
        work = asyncio.create_task(service.run(stopping))
        done, _ = await asyncio.wait({work, asyncio.create_task(stopping.wait())},
                                     return_when=asyncio.FIRST_COMPLETED)
        if work in done and work.exception():
            runtime.log.error("service stopped: %r", work.exception())
        stopping.set()
        await runtime.health.enter_graceful_shutdown()
        runtime.log.info("shutting down")
        await asyncio.wait({work, watcher}, timeout=settings.shutdown_drain_s + 2)
        runtime.log.info("work stopped (%s); closing connections", "done" if work.done() else "still running")
    if work.done() and not work.cancelled() and work.exception():
        raise SystemExit(1)


def main(name: str, build) -> None:
    asyncio.run(serve(name, build))
