"""Self-contained HTML reports. `render`: one job (emotion timeline, sentiment over time,
distribution, the per-utterance table). `render_event`: one ended event from the history (its
timeline, alerts, peak moments, engagement, reactions, audience, optionally compared with others).
Charts are matplotlib SVG embedded inline (no external files, no JavaScript)."""
from __future__ import annotations

import html
import io
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (backend first)
import numpy as np  # noqa: E402

from emopulse.labels import EMOTIONS, MODALITIES, SENTIMENTS  # noqa: E402
from emopulse.processing.fusion import speaker_summaries  # noqa: E402
from emopulse.v1 import api_pb2  # noqa: E402
from emopulse.v1 import results_pb2 as pb  # noqa: E402

EMOTION_COLOURS = {"anger": "#d62728", "disgust": "#8c564b", "fear": "#9467bd", "joy": "#f2b701",
                   "neutral": "#9e9e9e", "sadness": "#1f77b4", "surprise": "#17becf"}
SENTIMENT_COLOURS = {"positive": "#2ca02c", "neutral": "#9e9e9e", "negative": "#d62728"}


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _timeline(results: list[pb.UtteranceResult], labels, colours, attr: str, title: str) -> str:
    """Stacked probabilities over media time; each utterance holds its values over its span."""
    fig, ax = plt.subplots(figsize=(10, 2.8))
    bottom = np.zeros(len(results))
    for i, label in enumerate(labels):
        values = np.array([getattr(r, attr)[i] for r in results])
        for r, b, v in zip(results, bottom, values):
            ax.fill_between([r.start_s, r.end_s], b, b + v, color=colours[label], linewidth=0,
                            label=label if r is results[0] else None)
        bottom += values
    ax.set(xlabel="time (s)", ylabel="probability", ylim=(0, 1), title=title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    return _svg(fig)


def _distribution(summary: pb.Summary) -> str:
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 2.6))
    for ax, labels, dist, colours, title in (
            (left, EMOTIONS, summary.emotion_distribution, EMOTION_COLOURS, "top emotion per utterance"),
            (right, SENTIMENTS, summary.sentiment_distribution, SENTIMENT_COLOURS, "top sentiment per utterance")):
        values = [dist.get(label, 0.0) for label in labels]
        ax.bar(labels, values, color=[colours[label] for label in labels])
        ax.set(ylim=(0, 1), title=title, ylabel="share of utterances")
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    return _svg(fig)


def _row(r: pb.UtteranceResult) -> str:
    e, s = int(np.argmax(r.emotion)), int(np.argmax(r.sentiment))
    present = [m for m, entry in zip(MODALITIES, r.modalities) if entry.present]
    absent = [f"{m}: {entry.absent_reason}" for m, entry in zip(MODALITIES, r.modalities) if not entry.present]
    return (f"<tr><td>{r.index}</td><td>{r.start_s:.2f}–{r.end_s:.2f}</td><td>{html.escape(r.speaker or '-')}</td>"
            f"<td>{html.escape(r.text)}</td>"
            f"<td>{EMOTIONS[e]} {r.emotion[e]:.2f}</td><td>{SENTIMENTS[s]} {r.sentiment[s]:.2f}</td>"
            f"<td>{', '.join(present)}</td><td class=muted>{html.escape('; '.join(absent))}</td></tr>")


def _speaker_table(results: list[pb.UtteranceResult]) -> str:
    """Per speaker: how much they spoke, how they felt (the Summary's figures, from the results)."""
    rows = speaker_summaries(results)
    if not rows:
        return "<p class=muted>none: no speakers were told apart (diarization off, or no speech)</p>"
    body = "".join(
        f"<tr><td>{html.escape(p.speaker)}</td><td>{p.utterance_count}</td><td>{p.talk_time_s:.1f} s ({p.talk_share:.0%})</td>"
        f"<td>{_signed(p.sentiment)}</td><td>" + html.escape(", ".join(
            f"{k} {v:.0%}" for k, v in sorted(p.emotion_distribution.items(), key=lambda kv: -kv[1]) if v > 0)) + "</td></tr>"
        for p in rows)
    return ("<table class=speakers><tr><th>speaker</th><th>utterances</th><th>talk time</th><th>sentiment</th>"
            f"<th>top emotions</th></tr>{body}</table>")


