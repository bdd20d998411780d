"""A live stream's pulse and its alerts (pure: results and clock ticks in, pulse and alert events out).

Everything runs in media time and is decided from the stream's own events, so the same events give
the same pulses and alerts, whichever replica computes them and however often it restarts:
- a fused utterance becomes a point (its span, sentiment, emotion, faces);
- ingest's clock says how far the stream got and which utterances were cut before then; the pulse at
  a tick is decided once all of those utterances' results are in, then never again;
- each alert rule reads one window at each pulse; a rule fires once when its condition has held for
  `for_s`, is quiet until the figure comes back past `clear`, then waits out its cooldown.
The sentiment-shift rule is a two-sided CUSUM on each utterance's sentiment score against the
stream's own baseline (mean and variance learnt from its first utterances, then tracked slowly).
"""
from __future__ import annotations

import math

import numpy as np

from emopulse.labels import EMOTIONS, SENTIMENTS
from emopulse.v1 import events_pb2 as ev
from emopulse.v1 import results_pb2 as pb

NEGATIVE = SENTIMENTS.index("negative")
POSITIVE = SENTIMENTS.index("positive")
BASELINE_ALPHA = 0.05      # weight of a new utterance in a rule's baseline once it has min_count
CUSUM_SLACK = 1.0          # standard deviations a score may stray before it counts toward a shift
MIN_SD = 0.15              # a baseline never looks steadier than this (few, alike utterances)
MAX_QUOTES = 5


def default_rules() -> list[pb.AlertRule]:
    """The rules a stream has until SetAlertRules gives it its own."""
    return [
        pb.AlertRule(name="negative-spike", kind=pb.NEGATIVE_SPIKE, threshold=0.6, clear=0.3, min_count=2,
                     window_s=10, for_s=0, cooldown_s=60, severity=pb.WARNING),
        pb.AlertRule(name="sentiment-shift", kind=pb.SENTIMENT_SHIFT, threshold=4.0, min_count=4,
                     window_s=10, cooldown_s=60, severity=pb.WARNING),
        pb.AlertRule(name="anger-surge", kind=pb.EMOTION_SURGE, emotion="anger", threshold=0.5, clear=0.25,
                     min_count=2, window_s=60, for_s=0, cooldown_s=120, severity=pb.WARNING),
        pb.AlertRule(name="engagement-drop", kind=pb.ENGAGEMENT_DROP, threshold=0.3, clear=0.15, min_count=4,
                     window_s=60, for_s=30, cooldown_s=300, severity=pb.INFO, measure="speaking"),
        pb.AlertRule(name="audience-drop", kind=pb.ENGAGEMENT_DROP, threshold=0.3, clear=0.15, min_count=4,
                     window_s=60, for_s=30, cooldown_s=300, severity=pb.INFO, measure="audience"),
        pb.AlertRule(name="silent", kind=pb.STREAM_SILENT, threshold=30, window_s=60, cooldown_s=300,
                     severity=pb.INFO),
        pb.AlertRule(name="down", kind=pb.STREAM_DOWN, for_s=0, cooldown_s=60, severity=pb.CRITICAL),
    ]


def check_rules(rules: list[pb.AlertRule], windows: list[float]) -> None:
    """Refuse rules that could never work, with the reason (ValueError)."""
    names = set()
    for rule in rules:
        label = rule.name or "a rule"
        if not rule.name or len(rule.name) > 64 or not all(c.isalnum() or c in "-_" for c in rule.name):
            raise ValueError(f"{label[:64]!r}: a rule needs a name of letters, digits, - and _ (64 at most)")
        if rule.name in names:
            raise ValueError(f"{rule.name!r}: rule names must be unique")
        names.add(rule.name)
        if rule.kind == pb.ALERT_KIND_UNSPECIFIED:
            raise ValueError(f"{rule.name!r}: kind is required")
        if rule.kind not in (pb.STREAM_DOWN, pb.SENTIMENT_SHIFT) and rule.window_s not in windows:
            raise ValueError(f"{rule.name!r}: window_s must be one of the pulse windows "
                             f"({', '.join(f'{w:g}' for w in windows)})")
        if rule.kind == pb.ENGAGEMENT_DROP and rule.measure not in ("", "speaking", "audience"):
            raise ValueError(f"{rule.name!r}: measure must be speaking or audience")
        if rule.kind == pb.EMOTION_SURGE and rule.emotion not in EMOTIONS:
            raise ValueError(f"{rule.name!r}: emotion must be one of {', '.join(EMOTIONS)}")
        if min(rule.threshold, rule.for_s, rule.cooldown_s, rule.clear, rule.min_count) < 0:
            raise ValueError(f"{rule.name!r}: threshold, for_s, cooldown_s, clear and min_count cannot be negative")
        if rule.kind in (pb.NEGATIVE_SPIKE, pb.EMOTION_SURGE, pb.ENGAGEMENT_DROP) and rule.threshold > 1:
            raise ValueError(f"{rule.name!r}: the threshold is a share, from 0 to 1")


