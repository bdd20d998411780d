"""Speaker diarization on generated conversations: DER, speaker-count accuracy, turn purity.

The conversations (tests/conversations.py) are 2, 3 and 4 espeak-ng voices taking turns with short
replies and a few 0.3 s overlaps; their turns and word times are known. Each is run as the pipeline
would: silero VAD -> sliding windows over the speech -> ``speaker_embedding`` (GE2E) -> clustering
(emopulse.processing.diarization) -> who spoke when, and each reference word's speaker -> turns.

- DER: pyannote.metrics DiarizationErrorRate(collar=0.25, skip_overlap=False). pyannote's collar is
  the whole width (±0.125 s); NIST md-eval's "0.25 s collar" is ±0.25 s, pyannote collar=0.5,
  which is given too ("der_nist_collar").
- Turn purity: the share of turns (the reference words, with their generated times, cut at the
  hypothesis' speaker changes) whose words all fall in one reference speaker's spans; the stricter
  "by word owner" share wants every word spoken by one speaker (see turn_purity).
- Speaker-count accuracy: the share of conversations whose number of speakers was found exactly.
- As the pipeline labels speakers and cuts utterances, with the pipeline's own functions (labels
  never change): "files" = the transcriber's VAD and 20 s chunks (media.speech_chunks), each chunk's
  windows labelled at once (OnlineClusterer.assign_batch), utterances cut by cut_utterances (pauses,
  speaker changes, 15 s); "live" = ingest's endpointer (live.StreamingVad + Endpointer), each
  utterance's windows labelled at once, then split_turns. The words are the reference words (Whisper
  is not run), so utterance purity is the share of utterances whose words all come from one speaker.

    python -m bench.diarization                 # test set (10 per speaker count), real tritonserver
    python -m bench.diarization --in-process    # same model code called directly (no server)
    python -m bench.diarization --hard          # voices GE2E confuses (tests.conversations.HARD_VOICES)
    python -m bench.diarization --tune          # grid over window/hop/threshold on the dev set (8 per count)

Tuning uses the "dev" conversations (other sentences, replies and seeds); the report uses "test".
"""
from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from emopulse.processing import diarization as dz
from emopulse.processing import live, media
from emopulse.processing.media import speech_regions
from emopulse.processing.utterances import Cut, cut_utterances, split_turns, whole_cut
from tests import conversations as gen

REPO = Path(__file__).resolve().parents[1]
TARGETS = {"der": 0.15, "turn_purity": 0.95}
BATCH = 64
# silero VAD for the whole-file rows, finer than the transcriber's (400 ms silences, 200 ms pad): turns
# change in short pauses. (In the pipeline rows, windows lie in the transcriber's regions, or span a live
# utterance, as there: on the dev set that gave purer utterances, at a higher DER, than this VAD.)
VAD = {"min_silence_duration_ms": 150, "speech_pad_ms": 30, "min_speech_duration_ms": 150}


# ---- embedders ------------------------------------------------------------------------------
class LocalEmbedder:
    """The model code the Triton model runs, called in this process."""

    where = "in-process (emopulse.processing.speaker_encoder, the code models/speaker_embedding runs)"

    def __init__(self):
        import torch

        from emopulse.processing.speaker_encoder import embed_windows, load_voice_encoder
        from emopulse.weights import speaker_encoder_weights

        torch.set_num_threads(int(os.environ.get("EMOPULSE_SPEAKER_THREADS") or 1))
        self.model, self.embed = load_voice_encoder(speaker_encoder_weights()), embed_windows

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        return np.concatenate([self.embed(self.model, windows[i:i + BATCH]) for i in range(0, len(windows), BATCH)])


class TritonEmbedder:
    """speaker_embedding in a real tritonserver (the one nvidia-pytriton ships), over a repository
    holding only that model; requests of BATCH windows."""

    where = "tritonserver (nvidia-pytriton's), model speaker_embedding"

    def __init__(self, url: str):
        import tritonclient.grpc as grpcclient

        self.grpc = grpcclient
        self.client = grpcclient.InferenceServerClient(url)

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        out = []
        for i in range(0, len(windows), BATCH):
            x = np.ascontiguousarray(windows[i:i + BATCH])
            inp = self.grpc.InferInput("AUDIO", list(x.shape), "FP32")
            inp.set_data_from_numpy(x)
            out.append(self.client.infer("speaker_embedding", [inp]).as_numpy("EMBEDDING"))
        return np.concatenate(out)


