"""`make bench` (live part): latency of live streams and how many this machine holds in real time.

Latency: a scripted clip of espeak sentences over a face plays as a real RTSP camera (GStreamer's
server); each sentence's true end of speech is known from the script, so the latency of a result is
the wall time it reached a subscriber minus the wall time its speech ended at the source. Partial
latency is from the true start of speech to the first partial of that utterance.

Capacity: N streams of the same camera at once for a few minutes, N = 1, 2, ...; a stream keeps up
when its lag (GetStream) stays under the lag warning and does not grow over the last half.

    python -m bench.live [--out bench-results/live.json] [--sentences 32] [--capacity-minutes 5]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from emopulse.client import Client
from emopulse.stack import Stack
from emopulse.v1 import results_pb2 as pb
from tests import media as fixtures
from tests.live_sources import RtspSource, make_scripted_clip

TARGETS = {"final_p50_s": 1.5, "final_p95_s": 3.0}


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def latency(client: Client, clip: Path, spoken) -> dict:
    """One stream of the whole script: per-utterance final and first-partial latency."""
    with RtspSource(clip, loop=False) as source:
        stream = client.start_stream(source.url, language="en")
        finals, partials = [], {}
        for event in client.subscribe(stream.id, timeout=len(spoken) * 10 + 120):
            now = time.time()
            if event.HasField("result"):
                finals.append((now, event.result))
                if len(finals) == len(spoken):  # all heard: end it now (a camera that stops is retried)
                    client.stop_stream(stream.id)
            elif event.HasField("partial"):
                partials.setdefault(event.partial.index, now)
        started_at = source.started_at
    # Our media time 0 is where the camera was when the stream connected: align by the first sentence.
    offset = finals[0][1].start_s - spoken[0].start_s if finals else 0.0
    final_s, partial_s, matched = [], [], 0
    for arrived, result in finals:
        said = min(spoken, key=lambda s: abs(s.start_s - (result.start_s - offset)))
        if abs(said.start_s - (result.start_s - offset)) > 1.0:
            continue
        matched += 1
        final_s.append(arrived - (started_at + said.end_s))
        if result.index in partials:
            partial_s.append(partials[result.index] - (started_at + said.start_s))
    return {"utterances": len(finals), "matched": matched, "final_s": final_s, "partial_s": partial_s,
            "final_p50_s": round(percentile(final_s, 50), 3), "final_p95_s": round(percentile(final_s, 95), 3),
            "partial_p50_s": round(percentile(partial_s, 50), 3), "partial_p95_s": round(percentile(partial_s, 95), 3),
            "utterances_with_partial": len(partial_s)}


def holds(client: Client, clip: Path, n: int, minutes: float, lag_limit_s: float) -> dict:
    """n streams of one looping camera for `minutes`: their lag over time."""
    with RtspSource(clip, loop=True) as source:
        ids = [client.start_stream(source.url, name=f"capacity-{i}", language="en").id for i in range(n)]
        samples: list[list[float]] = []
        end = time.time() + minutes * 60
        while time.time() < end:
            time.sleep(10)
            samples.append([client.get_stream(i).lag_s for i in ids])
        streams = [client.get_stream(i) for i in ids]
        for i in ids:
            client.stop_stream(i)
    lags = np.array(samples)
    half = lags[len(lags) // 2:]
    growing = bool(len(half) > 2 and np.polyfit(np.arange(len(half)), half.max(axis=1), 1)[0] > 0.05)
    ok = bool(lags.max() < lag_limit_s and not growing and all(s.state == pb.STREAM_LIVE for s in streams))
    return {"streams": n, "max_lag_s": round(float(lags.max()), 2), "lag_growing": growing,
            "utterances": [s.utterances for s in streams], "kept_up": ok}


def run_model(model: str, work: Path, clips: dict, measure_latency: bool, minutes: float, max_streams: int) -> dict:
    """One stack with this Whisper model: latency (optional), then capacity. clips: name -> (path, spoken)."""
    stack = Stack.new(work / f"stack-{model}", env={"EMOPULSE_WHISPER_MODEL": model})
    try:
        stack.start(progress=lambda m: print(f"… {m}", flush=True))
        with Client(stack.gateway, timeout=60) as client:
            out = {}
            latency(client, *clips["loop"])  # warm-up: the first requests initialise each model lazily
            if measure_latency:
                out["latency"] = latency(client, *clips["script"])
                print(f"{model}: final p50 {out['latency']['final_p50_s']} s, p95 {out['latency']['final_p95_s']} s",
                      flush=True)
            out["capacity"] = []
            lag_limit = float(os.environ.get("EMOPULSE_LAG_WARNING_S", 5.0))
            for n in range(1, max_streams + 1):
                result = holds(client, clips["loop"][0], n, minutes, lag_limit)
                out["capacity"].append(result)
                print(f"{model}: {n} stream(s): max lag {result['max_lag_s']} s, kept up: {result['kept_up']}",
                      flush=True)
                if not result["kept_up"]:
                    break
            held = [r["streams"] for r in out["capacity"] if r["kept_up"]]
            out["streams_held"] = max(held) if held else 0
            return out
    finally:
        stack.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="bench-results/live.json")
    parser.add_argument("--sentences", type=int, default=32)
    parser.add_argument("--capacity-minutes", type=float, default=5.0)
    parser.add_argument("--max-streams", type=int, default=6)
    parser.add_argument("--models", default="base,tiny.en")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="emopulse-bench-live-"))
    pool = fixtures.SAMPLE_SENTENCES + fixtures.SHORT_SENTENCES
    script = [pool[i % len(pool)] for i in range(args.sentences)]
    clips = {name: (work / f"{name}.mp4", make_scripted_clip(work / f"{name}.mp4", sentences, gap_s=1.5,
                                                                lead_s=lead, tail_s=3.0))
             for name, sentences, lead in (("script", script, 2.0), ("loop", pool[:4], 1.0))}
    results = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
               "sentences": len(script), "capacity_minutes": args.capacity_minutes, "targets": TARGETS}
    for model in args.models.split(","):
        results[model] = run_model(model, work, clips, model == "base", args.capacity_minutes, args.max_streams)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    lat = results["base"]["latency"] if "base" in results else None
    print("\n| measure | result | target |\n|---|---|---|")
    if lat:
        print(f"| final latency p50 / p95 (base, {lat['matched']} utterances) | {lat['final_p50_s']:.2f} s / "
              f"{lat['final_p95_s']:.2f} s | ≤ {TARGETS['final_p50_s']} s / ≤ {TARGETS['final_p95_s']} s |")
        print(f"| first partial after speech starts p50 / p95 ({lat['utterances_with_partial']} utterances) | "
              f"{lat['partial_p50_s']:.2f} s / {lat['partial_p95_s']:.2f} s | |")
    for model in args.models.split(","):
        print(f"| live streams held in real time for {args.capacity_minutes:g} min ({model}) | "
              f"{results[model]['streams_held']} | |")
    print(f"\nmachine: {results['machine']}; JSON in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