def point(result: pb.UtteranceResult) -> ev.PulsePoint:
    faces = [f for m in result.modalities if m.modality == pb.VISION for f in m.faces]
    expressions = [f.expression for f in faces if len(f.expression) == len(EMOTIONS)]
    per_frame = {}
    for f in faces:
        per_frame[f.time_s] = per_frame.get(f.time_s, 0) + 1
    return ev.PulsePoint(index=result.index, start_s=result.start_s, end_s=result.end_s, emotion=result.emotion,
                         sentiment=result.sentiment, faces=max(per_frame.values(), default=0),
                         face_expression=np.mean(expressions, axis=0).tolist() if expressions else [],
                         text=result.text)


def score(p: ev.PulsePoint) -> float:
    return float(p.sentiment[POSITIVE] - p.sentiment[NEGATIVE]) if len(p.sentiment) == len(SENTIMENTS) else 0.0


def window(points, end_s: float, length_s: float, started_s: float = 0.0,
           audience=(), reactions=()) -> tuple[pb.PulseWindow, list]:
    """One window's figures and the points inside it (weighted by the part of each span inside).
    Reactions (faces while nobody spoke) count with the utterances' faces."""
    start_s = end_s - length_s
    heard = [m for m in audience if start_s < m.time_s <= end_s]
    seen = [r for r in reactions if start_s < r.time_s <= end_s]
    inside, weights = [], []
    for p in points:
        overlap = min(p.end_s, end_s) - max(p.start_s, start_s)
        if overlap > 0:
            inside.append(p)
            weights.append(overlap)
    span = max(1e-6, min(length_s, end_s - started_s))
    out = pb.PulseWindow(length_s=length_s, utterances=len(inside), audience_messages=len(heard),
                         audience_per_minute=len(heard) / span * 60, reactions=len(seen))
    scored = [float(m.sentiment[POSITIVE] - m.sentiment[NEGATIVE]) for m in heard if len(m.sentiment) == len(SENTIMENTS)]
    if scored:
        out.audience_sentiment = float(np.mean(scored))
    if inside:
        w = np.asarray(weights) / sum(weights)
        out.sentiment = float(sum(wi * score(p) for wi, p in zip(w, inside)))
        out.negative_share = float(sum(wi for wi, p in zip(w, inside)
                                       if len(p.sentiment) and int(np.argmax(p.sentiment)) == NEGATIVE))
        emotions = [(wi, p.emotion) for wi, p in zip(w, inside) if len(p.emotion) == len(EMOTIONS)]
        if emotions:
            total = sum(wi for wi, _ in emotions)
            out.emotion.extend((sum(wi * np.asarray(e) for wi, e in emotions) / total).tolist())
        out.speaking_ratio = float(min(1.0, sum(weights) / span))
    out.faces = max([p.faces for p in inside] + [len(r.faces) for r in seen], default=0)
    faces = [p.face_expression for p in inside if len(p.face_expression) == len(EMOTIONS)]
    faces += [r.expression for r in seen if len(r.expression) == len(EMOTIONS)]
    if faces:
        out.face_expression.extend(np.mean(faces, axis=0).tolist())
    return out, inside