@contextlib.contextmanager
def triton_speaker_embedding():
    """A tritonserver serving models/speaker_embedding alone; yields (embedder, seconds to ready)."""
    from emopulse.stack import free_port
    from emopulse.tritonserver import serve

    with tempfile.TemporaryDirectory(prefix="emopulse-diar-") as work:
        repo = Path(work) / "models"
        shutil.copytree(REPO / "models" / "speaker_embedding", repo / "speaker_embedding",
                        ignore=shutil.ignore_patterns("__pycache__"))
        grpc_port = free_port()
        with serve(repo, free_port(), grpc_port, free_port()) as (_, ready_s):
            embedder = TritonEmbedder(f"127.0.0.1:{grpc_port}")
            try:
                yield embedder, ready_s
            finally:
                embedder.client.close()


# ---- one conversation -----------------------------------------------------------------------
def windows_of(conv: gen.Conversation, window_s: float, hop_s: float) -> list[dz.Span]:
    return dz.sliding_windows(speech_regions(conv.audio, **VAD), window_s, hop_s)


def embed(conv: gen.Conversation, windows: list[dz.Span], window_s: float, embedder) -> np.ndarray:
    return embedder(dz.window_audio(conv.audio, windows, window_s))


def batches_of(windows: list[dz.Span], online: str) -> list[list[int]]:
    """Window indices grouped as the pipeline sees them: "chunked" 20 s of media at a time (a file's
    Whisper chunks), "online" one speech region at a time (windows that touch; a live utterance)."""
    groups: list[list[int]] = []
    for i, (a, _) in enumerate(windows):
        if online == "chunked":
            new = not groups or a >= windows[groups[-1][0]][0] + CHUNK_S
        else:
            new = not groups or a > windows[groups[-1][-1]][1] + 1e-6
        if new:
            groups.append([])
        groups[-1].append(i)
    return groups


CHUNK_S = 20.0  # the transcriber's default TRANSCRIBE_CHUNK_S


def hypothesis(windows, embeddings, threshold: float, min_speaker_s: float, hop_s: float, online: str | None = None,
               n: int | None = None):
    """(segments, number of speakers found) from one conversation's windows and their embeddings;
    ``online``: None (the whole file at once), "chunked" or "online" (see batches_of)."""
    if online:
        clusterer = dz.OnlineClusterer(threshold)
        labels: list[str | None] = [None] * len(windows)
        for group in batches_of(windows, online):
            for i, label in zip(group, clusterer.assign_batch(embeddings[group])):
                labels[i] = label
        kept = [(w, who) for w, who in zip(windows, labels) if who is not None]
        segments = dz.label_timeline([w for w, _ in kept], [who for _, who in kept])
    else:
        segments = dz.diarize(windows, embeddings, threshold, n, n, min_speaker_s, hop_s)
    return segments, len({s.speaker for s in segments})


def _whisper_like(words: list[dz.Word], offset_s: float) -> list[dict]:
    """Reference words as one Whisper segment (times from ``offset_s``), for the pipeline's cutters."""
    return [{"text": " ".join(w.text for w in words), "start": words[0].start - offset_s,
             "end": words[-1].end - offset_s,
             "words": [{"word": " " + w.text, "start": w.start - offset_s, "end": w.end - offset_s}
                       for w in words]}] if words else []


def _heard_words(conv: gen.Conversation) -> list[dz.Word]:
    """The reference words as Whisper gives them on clean speech: a turn's last word with its
    sentence's punctuation (which cut_utterances and split_turns use)."""
    marks = {(t.words[-1].start, t.words[-1].text): t.text.rstrip()[-1]
             for t in conv.turns if t.words and not t.text.rstrip()[-1].isalnum()}
    return [dz.Word(w.start, w.end, w.text + marks.get((w.start, w.text), "")) for w, _ in conv.words]


def _label(clusterer: dz.OnlineClusterer, conv: gen.Conversation, windows: list[dz.Span], embedder) -> list[dz.Segment]:
    """One batch's windows labelled at once, on the time line (what runtime/speakers.timeline does)."""
    if not windows:
        return []
    labels = clusterer.assign_batch(embed(conv, windows, dz.WINDOW_S, embedder))
    heard = [(w, who) for w, who in zip(windows, labels) if who is not None]
    return dz.label_timeline([w for w, _ in heard], [who for _, who in heard])


