"""Is a failure the input's fault or a dependency's? Workers pause for the second and count only the first.

A dependency (Triton, NATS, S3) being down is not a reason to fail a job: the work waits for it, up to
the outage budget. `Dependencies.ready()` is the one answer to "can work proceed", shared by health,
the consume loop's gate, and the in-place retry of a message that hit an outage.
"""
from __future__ import annotations

import asyncio
import time

import nats.errors
import nats.js.errors

# Transport-level failures: the request never got a real answer.
_NATS_OUTAGES = (nats.errors.ConnectionClosedError, nats.errors.TimeoutError, nats.errors.NoServersError,
                 nats.errors.NoRespondersError, nats.errors.ConnectionReconnectingError,
                 nats.errors.OutboundBufferLimitError, nats.errors.StaleConnectionError,
                 nats.js.errors.ServiceUnavailableError, asyncio.TimeoutError)
_TRITON_OUTAGE_STATUS = ("StatusCode.UNAVAILABLE", "StatusCode.DEADLINE_EXCEEDED", "StatusCode.CANCELLED")
_OUTAGE_WORDS = ("connection refused", "failed to connect", "connect failed", "socket closed", "not ready",
                 "unknown model", "unavailable", "could not connect to the endpoint", "connection reset")


def is_outage(exc: BaseException) -> bool:
    """True for failures that say nothing about the input: retry them when the dependency is back."""
    if isinstance(exc, (ConnectionError,) + _NATS_OUTAGES):
        return True
    status = getattr(exc, "status", None)
    if callable(status) and str(status()) in _TRITON_OUTAGE_STATUS:  # tritonclient InferenceServerException
        return True
    if type(exc).__name__ in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError"):  # botocore
        return True
    text = str(exc).lower()
    return any(word in text for word in _OUTAGE_WORDS)


class Dependencies:
    """What one process needs to do its work: the NATS connection and the Triton models it calls."""

    def __init__(self, nc, triton=None, models: tuple[str, ...] = (), cache_s: float = 1.0):
        self.nc = nc
        self.triton = triton
        self.models = models
        self.cache_s = cache_s
        self._checked_at = 0.0
        self._ready = False
        self.unready_at = 0.0  # unix time a dependency was last seen down (0: not since this process started)

    async def ready(self) -> bool:
        if time.monotonic() - self._checked_at < self.cache_s:
            return self._ready
        ok = self.nc is not None and self.nc.is_connected
        if ok and self.models:
            ok = await self.triton.ready(self.models)
        self._ready, self._checked_at = ok, time.monotonic()
        if not ok:
            self.unready_at = time.time()
        return ok

    async def wait_ready(self, stopping: asyncio.Event | None = None, poll_s: float = 1.0) -> None:
        """Return once every dependency is ready again (or when the process is stopping)."""
        while not await self.ready():
            if stopping is not None and stopping.is_set():
                return
            await asyncio.sleep(poll_s)
