"""Self-contained HTML report of one job: emotion timeline, sentiment over time, distribution,
and the per-utterance table. Charts are matplotlib SVG embedded inline (no external files)."""
from __future__ import annotations

import html
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (backend first)
import numpy as np  # noqa: E402

from emopulse.labels import EMOTIONS, MODALITIES, SENTIMENTS  # noqa: E402
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
    return (f"<tr><td>{r.index}</td><td>{r.start_s:.2f}–{r.end_s:.2f}</td><td>{html.escape(r.text)}</td>"
            f"<td>{EMOTIONS[e]} {r.emotion[e]:.2f}</td><td>{SENTIMENTS[s]} {r.sentiment[s]:.2f}</td>"
            f"<td>{', '.join(present)}</td><td class=muted>{html.escape('; '.join(absent))}</td></tr>")


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
    parts += ["<h2>Utterances</h2><table><tr><th>#</th><th>time (s)</th><th>transcript</th><th>emotion</th>"
              "<th>sentiment</th><th>modalities</th><th>absent</th></tr>", *map(_row, results), "</table>"]
    style = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}"
             "td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;font-size:14px}.muted{color:#777}")
    return f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title><style>{style}</style></head><body>{''.join(parts)}</body></html>"