# ---- rules ---------------------------------------------------------------------------------------

def rule_state(state: ev.PulseState, rule: pb.AlertRule) -> ev.RuleState:
    for r in state.rules:
        if r.rule == rule.name:
            return r
    r = state.rules.add(rule=rule.name, since_s=-1, last_fired_s=-1, last_index=-1)
    return r


def _learn(r: ev.RuleState, x: float) -> None:
    """Welford's mean and variance until the baseline is set, then an exponentially weighted one."""
    r.n += 1
    alpha = 1.0 / r.n if r.n <= 50 else BASELINE_ALPHA
    delta = x - r.mean
    r.mean += alpha * delta
    r.variance = (1 - alpha) * (r.variance + alpha * delta * delta)


def cusum(r: ev.RuleState, x: float, rule: pb.AlertRule) -> float | None:
    """Feed one utterance's score; the standardised excursion when the shift crosses the limit."""
    if r.n < max(2, rule.min_count):
        _learn(r, x)
        return None
    sd = max(math.sqrt(r.variance), MIN_SD)
    z = (x - r.mean) / sd
    r.cusum_up = max(0.0, r.cusum_up + z - CUSUM_SLACK)
    r.cusum_down = max(0.0, r.cusum_down - z - CUSUM_SLACK)
    crossed = max(r.cusum_up, r.cusum_down)
    if crossed > rule.threshold:
        # The new level is the stream's baseline from here: the same shift is not reported again.
        r.n, r.mean, r.variance, r.cusum_up, r.cusum_down = 1, x, 0.0, 0.0, 0.0
        return z
    _learn(r, x)
    return None


def _hold(r: ev.RuleState, rule: pb.AlertRule, t: float, active: bool, cleared: bool) -> bool:
    """The shared life of a rule: for_s before firing, firing until cleared, then the cooldown."""
    if r.firing:
        if cleared:
            r.firing, r.since_s = False, -1
        return False
    if not active:
        r.since_s = -1
        return False
    if r.since_s < 0:
        r.since_s = t
    if t - r.since_s < rule.for_s or (r.last_fired_s >= 0 and t - r.last_fired_s < rule.cooldown_s):
        return False
    r.firing, r.last_fired_s = True, t
    r.fired += 1
    return True


def judge(state: ev.PulseState, rule: pb.AlertRule, t: float, windows: dict[float, tuple[pb.PulseWindow, list]],
          new_points: list, down: bool = False) -> tuple[float, float, list] | None:
    """(value, baseline, evidence points) when `rule` fires at media time t (the source away: down),
    else None."""
    r = rule_state(state, rule)
    win, inside = windows.get(rule.window_s, windows[min(windows)])
    if rule.kind == pb.SENTIMENT_SHIFT:
        fired = None
        for p in new_points:
            if p.index <= r.last_index:
                continue
            r.last_index = p.index
            baseline = r.mean
            z = cusum(r, score(p), rule)
            if z is not None and (r.last_fired_s < 0 or t - r.last_fired_s >= rule.cooldown_s):
                r.last_fired_s, r.fired = t, r.fired + 1
                fired = (score(p), baseline, [q for q in inside if q.index <= p.index] or [p])
        return fired
    if rule.kind == pb.NEGATIVE_SPIKE:
        enough = win.utterances >= rule.min_count
        if _hold(r, rule, t, enough and win.negative_share > rule.threshold, win.negative_share <= rule.clear):
            return win.negative_share, 0.0, [p for p in inside if int(np.argmax(p.sentiment)) == NEGATIVE]
        return None
    if rule.kind == pb.EMOTION_SURGE:
        share = win.emotion[EMOTIONS.index(rule.emotion)] if len(win.emotion) else 0.0
        if _hold(r, rule, t, win.utterances >= rule.min_count and share > rule.threshold, share <= rule.clear):
            return share, 0.0, inside
        return None
    if rule.kind == pb.ENGAGEMENT_DROP:
        # The baseline is the figure seen at earlier pulses once the window was full.
        audience = rule.measure == "audience"
        figure = win.audience_per_minute if audience else win.speaking_ratio
        full = t - state.started_s >= rule.window_s
        baseline = r.mean
        known = r.n >= max(1, rule.min_count)
        drop = (baseline - figure) / baseline if known and baseline > 0 else 0.0
        fired = _hold(r, rule, t, known and drop >= rule.threshold, drop <= rule.clear)
        if full and drop <= rule.clear:  # a drop in progress is not learnt as the new normal
            _learn(r, figure)
        return (figure, baseline, [] if audience else inside) if fired else None
    if rule.kind == pb.STREAM_SILENT:
        last_speech = max((p.end_s for p in state.points), default=state.started_s)
        quiet = t - last_speech
        if _hold(r, rule, t, quiet >= rule.threshold, quiet < rule.threshold):
            return quiet, 0.0, []
        return None
    if rule.kind == pb.STREAM_DOWN:
        if _hold(r, rule, t, down, not down):
            return 1.0, 0.0, []
        return None
    return None