def as_files_are(conv: gen.Conversation, embedder, threshold: float = dz.ONLINE_THRESHOLD,
                 chunk_s: float = CHUNK_S, max_utterance_s: float = 15.0) -> tuple[list[dz.Segment], list[Cut]]:
    """(speaker segments, utterances) as the transcriber makes them of a file."""
    clusterer, segments, cuts = dz.OnlineClusterer(threshold), [], []
    words = _heard_words(conv)
    for chunk in media.speech_chunks([conv.audio], chunk_s, media.CHUNK_MAX_GAP_S):
        timeline = _label(clusterer, conv, dz.sliding_windows(chunk.regions), embedder)
        inside = [w for w in words if chunk.start_s <= (w.start + w.end) / 2 < chunk.end_s]
        segments += timeline
        cuts += cut_utterances(_whisper_like(inside, chunk.start_s), chunk.start_s, chunk.regions,
                               max_utterance_s, timeline)
    return segments, cuts


def as_live_streams_are(conv: gen.Conversation, embedder, threshold: float = dz.ONLINE_THRESHOLD,
                        endpoint_s: float = 0.5,
                        block_s: float = 0.1) -> tuple[list[dz.Segment], list[Cut]]:
    """(speaker segments, utterances) as ingest makes them of a live stream fed ``block_s`` at a time."""
    vad, endpointer = live.StreamingVad(), live.Endpointer(endpoint_s=endpoint_s)
    ends: list[live.SpeechEnded] = []
    step = int(block_s * gen.SAMPLE_RATE)
    for at in range(0, len(conv.audio), step):
        for t, p in vad.feed(conv.audio[at:at + step]):
            ends += [e for e in endpointer.add(t, p) if isinstance(e, live.SpeechEnded)]
    ends += endpointer.flush(conv.duration_s)
    clusterer, segments, cuts = dz.OnlineClusterer(threshold), [], []
    words = _heard_words(conv)
    for end in ends:
        timeline = _label(clusterer, conv, dz.sliding_windows([(end.start_s, end.end_s)]), embedder)
        inside = [w for w in words if end.start_s <= (w.start + w.end) / 2 < end.end_s]
        cut = whole_cut(_whisper_like(inside, end.start_s), end.start_s, end.end_s)
        segments += timeline
        cuts += split_turns(cut, timeline) if cut else []
    return segments, cuts


def utterance_purity(conv: gen.Conversation, cuts: list[Cut]) -> tuple[int, int, int, int]:
    """(pure utterances, those whose words all have one owner, utterances, reference words in none).

    Pure as in turn_purity: every word's middle lies in one speaker's turns (a word said while two
    talk counts for both, since no one-label-per-word cut can separate interleaved words)."""
    spans: dict[str, list[tuple[float, float]]] = {}
    for t in conv.turns:
        spans.setdefault(t.speaker, []).append((t.start, t.end))
    starts = np.array([w.start for w, _ in conv.words])
    owners = [who for _, who in conv.words]
    pure = owner_pure = 0
    for c in cuts:
        mids = [(w[1] + w[2]) / 2 for w in c.words]
        pure += any(all(any(a <= m <= b for a, b in sp) for m in mids) for sp in spans.values())
        owner_pure += len({owners[int(np.argmin(abs(starts - w[1])))] for w in c.words}) == 1
    return pure, owner_pure, len(cuts), len(owners) - sum(len(c.words) for c in cuts)


def _annotation(items):
    from pyannote.core import Annotation, Segment

    ann = Annotation()
    for i, (start, end, who) in enumerate(items):
        ann[Segment(start, end), i] = who
    return ann


def score(conv: gen.Conversation, segments: list[dz.Segment], metrics: list) -> dict:
    """DER parts (added to each metric in ``metrics``) and turn purity for one conversation."""
    from pyannote.core import Segment, Timeline

    ref = _annotation([(t.start, t.end, t.speaker) for t in conv.turns])
    hyp = _annotation([(s.start, s.end, s.speaker) for s in segments])
    uem = Timeline([Segment(0, conv.duration_s)])
    parts = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for m in metrics:
            parts[m.collar] = m(ref, hyp, uem=uem, detailed=True)
    pure, owner_pure, turns = turn_purity(conv, segments)
    detail = parts[0.25]
    return {"der": round(detail["diarization error rate"], 4),
            "missed_s": round(detail["missed detection"], 2), "false_alarm_s": round(detail["false alarm"], 2),
            "confusion_s": round(detail["confusion"], 2), "scored_s": round(detail["total"], 2),
            "der_nist_collar": round(parts[0.5]["diarization error rate"], 4),
            "turns": turns, "pure_turns": pure, "owner_pure_turns": owner_pure, "reference_turns": len(conv.turns)}