_UTTERANCE_HEAD = ("<table><tr><th>#</th><th>time (s)</th><th>speaker</th><th>transcript</th><th>emotion</th>"
                   "<th>sentiment</th><th>modalities</th><th>absent</th></tr>")


def render(job: pb.Job, results: list[pb.UtteranceResult], summary: pb.Summary | None) -> str:
    title = f"EmoPulse report: {html.escape(job.filename or job.id)}"
    parts = [f"<h1>{title}</h1>",
             f"<p>Job {job.id} · {pb.JobState.Name(job.state)} · {len(results)} utterances"
             + (f" · {summary.duration_s:.1f} s · language {html.escape(summary.language)}" if summary else "")
             + (f" · {html.escape(summary.note)}" if summary and summary.note else "") + "</p>"]
    if results:
        parts += ["<h2>Emotion over time</h2>", _timeline(results, EMOTIONS, EMOTION_COLOURS, "emotion", "emotion"),
                  "<h2>Sentiment over time</h2>", _timeline(results, SENTIMENTS, SENTIMENT_COLOURS, "sentiment", "sentiment")]
    if summary and summary.utterance_count:
        parts += ["<h2>Distribution</h2>", _distribution(summary)]
    if results:
        parts += ["<h2>Speakers</h2>", _speaker_table(results)]
    parts += ["<h2>Utterances</h2>", _UTTERANCE_HEAD, *map(_row, results), "</table>"]
    return _page(title, parts)


_STYLE = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}"
          "td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;font-size:14px}.muted{color:#777}")


def _page(title: str, parts: list[str], style: str = "") -> str:
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title><style>{_STYLE}{style}</style>"
            f"</head><body>{''.join(parts)}</body></html>")


# --- the post-event report ----------------------------------------------------------------------

SEVERITY_COLOURS = {"INFO": "#1f77b4", "WARNING": "#ff7f0e", "CRITICAL": "#d62728", "SEVERITY_UNSPECIFIED": "#777777"}
AUDIENCE_SHOWN = 200
_EVENT_STYLE = (".cards{display:flex;flex-wrap:wrap;gap:8px;margin:1em 0}.card{border:1px solid #ddd;border-radius:6px;"
                "padding:6px 12px;flex:1 1 0;min-width:90px}.card b{display:block;font-size:20px}.card span{font-size:12px;color:#777}"
                "blockquote{margin:4px 0 4px 1em;padding-left:8px;border-left:3px solid #ddd;font-style:italic}"
                ".sev{color:#fff;border-radius:4px;padding:1px 6px;font-size:12px}svg{max-width:100%;height:auto}")


def _mpl(text: str) -> str:
    """User text as a matplotlib label: a `$` would otherwise start mathtext (and fail to parse)."""
    return text.replace("$", r"\$")


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


def _top(probs, labels) -> tuple[str, float] | None:
    if len(probs) != len(labels):
        return None
    i = int(np.argmax(probs))
    return labels[i], float(probs[i])


def _windows(history: api_pb2.EventHistory) -> tuple[np.ndarray, list[pb.PulseWindow]]:
    """Media time and the one window of each timeline pulse (an empty window where one is missing)."""
    return (np.array([p.media_s for p in history.timeline], float),
            [p.windows[0] if p.windows else pb.PulseWindow() for p in history.timeline])


def _speakers(windows: list[pb.PulseWindow]) -> np.ndarray:
    """Speakers' sentiment per window; a gap (NaN) where nobody spoke, as 0 there means "no data"."""
    return np.array([w.sentiment if w.utterances else np.nan for w in windows], float)


def _severity(alert: pb.Alert) -> str:
    return pb.Severity.Name(alert.rule.severity)