def describe(rule: pb.AlertRule, value: float, baseline: float, length_s: float) -> str:
    kind = rule.kind
    if kind == pb.NEGATIVE_SPIKE:
        return f"{value:.0%} of the last {length_s:g} s was negative (threshold {rule.threshold:.0%})"
    if kind == pb.SENTIMENT_SHIFT:
        way = "down" if value < baseline else "up"
        return f"sentiment shifted {way}: {value:+.2f} against a baseline of {baseline:+.2f}"
    if kind == pb.EMOTION_SURGE:
        return f"{rule.emotion} at {value:.0%} of the last {length_s:g} s (threshold {rule.threshold:.0%})"
    if kind == pb.ENGAGEMENT_DROP and rule.measure == "audience":
        return f"the audience fell to {value:.0f} messages a minute from a baseline of {baseline:.0f}"
    if kind == pb.ENGAGEMENT_DROP:
        return f"speaking time fell to {value:.0%} of the window from a baseline of {baseline:.0%}"
    if kind == pb.STREAM_SILENT:
        return f"no speech for {value:.0f} s"
    return "the source went away: the stream is reconnecting"


# ---- the stream's state --------------------------------------------------------------------------

def add_result(state: ev.PulseState, result: pb.UtteranceResult) -> bool:
    """Keep one fused utterance (once); False when it was already counted."""
    if result.index < state.contiguous or any(p.index == result.index for p in state.points):
        return False
    state.points.append(point(result))
    ordered = sorted(state.points, key=lambda p: p.index)
    del state.points[:]
    state.points.extend(ordered)
    indices = {p.index for p in state.points}
    while state.contiguous in indices:
        state.contiguous += 1
    return True


def audience_problem(message: pb.AudienceMessage, max_chars: int) -> str:
    """What is wrong with a posted audience message, in words ("" when nothing)."""
    mid = message.message_id
    if not mid or len(mid) > 128 or not all(c.isascii() and (c.isalnum() or c in "-_=") for c in mid):
        return f"message_id {mid[:64]!r} must be 1 to 128 letters, digits, -, _ or ="
    if not message.text.strip():
        return f"message {mid} has no text"
    if len(message.text) > max_chars:
        return f"message {mid} is {len(message.text)} characters long, at most {max_chars} (AUDIENCE_MAX_CHARS)"
    if len(message.author) > 200:
        return f"message {mid}: author is longer than 200 characters"
    if not 0 <= message.time_s < 1e9:
        return f"message {mid}: time_s must be the stream's media time in seconds (0 = now)"
    return ""


def add_audience(state: ev.PulseState, message: pb.AudienceMessage) -> bool:
    """Keep one scored audience message (once). It counts in the pulses decided after it came."""
    if any(m.message_id == message.message_id for m in state.audience):
        return False
    # Only what the windows read: a busy chat keeps thousands inside the longest window.
    state.audience.add(message_id=message.message_id, time_s=message.time_s, sentiment=message.sentiment)
    state.audience_count += 1
    return True


def add_reaction(state: ev.PulseState, reaction: pb.Reaction) -> bool:
    """Keep one reaction (once). It counts in the pulses decided after it came."""
    if any(r.index == reaction.index for r in state.reactions):
        return False
    state.reactions.append(reaction)
    return True