def turn_purity(conv: gen.Conversation, segments: list[dz.Segment]) -> tuple[int, int, int]:
    """(pure turns, turns whose words all have one owner, turns): the reference words cut into turns
    at the hypothesis' speaker changes.

    Pure: every word (its midpoint) falls inside one reference speaker's spans; a word spoken while
    two people talk is in both speakers' spans, so a cut anywhere in an overlap is pure. The
    stricter "owner" count wants every word spoken by one speaker, which no single-speaker labelling
    can reach at an overlap (the words interleave).
    """
    spans: dict[str, list[tuple[float, float]]] = {}
    for t in conv.turns:
        spans.setdefault(t.speaker, []).append((t.start, t.end))
    ref_words = conv.words
    words = [dz.Word(w.start, w.end, w.text) for w, _ in ref_words]
    owner = [s for _, s in ref_words]
    turns = dz.words_to_turns(words, dz.word_speakers(words, segments))
    pure = owner_pure = k = 0
    for t in turns:
        mids = [(w.start + w.end) / 2 for w in t.words]
        pure += any(all(any(a <= m <= b for a, b in sp) for m in mids) for sp in spans.values())
        owner_pure += len(set(owner[k:k + len(t.words)])) == 1
        k += len(t.words)
    return pure, owner_pure, len(turns)


def metrics_pair():
    from pyannote.metrics.diarization import DiarizationErrorRate

    return [DiarizationErrorRate(collar=0.25, skip_overlap=False), DiarizationErrorRate(collar=0.5, skip_overlap=False)]


# ---- runs -----------------------------------------------------------------------------------
def evaluate(convs, embedder, window_s: float, hop_s: float, threshold: float, min_speaker_s: float,
             online_threshold: float) -> dict:
    started = time.perf_counter()
    overall, live_overall, files_overall = metrics_pair(), metrics_pair(), metrics_pair()
    by_count: dict[int, list] = {}
    rows, embed_s, audio_s = [], 0.0, 0.0
    for conv in convs:
        n = len(conv.speakers)
        windows = windows_of(conv, window_s, hop_s)
        t = time.perf_counter()
        emb = embed(conv, windows, window_s, embedder)
        embed_s += time.perf_counter() - t
        audio_s += conv.duration_s
        segments, found = hypothesis(windows, emb, threshold, min_speaker_s, hop_s)
        row = {"conversation": conv.path.stem, "speakers": n, "found": found, "seconds": round(conv.duration_s, 1),
               "windows": len(windows), **score(conv, segments, overall + by_count.setdefault(n, metrics_pair()))}
        for mode, run, pooled in (("live", as_live_streams_are, live_overall), ("files", as_files_are, files_overall)):
            mode_segments, cuts = run(conv, embedder, online_threshold)
            scored = score(conv, mode_segments, pooled)
            pure, owner_pure, count, missed = utterance_purity(conv, cuts)
            row[mode] = {"found": len({s.speaker for s in mode_segments}), "der": scored["der"],
                         "pure_utterances": pure, "owner_pure_utterances": owner_pure, "utterances": count,
                         "words_in_no_utterance": missed}
        online, online_found = row["live"], row["live"]["found"]
        oracle_segments, _ = hypothesis(windows, emb, threshold, min_speaker_s, hop_s, n=n)
        row["der_known_count"] = score(conv, oracle_segments, metrics_pair())["der"]
        rows.append(row)
        print(f"  {row['conversation']:<12} {n} speakers, found {found} (live {online_found}); DER {row['der']:.3f} "
              f"(live {online['der']:.3f}); purity {row['pure_turns']}/{row['turns']}, files "
              f"{row['files']['pure_utterances']}/{row['files']['utterances']}, live "
              f"{online['pure_utterances']}/{online['utterances']}", flush=True)

    def summary(sel, metric=None):
        return {"conversations": len(sel),
                "der": round(abs(metric[0]), 4) if metric else None,
                "der_nist_collar": round(abs(metric[1]), 4) if metric else None,
                "speaker_count_accuracy": round(float(np.mean([r["found"] == r["speakers"] for r in sel])), 3),
                "turn_purity": round(sum(r["pure_turns"] for r in sel) / max(1, sum(r["turns"] for r in sel)), 4),
                "turn_purity_by_word_owner": round(sum(r["owner_pure_turns"] for r in sel)
                                                   / max(1, sum(r["turns"] for r in sel)), 4),
                "turns": sum(r["turns"] for r in sel), "reference_turns": sum(r["reference_turns"] for r in sel)}

    def pipeline(mode: str, pooled) -> dict:
        sel = [r[mode] | {"speakers": r["speakers"]} for r in rows]
        return {"der": round(abs(pooled[0]), 4),
                "speaker_count_accuracy": round(float(np.mean([r["found"] == r["speakers"] for r in sel])), 3),
                "utterance_purity": round(sum(r["pure_utterances"] for r in sel) / max(1, sum(r["utterances"] for r in sel)), 4),
                "utterance_purity_by_word_owner": round(sum(r["owner_pure_utterances"] for r in sel)
                                                        / max(1, sum(r["utterances"] for r in sel)), 4),
                "utterances": sum(r["utterances"] for r in sel),
                "words_in_no_utterance": sum(r["words_in_no_utterance"] for r in sel)}

    return {
        "params": {"window_s": window_s, "hop_s": hop_s, "threshold": threshold, "min_speaker_s": min_speaker_s,
                   "online_threshold": online_threshold, "vad": VAD},
        "overall": summary(rows, overall),
        "by_speakers": {str(n): summary([r for r in rows if r["speakers"] == n], m) for n, m in sorted(by_count.items())},
        "live": pipeline("live", live_overall),
        "files": pipeline("files", files_overall),
        "der_known_count_mean": round(float(np.mean([r["der_known_count"] for r in rows])), 4),
        "time": {"wall_s": round(time.perf_counter() - started, 2), "embedding_s": round(embed_s, 2),
                 "audio_s": round(audio_s, 1), "embedding_rtf": round(embed_s / max(audio_s, 1e-9), 4)},
        "conversations": rows,
    }