def _sentiment_chart(history: api_pb2.EventHistory) -> str:
    t, windows = _windows(history)
    speakers = _speakers(windows)
    audience = np.array([w.audience_sentiment if w.audience_messages else np.nan for w in windows], float)
    fig, ax = plt.subplots(figsize=(10, 3.2))
    ax.axhline(0, color="#bbbbbb", linewidth=0.8)
    spoken = np.flatnonzero(~np.isnan(speakers))
    for run in np.split(spoken, np.flatnonzero(np.diff(spoken) > 1) + 1) if spoken.size else ():
        for sign, label in ((1, "positive"), (-1, "negative")):  # shaded by sign, per stretch of speech
            ax.fill_between(t[run], 0, speakers[run], where=sign * speakers[run] > 0, interpolate=True,
                            color=SENTIMENT_COLOURS[label], alpha=0.3, linewidth=0)
    ax.plot(t, speakers, color="#333333", linewidth=1.6, label="speakers")
    if not np.isnan(audience).all():
        ax.plot(t, audience, color="#7b3fbf", linewidth=1.2, marker="o", markersize=2.5, label="audience")
    for alert in history.alerts:
        colour = SEVERITY_COLOURS.get(_severity(alert), "#777777")
        ax.axvline(alert.media_s, color=colour, linewidth=1.4, linestyle="--")
        ax.text(alert.media_s, 1.02, _mpl(alert.rule.name or pb.AlertKind.Name(alert.rule.kind)), color=colour,
                rotation=90, fontsize=8, ha="right", va="top")
    ax.set(xlabel="media time (s)", ylabel="P(positive) − P(negative)", ylim=(-1.05, 1.05),
           xlim=(min(t.min(), 0), max(t.max(), history.event.duration_s)))
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    return _svg(fig)


def _emotion_stack(history: api_pb2.EventHistory) -> str:
    """Stacked emotion shares of the windows; where a window has none the stack leaves a gap."""
    t, windows = _windows(history)
    has = np.array([len(w.emotion) == len(EMOTIONS) for w in windows])
    values = np.array([list(w.emotion) if ok else [0.0] * len(EMOTIONS) for w, ok in zip(windows, has)], float)
    fig, ax = plt.subplots(figsize=(10, 2.8))
    bottom = np.zeros(len(t))
    for i, label in enumerate(EMOTIONS):
        ax.fill_between(t, bottom, bottom + values[:, i], where=has, color=EMOTION_COLOURS[label], linewidth=0, label=label)
        bottom += values[:, i]
    ax.set(xlabel="media time (s)", ylabel="share", ylim=(0, 1), xlim=(min(t.min(), 0), max(t.max(), history.event.duration_s)))
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    return _svg(fig)


def _engagement_chart(history: api_pb2.EventHistory) -> str:
    t, windows = _windows(history)
    fig, ax = plt.subplots(figsize=(10, 2.6))
    ax.plot(t, [w.speaking_ratio for w in windows], color="#1f77b4", linewidth=1.6, label="speaking ratio")
    ax.set(xlabel="media time (s)", ylabel="speaking ratio", ylim=(0, 1.05))
    right = ax.twinx()
    right.plot(t, [w.audience_per_minute for w in windows], color="#7b3fbf", linewidth=1.2, label="audience msgs / min")
    right.set(ylabel="audience msgs / min", ylim=(0, max(1.0, max((w.audience_per_minute for w in windows), default=0)) * 1.1))
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.08, 1.0), frameon=False, fontsize=8)
    return _svg(fig)


