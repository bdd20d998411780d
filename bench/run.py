"""`make bench`: EmoPulse end to end on a 60-second talking clip, against its slowest stage alone and a
seed-style sequential baseline using the same Triton models. Prints a table, writes JSON.

    python -m bench.run [--out bench-results/bench.json] [--duration 60]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from emopulse.client import Client
from emopulse.labels import SAMPLE_RATE
from emopulse.processing import media
from emopulse.runtime.settings import Settings
from emopulse.runtime.triton import Triton, strings
from emopulse.stack import Stack
from emopulse.processing.fusion import fusion_inputs
from emopulse.processing.vision import find_faces
from emopulse.processing import vision
from emopulse.v1 import results_pb2 as pb
from tests import media as fixtures

TARGETS = {"rtf": 0.30, "pipeline_over_slowest_stage": 1.3, "baseline_over_emopulse": 3.0, "stack_peak_rss_gib": 6.0}


# ---- the clip -------------------------------------------------------------------------------
def make_clip(path: Path, duration_s: float) -> Path:
    """Sentences of varied feeling over the astronaut's face, repeated until the speech lasts duration_s."""
    pool = fixtures.SAMPLE_SENTENCES + fixtures.SHORT_SENTENCES
    sentences = []
    while not sentences or fixtures.speech_track(sentences)[1][-1][1] + 0.5 < duration_s:
        sentences.append(pool[len(sentences) % len(pool)])
    clip, _ = fixtures.make_talking_clip(path, sentences)
    return clip


# ---- memory ---------------------------------------------------------------------------------
def _descendants(pids: list[int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    seen, todo = set(), list(pids)
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            todo.extend(children.get(pid, []))
    return seen


def _rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class PeakRss(threading.Thread):
    """Samples the summed RSS of the stack's processes and their children (Triton model stubs)."""

    def __init__(self, stack: Stack):
        super().__init__(daemon=True)
        self.stack, self.peak, self.stopped = stack, 0, threading.Event()

    def run(self):
        while not self.stopped.wait(0.25):
            self.peak = max(self.peak, sum(_rss_bytes(p) for p in _descendants(list(self.stack.pids.values()))))


# ---- EmoPulse --------------------------------------------------------------------------------
def run_jobs(gateway: str, clip: Path, count: int) -> float:
    """Submit `count` uploads at once; seconds from the first upload to the last job's last result."""
    def one(_):
        with Client(gateway) as client:
            job = client.upload(clip)
            events = list(client.subscribe(job.id, timeout=1800))
            assert events[-1].HasField("summary"), events[-1]
            return events[-1].summary.utterance_count
    started = time.perf_counter()
    with ThreadPoolExecutor(count) as pool:
        counts = list(pool.map(one, range(count)))
    return time.perf_counter() - started, counts[0]


# ---- stages alone ----------------------------------------------------------------------------
async def stage_times(triton: Triton, clip: Path, settings: Settings) -> dict[str, float]:
    """Each stage's own work over the whole clip, run alone: what the pipeline overlaps."""
    times = {}
    started = time.perf_counter()
    audio = media.decode_audio(clip)
    regions = media.speech_regions(audio, SAMPLE_RATE)
    spans, language = [], b""
    for start, end in media.group_regions(regions, settings.transcribe_chunk_s, media.CHUNK_MAX_GAP_S):
        # as the transcriber does: detect the language on the first chunk, then pass it on
        out, _ = await triton.infer("speech_to_text", {"AUDIO": audio[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)],
                                                       "LANGUAGE": np.array([language], dtype=object)}, ["SEGMENTS"])
        doc = json.loads(out["SEGMENTS"][0])
        language = language or doc["language"].encode()
        spans += [(start + s["start"], start + s["end"], s["text"]) for s in doc["segments"]]
    times["transcribe"] = time.perf_counter() - started

    started = time.perf_counter()
    for start, end, text in spans:
        await triton.infer("text_classifier", {"TEXT": strings([text])}, ["EMBEDDING", "EMOTION", "SENTIMENT"])
        await triton.infer("audio_embedding", {"AUDIO": audio[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)]}, ["EMBEDDING"])
    times["audiotext"] = time.perf_counter() - started

    started = time.perf_counter()
    for start, end, _ in spans:
        _, crops, _ = find_faces(clip, vision.sample_times(start, end, settings.vision_fps, settings.vision_max_frames))
        if len(crops):
            await triton.infer("face_expression", {"FACE": crops}, ["EXPRESSION"])
    times["vision"] = time.perf_counter() - started
    return times