def end(state: ev.PulseState) -> bool:
    """The stream has ended (once): its remaining pulses are decided with what is in."""
    if state.ended:
        return False
    state.ended = True
    return True


def add_clock(state: ev.PulseState, clock: ev.StreamClock, every_s: float) -> bool:
    """Note the pulse times this clock reaches (each once)."""
    changed = clock.down != state.down
    went_down = clock.down and not state.down
    state.down = clock.down
    state.media_s = max(state.media_s, clock.media_s)
    if state.next_tick_s == 0:  # the stream's first clock
        state.started_s = clock.media_s
        state.next_tick_s = (math.floor(clock.media_s / every_s) + 1) * every_s
        changed = True
    while clock.media_s >= state.next_tick_s > 0:
        state.ticks.add(stream_id=clock.stream_id, media_s=state.next_tick_s, cut_index=clock.cut_index,
                        down=clock.down)
        state.next_tick_s += every_s
        changed = True
    if went_down and not (state.ticks and state.ticks[-1].media_s >= clock.media_s):
        # Media stops while the source is away: the rules are read at once, not at the next tick.
        state.ticks.add(stream_id=clock.stream_id, media_s=clock.media_s, cut_index=clock.cut_index, down=True)
    return changed


def decide(state: ev.PulseState, stream_id: str, name: str, rules: list[pb.AlertRule], windows_s: list[float],
           now: float, final: bool = False) -> bool:
    """Decide every pulse whose utterances are all in (all of them when the stream has ended): the
    pulse and any alerts go to the outbox. Returns whether anything was decided."""
    decided = False
    if final and not state.final_sent and not state.ticks:
        # The stream ended between ticks: one last pulse closes it.
        end_s = max([state.media_s] + [p.end_s for p in state.points])
        state.ticks.add(stream_id=stream_id, media_s=end_s, cut_index=state.contiguous, down=state.down)
    while state.ticks and (final or state.ticks[0].cut_index <= state.contiguous):
        tick = state.ticks[0]
        t = tick.media_s
        known = [p for p in state.points if p.index < tick.cut_index or final]
        new = [p for p in known if p.end_s <= t]
        windows = {w: window(known, t, w, state.started_s, state.audience, state.reactions) for w in windows_s}
        for rule in rules:
            fired = judge(state, rule, t, windows, new, down=tick.down)
            if fired is None:
                continue
            value, baseline, evidence = fired
            win = windows.get(rule.window_s, windows[min(windows)])[0]
            r = rule_state(state, rule)
            state.alerts += 1
            evidence = evidence[-MAX_QUOTES:]
            alert = pb.Alert(id=f"{stream_id}.{rule.name}.{r.fired}", stream_id=stream_id, stream_name=name, rule=rule,
                             media_s=t, fired_at=now, window=win, value=value, baseline=baseline,
                             utterances=[p.index for p in evidence], quotes=[p.text for p in evidence],
                             message=describe(rule, value, baseline, win.length_s))
            state.outbox.add(job_id=stream_id, alert=alert)
        # The pulse after its alerts: the final one closes the stream's events (Subscribe ends there).
        last = final and len(state.ticks) == 1
        state.outbox.add(job_id=stream_id, pulse=pb.Pulse(media_s=t, windows=[windows[w][0] for w in windows_s],
                                                           utterances=len({p.index for p in known}), final=last))
        state.final_sent = state.final_sent or last
        del state.ticks[0]
        decided = True
    # Points that left the longest window are dropped: the state stays small on a long stream.
    horizon = (state.ticks[0].media_s if state.ticks else state.next_tick_s) - max(windows_s) - 1
    keep = [p for p in state.points if p.end_s >= horizon or p.index >= state.contiguous]
    if len(keep) < len(state.points):
        del state.points[:]
        state.points.extend(keep)
    for kept in (state.audience, state.reactions):
        recent = [m for m in kept if m.time_s >= horizon]
        if len(recent) < len(kept):
            del kept[:]
            kept.extend(recent)
    return decided