def tune(convs, embedder, windows_s, hops_s, thresholds, min_speaker_s, online_thresholds) -> list[dict]:
    """Every (window, hop, threshold, min speaker seconds) on the dev set: pooled DER, count accuracy,
    turn purity; and every (window, hop, online threshold) for OnlineClusterer."""
    grid = []
    for window_s, hop_s in itertools.product(windows_s, hops_s):
        if hop_s >= window_s:
            continue
        cached = []
        for conv in convs:
            w = windows_of(conv, window_s, hop_s)
            cached.append((conv, w, embed(conv, w, window_s, embedder)))
        settings = [(thr, m, None) for thr in thresholds for m in min_speaker_s]
        settings += [(thr, 0.0, "online") for thr in online_thresholds]
        for thr, m, online in settings:
            ms = metrics_pair()
            found, pure, turns = [], 0, 0
            for conv, w, e in cached:
                seg, k = hypothesis(w, e, thr, m, hop_s, online=online)
                s = score(conv, seg, ms)
                found.append(k == len(conv.speakers))
                pure, turns = pure + s["pure_turns"], turns + s["turns"]
            grid.append({"window_s": window_s, "hop_s": hop_s, "threshold": thr, "min_speaker_s": m,
                         "online": online, "der": round(abs(ms[0]), 4), "count_acc": round(float(np.mean(found)), 3),
                         "purity": round(pure / max(turns, 1), 4)})
        best = min((r for r in grid if r["window_s"] == window_s and r["hop_s"] == hop_s and not r["online"]),
                   key=lambda r: r["der"])
        print(f"window {window_s} hop {hop_s}: best threshold {best['threshold']} min {best['min_speaker_s']} s: "
              f"DER {best['der']:.4f} count {best['count_acc']:.2f} purity {best['purity']:.4f}", flush=True)
    return grid


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="bench-results/diarization.json")
    parser.add_argument("--in-process", action="store_true", help="call the model code directly, no tritonserver")
    parser.add_argument("--tune", action="store_true", help="grid search on the dev set (in-process)")
    parser.add_argument("--per-count", type=int, help="conversations per speaker count (default: dev 8, test 10)")
    parser.add_argument("--window", type=float, default=dz.WINDOW_S)
    parser.add_argument("--hop", type=float, default=dz.HOP_S)
    parser.add_argument("--threshold", type=float, default=dz.THRESHOLD)
    parser.add_argument("--min-speaker-s", type=float, default=dz.MIN_SPEAKER_S)
    parser.add_argument("--online-threshold", type=float, default=dz.ONLINE_THRESHOLD)
    parser.add_argument("--hard", action="store_true", help="the hard voice pool (espeak variants GE2E confuses)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="emopulse-diar-convs-"))
    started = time.perf_counter()
    try:
        per_count = args.per_count or (8 if args.tune else 10)
        convs = gen.conversation_set(work, "dev" if args.tune else "test", per_count,
                                     voices=gen.HARD_VOICES if args.hard else gen.VOICES)
        made_s = time.perf_counter() - started
        print(f"{len(convs)} {'dev' if args.tune else 'test'} conversations, "
              f"{sum(c.duration_s for c in convs):.0f} s of audio, made in {made_s:.1f} s", flush=True)
        if args.tune:
            grid = tune(convs, LocalEmbedder(), (0.6, 0.8, 1.0, 1.2, 1.6), (0.2, 0.4),
                        (0.25, 0.3, 0.35, 0.4), (0.0, 1.0, 1.5, 2.0), (0.25, 0.3, 0.35))
            results = {"split": "dev", "grid": grid}
            for online in (None, "online"):
                rows = [r for r in grid if r["online"] == online]
                best = min(rows, key=lambda r: (r["der"] - r["purity"] + (1 - r["count_acc"]), r["hop_s"] < 0.2))
                results["best_online" if online else "best"] = best
                print(f"best {'online' if online else 'offline'}: {best}")
        else:
            with (contextlib.nullcontext((LocalEmbedder(), None)) if args.in_process
                  else triton_speaker_embedding()) as (embedder, ready_s):
                print(f"embeddings: {embedder.where}" + (f", ready in {ready_s:.1f} s" if ready_s else ""), flush=True)
                results = {"split": "test", "embeddings": embedder.where,
                           "voices": "hard" if args.hard else "distinct",
                           **evaluate(convs, embedder, args.window, args.hop, args.threshold, args.min_speaker_s,
                                      args.online_threshold)}
                if ready_s is not None:
                    results["time"]["tritonserver_ready_s"] = round(ready_s, 2)
            results["time"]["total_s"] = round(time.perf_counter() - started, 2)
            results["targets"] = TARGETS
            o = results["overall"]
            print("\n| measure | result | target |\n|---|---|---|")
            print(f"| DER (collar 0.25, pyannote) | {o['der']:.3f} | ≤ {TARGETS['der']} |")
            print(f"| DER (NIST ±0.25 s = pyannote collar 0.5) | {o['der_nist_collar']:.3f} | |")
            for n, s in results["by_speakers"].items():
                print(f"| {n} speakers: DER / count accuracy / purity | {s['der']:.3f} / {s['speaker_count_accuracy']:.2f} "
                      f"/ {s['turn_purity']:.3f} | |")
            print(f"| speaker-count accuracy | {o['speaker_count_accuracy']:.2f} | |")
            print(f"| turn purity | {o['turn_purity']:.3f} ({o['turns']} turns, {o['reference_turns']} in the reference) "
                  f"| ≥ {TARGETS['turn_purity']} |")
            for mode, name in (("files", "files as the transcriber cuts them (20 s chunks)"),
                               ("live", "live streams as ingest cuts them (per utterance)")):
                m = results[mode]
                print(f"| {name}: DER / count accuracy / utterance purity | {m['der']:.3f} / "
                      f"{m['speaker_count_accuracy']:.2f} / {m['utterance_purity']:.3f} ({m['utterances']} utterances) "
                      f"| ≤ {TARGETS['der']} / / ≥ {TARGETS['turn_purity']} |")
            print(f"| DER with the speaker count given (mean) | {results['der_known_count_mean']:.3f} | |")
            t = results["time"]
            print(f"| time | {t['total_s']:.1f} s in all; embeddings {t['embedding_s']:.1f} s for {t['audio_s']:.0f} s "
                  f"of audio (RTF {t['embedding_rtf']:.3f}) | |")
        results["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform()}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=2))
        print(f"\nJSON in {args.out}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
