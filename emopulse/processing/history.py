"""An ended job or stream summarised for the history (pure: the job and its events in, one
EventHistory out).

Files and live streams are summarised the same way, from their own events: the utterances, the
audience's scored messages, the reactions and the alerts. The timeline is the pulse's window
(emopulse.processing.pulse.window) read every few seconds of media, so a file gets the same
figures a live stream's pulse showed; the peak moments are its most positive and most negative
windows, with what was said in them.
"""
from __future__ import annotations

import math

import numpy as np

from emopulse.labels import EMOTIONS
from emopulse.processing import pulse
from emopulse.v1 import api_pb2
from emopulse.v1 import results_pb2 as pb

MAX_TIMELINE = 720         # a long event's timeline is read less often rather than growing without end
MAX_QUOTES = 5
MIN_WINDOW_S = 10.0


def record(job: pb.Job, events: list[pb.JobEvent], window_s: float, every_s: float) -> api_pb2.EventHistory:
    """The job's summary, timeline and alerts from its events (each counted once, whatever repeats)."""
    results: dict[int, pb.UtteranceResult] = {}
    audience: dict[str, pb.AudienceMessage] = {}
    reactions: dict[int, pb.Reaction] = {}
    alerts: dict[str, pb.Alert] = {}
    summary = None
    for event in events:
        kind = event.WhichOneof("event") or event.WhichOneof("live")
        if kind == "result":
            results.setdefault(event.result.index, event.result)
        elif kind == "audience":
            audience.setdefault(event.audience.message_id, event.audience)
        elif kind == "reaction":
            reactions.setdefault(event.reaction.index, event.reaction)
        elif kind == "alert":
            alerts.setdefault(event.alert.id, event.alert)
        elif kind == "summary":
            summary = event.summary
    points = [pulse.point(results[i]) for i in sorted(results)]
    heard = sorted(audience.values(), key=lambda m: m.time_s)
    seen = [reactions[i] for i in sorted(reactions)]
    duration = max([summary.duration_s if summary else 0.0, job.duration_s, job.stream.media_seconds]
                   + [p.end_s for p in points] + [m.time_s for m in heard] + [r.time_s for r in seen])

    whole, _ = pulse.window(points, duration, max(duration, 1e-6), 0.0, heard, seen)
    out = api_pb2.EventHistory()
    e = out.event
    e.id, e.live, e.state, e.tenant = job.id, job.HasField("stream"), job.state, job.tenant
    e.name = job.stream.name if job.HasField("stream") else job.filename
    e.created_at, e.ended_at, e.duration_s = job.created_at, job.updated_at, duration
    e.utterances = len(points)
    e.mean_sentiment, e.negative_share, e.speaking_ratio = whole.sentiment, whole.negative_share, whole.speaking_ratio
    e.emotion_distribution.update(dict(zip(EMOTIONS, whole.emotion)))
    e.audience_messages, e.audience_sentiment = len(heard), whole.audience_sentiment
    e.audience_per_minute = len(heard) / duration * 60 if duration > 0 else 0.0
    expressions = [r.expression for r in seen if len(r.expression) == len(EMOTIONS)]
    e.reactions = len(seen)
    if expressions:
        e.reaction_expression.update(dict(zip(EMOTIONS, np.mean(expressions, axis=0).tolist())))
    e.alerts = len(alerts)
    out.alerts.extend(sorted(alerts.values(), key=lambda a: (a.media_s, a.id)))

    # A short event is read in shorter windows (a fifth of it, 10 s at least): one window covering
    # nearly all of it would show no turn and no peak.
    window_s = min(window_s, max(MIN_WINDOW_S, duration / 5))
    step = max(every_s, duration / MAX_TIMELINE)
    times = [step * k for k in range(1, math.floor(duration / step) + 1)]
    if duration > 0 and (not times or times[-1] < duration - 1e-6):
        times.append(duration)  # the last window closes the event
    spoken = []
    for t in times:
        win, inside = pulse.window(points, t, window_s, 0.0, heard, seen)
        out.timeline.add(media_s=t, windows=[win])
        if inside:
            spoken.append((win, t, inside))
    if spoken:
        for moment, (win, t, inside) in ((e.most_positive, max(spoken, key=lambda s: s[0].sentiment)),
                                          (e.most_negative, min(spoken, key=lambda s: s[0].sentiment))):
            moment.start_s, moment.end_s = max(0.0, t - window_s), t
            moment.sentiment, moment.negative_share = win.sentiment, win.negative_share
            moment.quotes.extend(p.text for p in inside[:MAX_QUOTES])
    return out