# ---- the seed-style sequential baseline ------------------------------------------------------
async def sequential_baseline(triton: Triton, clip: Path, settings: Settings) -> tuple[float, int]:
    """Transcribe the whole file, then per segment: cut it with ffmpeg, run text, audio and vision
    one after another, fuse. Same models (the same Triton server), no overlap."""
    started = time.perf_counter()
    audio = media.decode_audio(clip)
    out, _ = await triton.infer("speech_to_text", {"AUDIO": audio, "LANGUAGE": np.array([b""], dtype=object)}, ["SEGMENTS"])
    segments = json.loads(out["SEGMENTS"][0])["segments"]
    weights = settings.weights()
    with tempfile.TemporaryDirectory() as tmp:
        for i, seg in enumerate(segments):
            cut = Path(tmp) / f"seg{i}.mp4"
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", str(seg["start"]), "-to", str(seg["end"]), "-i", str(clip),
                            "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(cut)], check=True)
            features = {}
            text, _ = await triton.infer("text_classifier", {"TEXT": strings([seg["text"]])}, ["EMBEDDING", "EMOTION", "SENTIMENT"])
            features["text"] = pb.ModalityResult(modality=pb.TEXT, present=True, emotion=text["EMOTION"][0],
                                                 sentiment=text["SENTIMENT"][0], embedding=text["EMBEDDING"][0])
            sound, _ = await triton.infer("audio_embedding", {"AUDIO": media.decode_audio(cut)}, ["EMBEDDING"])
            features["audio"] = pb.ModalityResult(modality=pb.AUDIO, present=True, embedding=sound["EMBEDDING"])
            length = seg["end"] - seg["start"]
            _, crops, _ = find_faces(cut, vision.sample_times(0, length, settings.vision_fps, settings.vision_max_frames))
            if len(crops):
                faces, _ = await triton.infer("face_expression", {"FACE": crops}, ["EXPRESSION"])
                mean = vision.aggregate_expressions(faces["EXPRESSION"])
                features["vision"] = pb.ModalityResult(modality=pb.VISION, present=True, emotion=mean, embedding=mean)
            await triton.infer("fusion", fusion_inputs(features, weights), ["EMOTION", "SENTIMENT"])
    return time.perf_counter() - started, len(segments)


async def _with_triton(stack: Stack, work):
    triton = Triton(f"127.0.0.1:{stack.ports.triton_grpc}", 600)
    try:
        return await work(triton)
    finally:
        await triton.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="bench-results/bench.json")
    parser.add_argument("--duration", type=float, default=60.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="emopulse-bench-"))
    clip = make_clip(work / "talk60.mp4", args.duration)
    duration = media.probe(clip).duration_s
    settings = Settings.from_env()
    stack = Stack.new(work / "stack")
    rss = PeakRss(stack)
    results: dict = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                 "processor": platform.processor() or platform.machine()},
                     "clip_seconds": round(duration, 2), "clip_bytes": clip.stat().st_size}
    try:
        stack.start(progress=lambda m: print(f"… {m}", flush=True))
        rss.start()
        run_jobs(stack.gateway, clip, 1)  # warm-up: first requests load lazily-initialised kernels
        for n in (1, 2, 4):
            wall, utterances = run_jobs(stack.gateway, clip, n)
            results[f"emopulse_{n}"] = {"wall_s": round(wall, 2), "rtf": round(wall / (n * duration), 3),
                                        "media_s_per_s": round(n * duration / wall, 2), "utterances": utterances}
            print(f"EmoPulse, {n} clip(s) at once: {wall:.1f} s", flush=True)
        stages = asyncio.run(_with_triton(stack, lambda t: stage_times(t, clip, settings)))
        results["stages_alone_s"] = {k: round(v, 2) for k, v in stages.items()}
        baseline, segments = asyncio.run(_with_triton(stack, lambda t: sequential_baseline(t, clip, settings)))
        results["baseline"] = {"wall_s": round(baseline, 2), "segments": segments}
    finally:
        rss.stopped.set()
        stack.stop()
    single = results["emopulse_1"]["wall_s"]
    slowest = max(stages, key=stages.get)
    results["figures"] = {
        "rtf": results["emopulse_1"]["rtf"],
        "slowest_stage": slowest,
        "pipeline_over_slowest_stage": round(single / stages[slowest], 2),
        "baseline_over_emopulse": round(baseline / single, 2),
        "stack_peak_rss_gib": round(rss.peak / 2**30, 2),
    }
    results["targets"] = TARGETS
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    f = results["figures"]
    rows = [
        ("clip", f"{duration:.1f} s, {utterances_of(results)} utterances", ""),
        ("EmoPulse, 1 clip: wall / RTF", f"{single:.1f} s / {f['rtf']:.3f}", f"RTF ≤ {TARGETS['rtf']}"),
        ("EmoPulse, 2 clips at once", f"{results['emopulse_2']['wall_s']:.1f} s ({results['emopulse_2']['media_s_per_s']} media s/s)", ""),
        ("EmoPulse, 4 clips at once", f"{results['emopulse_4']['wall_s']:.1f} s ({results['emopulse_4']['media_s_per_s']} media s/s)", ""),
        ("stages alone", ", ".join(f"{k} {v:.1f} s" for k, v in stages.items()), ""),
        (f"pipeline / slowest stage ({slowest})", f"{f['pipeline_over_slowest_stage']:.2f}", f"≤ {TARGETS['pipeline_over_slowest_stage']}"),
        ("sequential baseline", f"{baseline:.1f} s ({segments} segments)", ""),
        ("baseline / EmoPulse", f"{f['baseline_over_emopulse']:.2f}×", f"≥ {TARGETS['baseline_over_emopulse']}×"),
        ("stack peak RSS", f"{f['stack_peak_rss_gib']:.2f} GiB", f"≤ {TARGETS['stack_peak_rss_gib']} GiB"),
    ]
    print("\n| measure | result | target |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nmachine: {results['machine']}; JSON in {args.out}")
    return 0


def utterances_of(results) -> int:
    return results["emopulse_1"]["utterances"]


if __name__ == "__main__":
    raise SystemExit(main())
