"""Metrics every service shares; a service's own metrics live in its module."""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

EVENTS_CONSUMED = Counter("emopulse_events_consumed_total", "Bus messages handled", ["service", "stream"])
EVENTS_PUBLISHED = Counter("emopulse_events_published_total", "Bus messages published", ["service", "stream"])
REDELIVERIES = Counter("emopulse_redeliveries_total", "Bus messages received more than once", ["service", "stream"])
FAILURES = Counter("emopulse_failures_total", "Messages that failed, by reason", ["service", "reason"])
PAUSED = Gauge("emopulse_consumption_paused", "1 while a worker takes no work because a dependency is down",
               ["service"])
OUTAGE_WAITS = Counter("emopulse_outage_waits_total", "Messages that waited in place for a dependency to come back",
                       ["service"])
GIVE_UPS = Counter("emopulse_give_ups_total", "Messages whose outcome became a recorded failure", ["service", "why"])
IN_FLIGHT = Gauge("emopulse_in_flight", "Messages being handled now", ["service"])
STAGE_SECONDS = Histogram("emopulse_stage_seconds", "Time spent in one stage", ["stage"], buckets=LATENCY_BUCKETS)
JOBS_FINISHED = Counter("emopulse_jobs_finished_total", "Jobs that reached a final state", ["state"])
JOB_SECONDS = Histogram("emopulse_job_duration_seconds", "From job creation to its final state",
                        buckets=(1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600))
MODEL_SECONDS = Histogram("emopulse_model_request_seconds", "Triton request latency seen by the client",
                          ["model"], buckets=LATENCY_BUCKETS)


def serve(port: int, host: str = "0.0.0.0") -> None:
    if port:
        start_http_server(port, addr=host)