def _reaction_chart(reactions: list[pb.Reaction], mean: dict[str, float], duration_s: float) -> str:
    """Each reaction as a dot at its time, coloured by its top expression (height: that probability),
    beside the event's mean reaction expression."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 2.6), gridspec_kw={"width_ratios": [3, 1]})
    seen = set()
    for r in reactions:
        top = _top(r.expression, EMOTIONS)
        label, p = top if top else ("no face", 0.0)
        left.scatter([r.time_s], [p], s=30, color=EMOTION_COLOURS.get(label, "#cccccc"),
                     label=None if label in seen else label, zorder=3)
        seen.add(label)
    end = max([duration_s] + [r.time_s for r in reactions])
    left.set(xlabel="media time (s)", ylabel="top expression P", ylim=(0, 1.05), xlim=(0, end or 1), title="reactions")
    if reactions:
        left.legend(loc="lower left", frameon=False, fontsize=7, ncol=4)
    values = [mean.get(label, 0.0) for label in EMOTIONS]
    right.bar(EMOTIONS, values, color=[EMOTION_COLOURS[label] for label in EMOTIONS])
    right.set(ylim=(0, 1), title="mean reaction expression")
    right.tick_params(axis="x", labelrotation=60, labelsize=7)
    return _svg(fig)


def _compare_chart(histories: list[api_pb2.EventHistory]) -> str:
    fig, ax = plt.subplots(figsize=(10, 3.0))
    ax.axhline(0, color="#bbbbbb", linewidth=0.8)
    for i, h in enumerate(histories):
        t, windows = _windows(h)
        ax.plot(t, _speakers(windows), linewidth=2.2 if i == 0 else 1.2,
                label=_mpl(h.event.name or h.event.id or f"event {i + 1}") + (" (this)" if i == 0 else ""))
    ax.set(xlabel="media time (s)", ylabel="speakers' sentiment", ylim=(-1.05, 1.05))
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    return _svg(fig)


def _date(unix: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(unix)) if unix else "—"


def _signed(x: float) -> str:
    return f"{x:+.2f}"


def _cards(e: api_pb2.EventRecord) -> str:
    figures = [("mean sentiment", _signed(e.mean_sentiment)), ("negative share", f"{e.negative_share:.0%}"),
               ("engagement (speaking)", f"{e.speaking_ratio:.0%}"),
               (f"audience messages · {e.audience_per_minute:.1f}/min", str(e.audience_messages)),
               ("audience sentiment", _signed(e.audience_sentiment) if e.audience_messages else "—"),
               ("reactions", str(e.reactions)), ("alerts", str(e.alerts))]
    return "<div class=cards>" + "".join(f"<div class=card><b>{v}</b><span>{k}</span></div>" for k, v in figures) + "</div>"


def _quotes(quotes) -> str:
    return "".join(f"<blockquote>{html.escape(q)}</blockquote>" for q in quotes)


def _moment(title: str, m: api_pb2.Moment) -> str:
    if not (m.end_s > m.start_s or m.quotes):
        return f"<h3>{title}</h3><p class=muted>none</p>"
    return (f"<h3>{title}: {_clock(m.start_s)}–{_clock(m.end_s)}</h3><p>sentiment {_signed(m.sentiment)} · "
            f"negative share {m.negative_share:.0%}</p>" + (_quotes(m.quotes) or "<p class=muted>no quotes</p>"))


def _alert_table(alerts) -> str:
    if not alerts:
        return "<p class=muted>none: no alert fired</p>"
    rows = [f"<tr><td>{_clock(a.media_s)}</td><td>{html.escape(a.rule.name)}<br><span class=muted>"
            f"{pb.AlertKind.Name(a.rule.kind)}</span></td><td><span class=sev style=\"background:"
            f"{SEVERITY_COLOURS.get(_severity(a), '#777')}\">{_severity(a)}</span></td><td>{html.escape(a.message)}</td>"
            f"<td>{_quotes(a.quotes) or '<span class=muted>—</span>'}</td></tr>" for a in alerts]
    return "<table><tr><th>time</th><th>rule</th><th>severity</th><th>message</th><th>quotes</th></tr>" + "".join(rows) + "</table>"


def _audience_table(audience: list[pb.AudienceMessage]) -> str:
    if not audience:
        return "<p class=muted>none: no audience messages</p>"
    rows = []
    for m in audience[:AUDIENCE_SHOWN]:
        top = _top(m.sentiment, SENTIMENTS)
        score = (f"<span style=\"color:{SENTIMENT_COLOURS[top[0]]}\">{top[0]} {top[1]:.2f}</span>" if top
                 else f"<span class=muted>unscored {html.escape(m.classifier)}</span>")
        rows.append(f"<tr><td>{_clock(m.time_s)}</td><td>{html.escape(m.author)}</td><td>{html.escape(m.text)}</td><td>{score}</td></tr>")
    more = len(audience) - AUDIENCE_SHOWN
    return ("<table><tr><th>time</th><th>author</th><th>message</th><th>sentiment</th></tr>" + "".join(rows) + "</table>"
            + (f"<p class=muted>… and {more} more messages not shown</p>" if more > 0 else ""))


def _compare_table(histories: list[api_pb2.EventHistory]) -> str:
    rows = [("name", lambda e: html.escape(e.name or e.id)), ("date", lambda e: _date(e.created_at)),
            ("live / file", lambda e: "live" if e.live else "file"), ("duration", lambda e: _clock(e.duration_s)),
            ("utterances", lambda e: str(e.utterances)), ("mean sentiment", lambda e: _signed(e.mean_sentiment)),
            ("negative share", lambda e: f"{e.negative_share:.0%}"), ("engagement", lambda e: f"{e.speaking_ratio:.0%}"),
            ("audience messages", lambda e: f"{e.audience_messages} ({e.audience_per_minute:.1f}/min)"),
            ("audience sentiment", lambda e: _signed(e.audience_sentiment) if e.audience_messages else "—"),
            ("reactions", lambda e: str(e.reactions)), ("alerts", lambda e: str(e.alerts)),
            ("most positive moment", lambda e: _signed(e.most_positive.sentiment)),
            ("most negative moment", lambda e: _signed(e.most_negative.sentiment))]
    head = "<tr><th></th>" + "".join(f"<th>{'this event' if i == 0 else f'event {i}'}</th>" for i in range(len(histories))) + "</tr>"
    body = "".join(f"<tr><th>{name}</th>" + "".join(f"<td>{cell(h.event)}</td>" for h in histories) + "</tr>" for name, cell in rows)
    return f"<table>{head}{body}</table>"


def render_event(history: api_pb2.EventHistory, results: list[pb.UtteranceResult], audience: list[pb.AudienceMessage],
                 reactions: list[pb.Reaction], compare: list[api_pb2.EventHistory] = ()) -> str:
    """The post-event report: what the speakers and the audience felt over the event, when alerts
    fired and why, its best and worst moments, and how it compares with other events."""
    e = history.event
    title = f"EmoPulse event report: {html.escape(e.name or e.id or 'unnamed event')}"
    top_emotions = sorted(e.emotion_distribution.items(), key=lambda kv: -kv[1])[:3]
    parts = [f"<h1>{title}</h1>",
             f"<p>Event {html.escape(e.id)} · {'live' if e.live else 'file'} · {pb.JobState.Name(e.state)} · "
             f"{_clock(e.duration_s)} ({e.duration_s:.0f} s) · {e.utterances} utterances · {_date(e.created_at)}</p>",
             _cards(e)]
    if top_emotions:
        parts.append("<p class=muted>emotion: " + ", ".join(f"{html.escape(k)} {v:.0%}" for k, v in top_emotions) + "</p>")
    no_timeline = "<p class=muted>none: no timeline recorded</p>"
    parts += ["<h2>Sentiment over time</h2>", _sentiment_chart(history) if history.timeline else no_timeline]
    has_emotion = any(p.windows and len(p.windows[0].emotion) == len(EMOTIONS) for p in history.timeline)
    parts += ["<h2>Emotion stack</h2>", _emotion_stack(history) if has_emotion else "<p class=muted>none: no window had speech</p>"]
    parts += ["<h2>Speakers</h2>", _speaker_table(results)]
    parts += ["<h2>Alerts</h2>", _alert_table(history.alerts)]
    parts += ["<h2>Top moments</h2>", _moment("Most positive", e.most_positive), _moment("Most negative", e.most_negative)]
    parts += ["<h2>Engagement and reactions</h2>", _engagement_chart(history) if history.timeline else no_timeline]
    if reactions or e.reaction_expression:
        parts.append(_reaction_chart(reactions, dict(e.reaction_expression), e.duration_s))
    if not reactions:
        parts.append("<p class=muted>No reactions: no faces were seen while nobody spoke.</p>")
    parts += ["<h2>Audience</h2>", _audience_table(audience)]
    if compare:
        histories = [history, *compare]
        parts += ["<h2>Compare events</h2>", _compare_table(histories), _compare_chart(histories)]
    parts += ["<h2>Utterances</h2>"]
    parts += ([_UTTERANCE_HEAD, *map(_row, results), "</table>"] if results
              else ["<p class=muted>none: no utterances</p>"])
    return _page(title, parts, _EVENT_STYLE)
