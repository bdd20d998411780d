"""Pulse: a live stream's rolling figures and its alerts, and the alerts' webhooks.

It reads the stream's results and scored audience messages (results.<stream>) and ingest's clock (clock.<stream>), keeps the
stream's pulse state in the KV bucket "pulse" (compare-and-set, so replicas and restarts are safe),
and publishes what it decides (emopulse.processing.pulse) from the state's outbox with message ids:
pulses on results.<stream> and pulse.<stream>, alerts on results.<stream> and alerts.<stream>. A
restart reads on from its durable consumers and its stored state, so no pulse is lost or doubled.
Webhooks consume alerts.>: each delivery attempt is logged (KV "webhooks"), and a failed one comes
back after a backoff as the same message redelivered (a timer that survives a crash).
History: when any job or stream ends (after a stream's last pulse and alerts), its events are read
back from results.<job>, summarised (emopulse.processing.history) and saved in the history
database; a redelivery saves the same record again, so nothing is lost or doubled. Its media minutes
go to its tenant's usage for the month it was accepted in, once (a meter per job); a live stream's
are counted as it plays, and it is stopped when its owner's month is used up.
"""
from __future__ import annotations

import asyncio
import time

import aiohttp
from nats.js.errors import KeyNotFoundError
from prometheus_client import Counter, Gauge

from emopulse.processing import history, pulse, quotas
from emopulse.processing.live import request_stop
from emopulse.runtime import bus, history_store, usage, webhooks
from emopulse.runtime.alert_store import DELIVERIES_BUCKET, MAX_LOG, RULES_BUCKET, load_deliveries, load_rules
from emopulse.runtime.service import Runtime
from emopulse.v1 import api_pb2
from emopulse.v1 import events_pb2 as ev
from emopulse.v1 import results_pb2 as pb

STATE_BUCKET = "pulse"
KNOWN_JOBS = 10_000    # job ids remembered as stream or not
STALE_GAUGE_S = 600    # a stream whose pulses another replica publishes leaves this replica's gauges

SENTIMENT = Gauge("emopulse_pulse_sentiment", "Speakers' sentiment P(pos)-P(neg) over the window", ["stream", "window"])
NEGATIVE = Gauge("emopulse_pulse_negative_share", "Share of the window's speaking time that was negative", ["stream", "window"])
SPEAKING = Gauge("emopulse_pulse_speaking_ratio", "Speaking time / window time", ["stream", "window"])
FACES = Gauge("emopulse_pulse_faces", "Most faces on screen at once in the window", ["stream", "window"])
MEDIA = Gauge("emopulse_pulse_media_seconds", "Media time of the stream's last pulse", ["stream"])
ALERTS = Counter("emopulse_alerts_total", "Alerts fired", ["kind", "severity"])
DELIVERIES = Counter("emopulse_webhook_deliveries_total", "Webhook delivery attempts by outcome", ["outcome"])
WINDOW_GAUGES = (SENTIMENT, NEGATIVE, SPEAKING, FACES)


