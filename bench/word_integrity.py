"""Word integrity where the file transcriber cuts long speech into Whisper chunks: is a word lost or
doubled at a cut? (issue: "Word integrity: transcribe long clips in chunks of several sizes. The word
sequence must equal the whole-file transcription, within a small WER.")

- Clips: long stretches of espeak-ng speech (tests/media.py's speech_track, one espeak call per
  sentence, 0.1 s between them, well under the VAD's 0.4 s minimum silence), so each clip is one
  speech region and every chunk boundary is a forced cut through speech: exactly where the
  transcriber's carry (emopulse.processing.utterances.carry_point, with_carry) must hear a clipped
  word once.
- Pipeline: the embedded stack (nats-server, tritonserver, every service; diarization on), each clip
  uploaded through the SDK once per EMOPULSE_TRANSCRIBE_CHUNK_S (the transcriber, the only reader of
  that setting, is restarted with each size); the words of every UtteranceResult, in order.
- References: (a) the whole-file transcription: the same speech_to_text model on the same
  tritonserver, given the whole clip in one request (faster-whisper walks its own 30 s windows);
  (b) the pipeline's own whole file: a chunk size longer than the clip (600 s) leaves it one chunk,
  the same audio from the speech's start; (c) the script espeak-ng was given.
- Scores: word-level WER (lowercase, no punctuation, numbers up to 20 spelled out) against each; from
  the alignment with the whole-file words, words lost (deletions), doubled (an extra word inside a
  phrase said twice in a row), extra and changed; each placed against the seams (the utterance
  boundary where a chunk's published words end and the carried audio begins) and checked against the
  script (whether the pipeline or Whisper's whole-file words are wrong there). Where each seam falls
  against the true end of the sentence it follows (known from the generated audio) is reported too.

    python -m bench.word_integrity [--out bench-results/word_integrity.json] [--chunks 6,10,15,20,600]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import signal
import tempfile
import time
from pathlib import Path

import numpy as np

from emopulse.client import Client
from emopulse.processing import media
from emopulse.processing.utterances import MAX_CARRY_S
from emopulse.runtime.triton import Triton
from emopulse.stack import Stack
from tests import conversations, media as fixtures

TARGET_WER = 0.02  # "within a small WER" of the whole-file transcription
SENTENCES = (fixtures.SAMPLE_SENTENCES + fixtures.SHORT_SENTENCES
             + conversations.SENTENCES["test"] + conversations.SENTENCES["dev"])
# (voice, words per minute, first sentence): three voices, each reading 30 of the 40 sentences from its own start
CLIPS = (("en-us", 150, 0), ("en-gb-x-rp", 165, 13), ("en-us+m3", 140, 26))
PER_CLIP = 30
GAP_S = 0.1  # between sentences: no pause the VAD cuts at
CONTEXT = 5  # words shown either side of a difference
SEAM_S = 1.0  # a difference this close to a seam counts as one there (a clipped word is within a word of it)

# ---- words ----------------------------------------------------------------------------------
_NUMBERS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
            "fifteen sixteen seventeen eighteen nineteen twenty").split()


def tokens(text: str) -> list[str]:
    """Normalised words: lowercase, punctuation dropped (inner apostrophes kept), 0-20 spelled out,
    so "Ten." and "10" and "ten" are one word."""
    out = []
    for w in re.findall(r"[\w']+", text.lower()):
        w = w.strip("'")
        if w:
            out.append(_NUMBERS[int(w)] if w.isdigit() and int(w) <= 20 else w)
    return out


def timed_tokens(words) -> list[tuple[str, float, float]]:
    """(token, start, end) from (text, start, end) words; a word normalising to two tokens gives both its times."""
    return [(t, s, e) for text, s, e in words for t in tokens(text)]


def align(ref: list[str], hyp: list[str]) -> list[tuple[str, int | None, int | None]]:
    """Word-level Levenshtein alignment: ops ("=", i, j), ("S", i, j), ("D", i, None) a reference word
    missing, ("I", None, j) an extra word; in order."""
    n, m = len(ref), len(hyp)
    d = np.zeros((n + 1, m + 1), np.int32)
    d[:, 0], d[0, :] = np.arange(n + 1), np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i, j] = min(d[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]), d[i - 1, j] + 1, d[i, j - 1] + 1)
    ops, i, j = [], n, m
    while i or j:  # on a tie a missing or extra word wins over two substitutions: a shift, not a change
        if i and j and ref[i - 1] == hyp[j - 1] and d[i, j] == d[i - 1, j - 1]:
            ops.append(("=", i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i and d[i, j] == d[i - 1, j] + 1:
            ops.append(("D", i - 1, None))
            i -= 1
        elif j and d[i, j] == d[i, j - 1] + 1:
            ops.append(("I", None, j - 1))
            j -= 1
        else:
            ops.append(("S", i - 1, j - 1))
            i, j = i - 1, j - 1
    return ops[::-1]


def wer(ops, ref_len: int) -> float:
    return sum(op != "=" for op, _, _ in ops) / max(1, ref_len)


def doubled(hyp: list[str], j: int) -> bool:
    """An extra word inside a phrase said twice in a row ("the report the report"): a seam heard twice."""
    return any(hyp[a:a + n] in (hyp[a - n:a], hyp[a + n:a + 2 * n])
               for n in range(1, 5) for a in range(max(0, j - n + 1), j + 1))


def context(ops, k: int, ref: list[str], hyp: list[str]) -> tuple[str, str]:
    """The aligned words around op k, the differing one in [brackets], as (reference, pipeline)."""
    sides = ([], [])
    for n, (op, i, j) in enumerate(ops[max(0, k - CONTEXT):k + CONTEXT + 1], max(0, k - CONTEXT)):
        for side, words, at in ((0, ref, i), (1, hyp, j)):
            word = words[at] if at is not None else "∅"
            sides[side].append(f"[{word}]" if n == k else word if at is not None else "")
    return tuple(" ".join(w for w in side if w) for side in sides)


def seams_of(boundaries: list[float], cuts: list[float]) -> list[float]:
    """Where a chunk's published words end and the next chunk's begin, one per forced cut: a chunk cut
    through speech is published up to its carry point, at most MAX_CARRY_S before the cut, and cut into
    utterances there. The last utterance boundary in that window (an earlier one is a split of a long
    utterance; carry_point, too, takes the later of equally good boundaries)."""
    seams = [max((t for t in boundaries if c - MAX_CARRY_S - 0.1 <= t <= c + 0.1), default=None) for c in cuts]
    return sorted({t for t in seams if t is not None})


def _nearest(t: float, times: list[float]) -> float | None:
    return round(t - min(times, key=lambda x: abs(t - x)), 2) if times else None


def matched(script: list[str], words: list[str]) -> set[int]:
    """Indices of ``words`` the script confirms (aligned to the same word)."""
    return {j for op, _, j in align(script, words) if op == "="}


def differences(ref, hyp, script: list[str], cuts: list[float], seams: list[float]) -> list[dict]:
    """Each difference of the pipeline's words from the whole-file words: what, when, how far from the
    nearest seam and forced cut (a chunk end inside speech), and whether the pipeline is the one wrong
    (by the script: Whisper's whole-file words are not always right either)."""
    ref_words, hyp_words = [w[0] for w in ref], [w[0] for w in hyp]
    ref_ok, hyp_ok = matched(script, ref_words), matched(script, hyp_words)
    ops, out = align(ref_words, hyp_words), []
    for k, (op, i, j) in enumerate(ops):
        if op == "=":
            continue
        t = ref[i][1] if op == "D" else hyp[j][1]
        kind = {"D": "lost", "S": "changed"}.get(op) or ("doubled" if doubled(hyp_words, j) else "extra")
        whole, pipeline = context(ops, k, ref_words, hyp_words)
        from_seam = _nearest(t, seams)
        out.append({"kind": kind, "time_s": round(t, 2), "from_seam_s": from_seam, "from_cut_s": _nearest(t, cuts),
                    "at_seam": from_seam is not None and abs(from_seam) <= SEAM_S,
                    "pipeline_wrong": i in ref_ok if op == "D" else j not in hyp_ok,
                    "whole": whole, "pipeline": pipeline})
    return out


def seam_offsets(seams: list[float], sentence_ends: list[float]) -> list[float]:
    """Seam minus the true end of the sentence it follows, for seams at a sentence end (the carry point
    prefers them): negative = inside the sentence's last word, which the next chunk then hears again."""
    near = [min(sentence_ends, key=lambda e: abs(t - e)) for t in seams]
    return [round(t - e, 3) for t, e in zip(seams, near) if abs(t - e) < 0.6]


# ---- clips and chunks -----------------------------------------------------------------------
def make_clips(work: Path) -> list[dict]:
    """Audio-only m4a clips (no video: the vision work has nothing to do with words), with their script."""
    clips = []
    for n, (voice, speed, first) in enumerate(CLIPS, 1):
        script = [SENTENCES[(first + k) % len(SENTENCES)] for k in range(PER_CLIP)]
        # one espeak call per sentence: inside a call espeak pauses after "!" or "?" long enough for the VAD
        parts = [p for s in script for p in re.split(r"(?<=[.!?])\s+", s)]
        audio, times = fixtures.speech_track(parts, gap_s=GAP_S, voice=voice, speed=speed)
        path = fixtures.write_mp4(work / f"clip{n}.m4a", audio, None)
        clips.append({"name": f"clip{n}", "path": path, "voice": f"{voice} {speed} wpm",
                      "seconds": round(len(audio) / fixtures.SAMPLE_RATE, 1),
                      "regions": len(media.speech_regions(media.decode_audio(path))),
                      "script": tokens(" ".join(script)), "sentence_ends": [round(e, 3) for _, e in times]})
    return clips


def forced_cuts(path: Path, chunk_s: float) -> list[float]:
    """Chunk ends inside speech, as the transcriber chunks this file (the same speech_chunks): where
    the next chunk starts at once, it carries the end of this one."""
    chunks = list(media.speech_chunks(media.audio_blocks(path), chunk_s, media.CHUNK_MAX_GAP_S))
    return [a.end_s for a, b in zip(chunks, chunks[1:]) if b.start_s - a.end_s < media.CONTIGUOUS_S]


# ---- transcriptions -------------------------------------------------------------------------
async def whole_file(stack: Stack, clips: list[dict]) -> None:
    """Each clip's whole-file words: speech_to_text on the whole audio in one request, language detected
    as a job without one has it detected."""
    triton = Triton(f"127.0.0.1:{stack.ports.triton_grpc}", 1800)
    try:
        for clip in clips:
            started = time.perf_counter()
            out, _ = await triton.infer("speech_to_text", {"AUDIO": media.decode_audio(clip["path"]),
                                                           "LANGUAGE": np.array([b""], dtype=object)}, ["SEGMENTS"])
            doc = json.loads(out["SEGMENTS"][0])
            clip["whole"] = timed_tokens((w["word"], w["start"], w["end"])
                                         for seg in doc["segments"] for w in seg.get("words") or [])
            clip["whole_s"] = round(time.perf_counter() - started, 2)
            print(f"… whole file {clip['name']}: {len(clip['whole'])} words in {clip['whole_s']:.1f} s", flush=True)
    finally:
        await triton.close()


def pipeline(gateway: str, clip: dict) -> dict:
    """One upload through the stack: the words of its results in order, and its utterances."""
    started = time.perf_counter()
    with Client(gateway) as client:
        job = client.upload(clip["path"])
        results, last = client.results(job.id, timeout=1800)
    if not last.HasField("summary"):
        raise RuntimeError(f"{clip['name']}: the job ended without a summary: {last}")
    return {"words": timed_tokens((w.text, w.start_s, w.end_s) for r in results for w in r.words),
            "utterances": [[round(r.start_s, 2), round(r.end_s, 2), r.text] for r in results],
            "wall_s": round(time.perf_counter() - started, 2)}


def restart_transcriber(stack: Stack, chunk_s: float) -> None:
    """The transcriber alone reads EMOPULSE_TRANSCRIBE_CHUNK_S: only it starts again with the new size."""
    stack.kill("transcriber", signal.SIGTERM)
    stack.env["EMOPULSE_TRANSCRIBE_CHUNK_S"] = f"{chunk_s:g}"
    stack.start_service("transcriber")


# ---- scores ---------------------------------------------------------------------------------
def word_error(ref: list, hyp: list) -> float:
    """WER of hyp against ref, words or (word, start, end) tuples."""
    ref, hyp = [w if isinstance(w, str) else w[0] for w in ref], [w if isinstance(w, str) else w[0] for w in hyp]
    return round(wer(align(ref, hyp), len(ref)), 4)


def score(clip: dict, chunk_s: float, run: dict) -> dict:
    hyp, ref = run["words"], clip["whole"]
    cuts = forced_cuts(clip["path"], chunk_s)
    seams = seams_of([(a[1] + b[0]) / 2 for a, b in zip(run["utterances"], run["utterances"][1:])], cuts)
    diffs = differences(ref, hyp, clip["script"], cuts, seams)
    offsets = seam_offsets(seams, clip["sentence_ends"])
    row = {"clip": clip["name"], "chunk_s": chunk_s, "forced_cuts": len(cuts), "seams": len(seams),
           "seams_in_last_word": sum(o < 0 for o in offsets), "words": len(hyp),
           "whole_words": len(ref), "script_words": len(clip["script"]),
           "wer_vs_whole": word_error(ref, hyp), "wer_vs_script": word_error(clip["script"], hyp)}
    for kind in ("lost", "doubled", "extra", "changed"):
        row[kind] = sum(d["kind"] == kind for d in diffs)
    row["at_seam"] = sum(d["at_seam"] for d in diffs)
    row["at_seam_pipeline_wrong"] = sum(d["at_seam"] and d["pipeline_wrong"] for d in diffs)
    return row | {"wall_s": run["wall_s"], "cuts_s": [round(c, 2) for c in cuts], "seams_s": [round(t, 2) for t in seams],
                  "seam_minus_sentence_end_s": offsets, "differences": diffs, "utterances": run["utterances"]}


def pooled(rows: list[dict]) -> dict:
    """One chunk size over every clip: error rates weighted by each clip's reference words."""
    def rate(key, ref):
        known = [r for r in rows if r.get(key) is not None]
        return round(sum(r[key] * r[ref] for r in known) / sum(r[ref] for r in known), 4) if known else None
    out = {"clip": "all", "chunk_s": rows[0]["chunk_s"], "wer_vs_whole": rate("wer_vs_whole", "whole_words"),
           "wer_vs_one_chunk": rate("wer_vs_one_chunk", "whole_words"),
           "wer_vs_script": rate("wer_vs_script", "script_words")}
    for key in ("forced_cuts", "seams", "seams_in_last_word", "words", "whole_words", "lost", "doubled", "extra",
                "changed", "at_seam", "at_seam_pipeline_wrong"):
        out[key] = sum(r[key] for r in rows)
    offsets = [o for r in rows for o in r["seam_minus_sentence_end_s"]]
    out["seam_minus_sentence_end_median_s"] = round(float(np.median(offsets)), 3) if offsets else None
    return out


def _percent(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f} %"


def table(clips: list[dict], rows: list[dict]) -> str:
    lines = ["| clip | chunk s | forced cuts (seams inside a word) | words (whole file) | WER vs whole file "
             "| WER vs one chunk | lost | doubled | extra | changed | at a seam (pipeline wrong) | WER vs script |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for clip in clips:
        lines.append(f"| {clip['name']} ({clip['voice']}, {clip['seconds']:.0f} s) | whole file, one request | | "
                     f"{len(clip['whole'])} | | | | | | | | {_percent(clip['wer_vs_script'])} |")
    for r in rows:
        name = f"**{r['clip']}**" if r["clip"] == "all" else r["clip"]
        lines.append(f"| {name} | {r['chunk_s']:g} | {r['forced_cuts']} ({r['seams_in_last_word']}) "
                     f"| {r['words']} ({r['whole_words']}) | {_percent(r['wer_vs_whole'])} "
                     f"| {_percent(r.get('wer_vs_one_chunk'))} | {r['lost']} | {r['doubled']} | {r['extra']} "
                     f"| {r['changed']} | {r['at_seam']} ({r['at_seam_pipeline_wrong']}) | {_percent(r['wer_vs_script'])} |")
    return "\n".join(lines)


def _signed(seconds: float | None) -> str:
    return "none" if seconds is None else f"{seconds:+.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="bench-results/word_integrity.json")
    parser.add_argument("--chunks", default="6,10,15,20,600",
                        help="EMOPULSE_TRANSCRIBE_CHUNK_S values, seconds; one longer than the clips is one chunk")
    args = parser.parse_args()
    sizes = [float(c) for c in args.chunks.split(",")]
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="emopulse-words-"))
    stack, rows = None, []
    try:
        clips = make_clips(work)
        print(f"{len(clips)} clips, {sum(c['seconds'] for c in clips):.0f} s of speech "
              f"(speech regions: {[c['regions'] for c in clips]})", flush=True)
        stack = Stack.new(work / "stack", env={"EMOPULSE_DIARIZATION": "on",
                                                "EMOPULSE_TRANSCRIBE_CHUNK_S": f"{sizes[0]:g}"})
        stack.start(progress=lambda m: print(f"… {m}", flush=True))
        asyncio.run(whole_file(stack, clips))
        for clip in clips:
            clip["wer_vs_script"] = word_error(clip["script"], clip["whole"])
        for n, chunk_s in enumerate(sizes):
            if n:
                restart_transcriber(stack, chunk_s)
            for clip in clips:
                run = pipeline(stack.gateway, clip)
                rows.append(score(clip, chunk_s, run) | {"_words": run["words"]})
                r = rows[-1]
                print(f"… {chunk_s:g} s chunks, {clip['name']}: {r['forced_cuts']} forced cuts, "
                      f"WER vs whole file {_percent(r['wer_vs_whole'])}, in {r['wall_s']:.1f} s", flush=True)
    finally:
        if stack is not None:
            stack.stop()
        shutil.rmtree(work, ignore_errors=True)
    # The pipeline's own whole file: a chunk size that left a clip in one chunk (same audio from the
    # speech's start, which moves Whisper's 30 s windows against the one-request transcription).
    one_chunk = {r["clip"]: r["_words"] for r in rows if r["forced_cuts"] == 0}
    for r in rows:
        words = r.pop("_words")
        r["wer_vs_one_chunk"] = word_error(one_chunk[r["clip"]], words) if r["clip"] in one_chunk else None
    per_size = [pooled([r for r in rows if r["chunk_s"] == size]) for size in sizes]
    wall = time.perf_counter() - started
    results = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine()},
        "clips": [{k: c[k] for k in ("name", "voice", "seconds", "regions", "wer_vs_script", "whole_s", "sentence_ends")}
                  | {"script_words": len(c["script"]), "whole_words": len(c["whole"]),
                     "whole_text": " ".join(w[0] for w in c["whole"])} for c in clips],
        "settings": {"chunk_sizes_s": sizes, "sentence_gap_s": GAP_S, "diarization": "on",
                     "max_carry_s": MAX_CARRY_S, "seam_s": SEAM_S, "target_wer_vs_whole": TARGET_WER},
        "per_chunk_size": per_size, "runs": rows, "wall_s": round(wall, 1),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print("\n" + table(clips, [r for size, total in zip(sizes, per_size)
                               for r in [r for r in rows if r["chunk_s"] == size] + [total]]))
    # where the words differ, wherever a run misses the target (* at a seam, ✗ the pipeline is wrong by the script)
    for r in rows:
        if r["wer_vs_whole"] > TARGET_WER:
            print(f"\n{r['clip']}, {r['chunk_s']:g} s chunks, WER vs whole file {_percent(r['wer_vs_whole'])}; "
                  f"seams at {r['seams_s']}")
            for d in r["differences"]:
                print(f" {'*' if d['at_seam'] else ' '}{'✗' if d['pipeline_wrong'] else ' '}{d['time_s']:6.2f} s "
                      f"{d['kind']:<7} seam {_signed(d['from_seam_s'])} | whole file: {d['whole']} "
                      f"| pipeline: {d['pipeline']}")
    offsets = [o for r in rows for o in r["seam_minus_sentence_end_s"]]
    if offsets:
        print(f"\nseams at a sentence end: {len(offsets)}; inside the sentence's last word: "
              f"{sum(o < 0 for o in offsets)} (seam minus the true end: median {np.median(offsets):+.2f} s, "
              f"min {min(offsets):+.2f} s)")
    print(f"\n{wall:.0f} s in all; machine: {results['machine']}; JSON in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