class PulseService:
    models = ()

    def __init__(self, runtime: Runtime):
        self.rt = runtime
        self.windows = runtime.settings.pulse_windows()
        self.every_s = runtime.settings.pulse_every_s
        self.kv = self.rules = self.deliveries = self.history = self.usage = None
        self.is_stream: dict[str, tuple[bool, str]] = {}
        self.session: aiohttp.ClientSession | None = None
        self.shown: dict[str, float] = {}  # streams in this replica's gauges, and when last set
        self.metered: dict[str, float] = {}  # live streams' media counted into usage by this replica

    async def run(self, stopping: asyncio.Event) -> None:
        js, s = self.rt.js, self.rt.settings
        self.history = await asyncio.to_thread(history_store.open_store, s.history_url, s.data_dir)
        self.kv = await bus.bucket(js, STATE_BUCKET, s)
        self.rules = await bus.bucket(js, RULES_BUCKET, s)
        self.deliveries = await bus.bucket(js, DELIVERIES_BUCKET, s)
        self.usage = await usage.UsageStore.open(js, s.stream_replicas, s.stream_max_age_s)
        results = self.rt.consumer("RESULTS", "results.>", "pulse", self.on_result, self.give_up)
        clocks = self.rt.consumer("PULSE", "clock.>", "pulse-clock", self.on_clock, self.give_up)
        # Each webhook attempt that fails comes back as a redelivery: the budget is the attempts.
        hooks = bus.Consumer(js, self.rt.name, "PULSE", "alerts.>", "webhooks", self.on_alert, self.give_up_alert,
                             self.rt.dependencies, concurrency=s.concurrency, ack_wait_s=s.ack_wait_s,
                             max_deliver=s.webhook_attempts + s.max_deliver, outage_budget_s=s.outage_budget_s,
                             drain_s=s.shutdown_drain_s)
        async with aiohttp.ClientSession() as self.session:
            await asyncio.gather(results.run(stopping), clocks.run(stopping), hooks.run(stopping))

    async def _stream(self, job_id: str) -> tuple[bool, str]:
        """(whether the job is a live stream, its name), remembered: it never changes."""
        if job_id not in self.is_stream:
            job = await self.rt.jobs.get(job_id)
            if job is None:
                return False, ""
            if len(self.is_stream) >= KNOWN_JOBS:
                self.is_stream.pop(next(iter(self.is_stream)))
            self.is_stream[job_id] = (job.HasField("stream"), job.stream.name)
        return self.is_stream[job_id]

    # ---- pulse -------------------------------------------------------------------------------
    async def on_result(self, data: bytes) -> None:
        event = pb.JobEvent.FromString(data)
        kind = event.WhichOneof("event") or event.WhichOneof("live")
        if kind not in ("result", "summary", "ended", "audience", "reaction"):
            return  # progress, partials, state changes, and our own pulses and alerts
        live, _ = await self._stream(event.job_id)
        if kind in ("summary", "ended"):
            if live:
                await self._audience_scored(event.job_id)
                await self._step(event.job_id, pulse.end, final=True)
                self._forget(event.job_id)
            await self._record(event)
        elif not live:
            return  # a file's pulse is its history record, made when it ends
        elif kind == "result":
            await self._step(event.job_id, lambda st: pulse.add_result(st, event.result))
        elif kind == "audience":
            await self._step(event.job_id, lambda st: pulse.add_audience(st, event.audience))
        else:
            await self._step(event.job_id, lambda st: pulse.add_reaction(st, event.reaction))

    async def _audience_scored(self, stream_id: str) -> None:
        """Wait until every audience message the stream kept has come back scored, so its last pulse
        counts them all (the text model may still be working through a busy chat when it ends); at
        most FUSION_DEADLINE_S, as for a modality that is late."""
        deadline = time.monotonic() + self.rt.settings.fusion_deadline_s
        while time.monotonic() < deadline:
            info = await self.rt.js.stream_info(bus.AUDIENCE, subjects_filter=bus.audience_subject(stream_id))
            try:
                state = ev.PulseState.FromString((await self.kv.get(stream_id)).value or b"")
            except KeyNotFoundError:
                state = ev.PulseState()
            if state.audience_count >= len(info.state.subjects or {}):
                return
            await asyncio.sleep(0.5)
        self.rt.log.warning("the stream ended with audience messages still unscored: its last pulse goes without them",
                            extra={"job_id": stream_id})

    async def _record(self, last: pb.JobEvent) -> None:
        """Summarise the ended job from its events and save it in the history."""
        job = await self.rt.jobs.get(last.job_id)
        if job is None:
            return
        if last.HasField("ended"):
            job.state, job.reason = last.ended.state, last.ended.reason
        else:
            job.state = pb.SUCCEEDED  # the summary is the last event of a job that succeeded
        data = await bus.read_subject(self.rt.js, "RESULTS", bus.results_subject(job.id))
        entry = history.record(job, [pb.JobEvent.FromString(d) for d in data], self.rt.settings.history_window_s,
                               self.every_s)
        await asyncio.to_thread(self.history.save, entry)
        seconds = job.stream.media_seconds if job.HasField("stream") else job.media_seconds_done or job.duration_s
        await self.usage.count_upto(job.id, job.tenant, job.created_at, seconds)

    async def on_clock(self, data: bytes) -> None:
        clock = ev.StreamClock.FromString(data)
        await self._step(clock.stream_id, lambda st: pulse.add_clock(st, clock, self.every_s))
        await self._meter(clock.stream_id, clock.media_s)

    async def _meter(self, stream_id: str, media_s: float) -> None:
        """A live stream's media goes to its owner's usage as it plays (every USAGE_METER_S), and the
        stream is stopped once the month's minutes are used up: unlike a file's, its length is not
        known when it is accepted. Its end counts the rest (_record)."""
        if media_s < self.metered.get(stream_id, 0.0) + self.rt.settings.usage_meter_s:
            return
        job = await self.rt.jobs.get(stream_id)
        if job is None or job.state in bus.TERMINAL or not job.HasField("stream"):
            return
        if stream_id not in self.metered and len(self.metered) >= KNOWN_JOBS:
            self.metered.pop(next(iter(self.metered)))  # (a restart of the count is harmless: count_upto)
        self.metered[stream_id] = media_s
        month = await self.usage.count_upto(job.id, job.tenant, job.created_at, media_s)
        allowed = job.stream.media_minutes_per_month
        if month is None or not allowed or job.stream.stop_requested:
            return
        try:
            quotas.check_media(month["media_s"], 0.0, quotas.Limits(media_minutes_per_month=allowed), time.time())
        except quotas.Exceeded as used_up:
            await self.rt.jobs.update(job.id, lambda j: request_stop(j.stream, f"stopped: {used_up.message}"))
            self.rt.log.info("stream stopped: %s", used_up.message, extra={"job_id": job.id})

    async def _step(self, stream_id: str, change, final: bool = False) -> None:
        """Apply one event to the stream's state, decide what it allows, then publish the outbox."""
        _, name = await self._stream(stream_id)
        rules = list((await load_rules(self.rules, stream_id)).rules)
        now = time.time()

        def apply(st: ev.PulseState) -> bool:
            if st.ended and not final:
                return False  # the stream's end was decided: a late event changes nothing
            changed = change(st)
            return pulse.decide(st, stream_id, name, rules, self.windows, now, final=final or st.ended) or changed

        state, _ = await bus.cas(self.kv, stream_id, ev.PulseState.FromString, apply)
        if state.outbox:
            await self._publish(stream_id, list(state.outbox))

    async def _publish(self, stream_id: str, events: list[pb.JobEvent]) -> None:
        """Publish decided events (a repeat is dropped by its id), then take them out of the outbox."""
        for event in events:
            if event.HasField("pulse"):
                key = f"pulse:{stream_id}:{event.pulse.media_s:.3f}" + (":final" if event.pulse.final else "")
                subject = bus.pulse_subject(stream_id)
            else:
                key, subject = f"alert:{event.alert.id}", bus.alerts_subject(stream_id)
            first = await self.rt.publish(bus.results_subject(stream_id), event, key)
            await self.rt.publish(subject, event, key)
            if first:  # a replica that raced this one to the same outbox counts nothing twice
                self._count(stream_id, event)
        sent = {e.SerializeToString() for e in events}

        def clear(st: ev.PulseState) -> bool:
            keep = [e for e in st.outbox if e.SerializeToString() not in sent]
            if len(keep) == len(st.outbox):
                return False
            del st.outbox[:]
            st.outbox.extend(keep)
            return True
        await bus.cas(self.kv, stream_id, ev.PulseState.FromString, clear)

    def _count(self, stream_id: str, event: pb.JobEvent) -> None:
        if event.HasField("alert"):
            rule = event.alert.rule
            ALERTS.labels(pb.AlertKind.Name(rule.kind), pb.Severity.Name(rule.severity)).inc()
            self.rt.log.info("alert %s: %s", rule.name, event.alert.message, extra={"job_id": stream_id})
            return
        now = time.time()
        self.shown[stream_id] = now
        for stale in [s for s, at in self.shown.items() if now - at > STALE_GAUGE_S]:
            self._forget(stale)
        MEDIA.labels(stream_id).set(event.pulse.media_s)
        for w in event.pulse.windows:
            label = f"{w.length_s:g}s"
            for gauge, value in zip(WINDOW_GAUGES, (w.sentiment, w.negative_share, w.speaking_ratio, w.faces)):
                gauge.labels(stream_id, label).set(value)

    def _forget(self, stream_id: str) -> None:
        """An ended stream leaves the gauges, so their labels stay bounded by the live streams."""
        self.shown.pop(stream_id, None)
        self.metered.pop(stream_id, None)
        for gauge in WINDOW_GAUGES:
            for w in self.windows:
                try:
                    gauge.remove(stream_id, f"{w:g}s")
                except KeyError:
                    pass
        try:
            MEDIA.remove(stream_id)
        except KeyError:
            pass

    async def give_up(self, data: bytes, error: BaseException) -> None:
        self.rt.log.error("a pulse input was dropped after repeated failures: %s", error)

    # ---- webhooks ----------------------------------------------------------------------------
    async def on_alert(self, data: bytes) -> float | None:
        alert = pb.JobEvent.FromString(data).alert
        hooks = (await load_rules(self.rules, alert.stream_id)).webhooks
        log = await load_deliveries(self.deliveries, alert.stream_id)
        later = None
        for hook in hooks:
            tried = [d for d in log.deliveries if d.alert_id == alert.id and d.url == hook.url]
            if any(d.delivered for d in tried) or len(tried) >= self.rt.settings.webhook_attempts:
                continue
            delivery = await webhooks.post(self.session, hook, alert, len(tried) + 1, self.rt.settings.webhook_timeout_s)
            await self._log(alert.stream_id, delivery)
            if delivery.delivered:
                DELIVERIES.labels("delivered").inc()
            elif delivery.attempt < self.rt.settings.webhook_attempts:
                DELIVERIES.labels("retried").inc()
                self.rt.log.warning("webhook %s: %s; retrying", hook.url, delivery.error, extra={"job_id": alert.stream_id})
                delay = webhooks.retry_delay(delivery.attempt)
                later = delay if later is None else min(later, delay)
            else:
                DELIVERIES.labels("failed").inc()
                self.rt.log.error("webhook %s gave up after %d attempts: %s", hook.url, delivery.attempt,
                                  delivery.error, extra={"job_id": alert.stream_id})
        return later

    async def _log(self, stream_id: str, delivery: api_pb2.WebhookDelivery) -> None:
        def add(entries: api_pb2.ListWebhookDeliveriesResponse) -> bool:
            entries.deliveries.append(delivery)
            del entries.deliveries[:-MAX_LOG]
            return True
        await bus.cas(self.deliveries, stream_id, api_pb2.ListWebhookDeliveriesResponse.FromString, add)

    async def give_up_alert(self, data: bytes, error: BaseException) -> None:
        alert = pb.JobEvent.FromString(data).alert
        self.rt.log.error("alert %s: webhooks not delivered: %s", alert.id, error, extra={"job_id": alert.stream_id})


def build(runtime: Runtime) -> PulseService:
    return PulseService(runtime)
