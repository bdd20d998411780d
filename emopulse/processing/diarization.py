"""Speaker diarization logic: windows over speech, speakers from voice prints, words cut into turns.

The voice prints come from the ``speaker_embedding`` Triton model (GE2E, 256-d, L2 norm 1); this
module is pure logic on top of them, so it is the same for files (cluster all windows at once) and
live streams (``OnlineClusterer``: a speaker keeps its label for the whole stream).

Labels are "S1", "S2", … in order of first appearance, so they read the same across runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

Span = tuple[float, float]

#: Defaults tuned on generated dev conversations (bench/diarization.py --tune), not on the reported set.
WINDOW_S = 0.6
HOP_S = 0.2
THRESHOLD = 0.35  # cosine distance (1 - cos) at which two voices count as different speakers
MIN_SPEAKER_S = 1.0  # a cluster with less speech than this (in windows: / HOP_S) is not a speaker
ONLINE_THRESHOLD = 0.15  # OnlineClusterer: distance from a batch's voice (mean print) to a speaker's centroid
MIN_SPEAKERS_EASING = 0.6  # while fewer than min_speakers are known, a new voice needs 0.6 x the distance


@dataclass(frozen=True)
class Segment:
    """[start, end) seconds spoken by ``speaker``."""

    start: float
    end: float
    speaker: str


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Turn:
    """Consecutive words of one speaker; it starts at its first word and ends at its last."""

    speaker: str
    words: tuple[Word, ...]

    @property
    def start(self) -> float:
        return self.words[0].start

    @property
    def end(self) -> float:
        return self.words[-1].end

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


MAX_SPEAKERS = 20  # the most speakers a request may ask for


def bounds_problem(min_speakers: int, max_speakers: int) -> str:
    """What is wrong with a request's speaker counts (0 = not given), or "" when nothing is."""
    for name, value in (("min_speakers", min_speakers), ("max_speakers", max_speakers)):
        if not 0 <= value <= MAX_SPEAKERS:
            return f"{name} must be between 1 and {MAX_SPEAKERS} (or 0: not given), not {value}"
    if min_speakers and max_speakers and min_speakers > max_speakers:
        return f"min_speakers ({min_speakers}) is above max_speakers ({max_speakers})"
    return ""


def speaker_label(index: int) -> str:
    """0 -> "S1", 1 -> "S2", …"""
    return f"S{index + 1}"


# ---------------------------------------------------------------- windows


def sliding_windows(regions: Sequence[Span], window_s: float = WINDOW_S, hop_s: float = HOP_S,
                    min_s: float = 0.2) -> list[Span]:
    """Windows of ``window_s`` every ``hop_s`` inside each speech region, the last one flush with its end.

    Windows never cross a pause: a pause is where turns usually change, and a voice print of
    silence says nothing. A region shorter than ``window_s`` (a "Yes.") is one window of its own
    length, so a short reply still gets a speaker; regions under ``min_s`` are skipped.
    """
    if window_s <= 0 or hop_s <= 0:
        raise ValueError("window_s and hop_s must be positive")
    out: list[Span] = []
    for a, b in sorted(regions):
        length = b - a
        if length < min_s:
            continue
        if length <= window_s:
            out.append((a, b))
            continue
        n = math.ceil((length - window_s) / hop_s - 1e-9)
        out.extend((a + i * hop_s, a + i * hop_s + window_s) for i in range(n))
        out.append((b - window_s, b))
    return out


def window_audio(audio: np.ndarray, windows: Sequence[Span], window_s: float = WINDOW_S,
                 sample_rate: int = 16_000) -> np.ndarray:
    """float32 [len(windows), window_s * rate]: each window's samples, a short one repeated to fill.

    One length for all rows lets Triton batch them; repeating a short reply (rather than padding
    it with silence) keeps its voice print about its voice.
    """
    n = int(round(window_s * sample_rate))
    out = np.zeros((len(windows), n), np.float32)
    for i, (a, b) in enumerate(windows):
        x = audio[max(0, int(round(a * sample_rate))):int(round(b * sample_rate))]
        if x.size:
            out[i] = np.resize(x, n)  # np.resize repeats the samples
    return out


# ---------------------------------------------------------------- clustering


def _first_appearance(ids: np.ndarray) -> np.ndarray:
    """Renumber cluster ids 0, 1, … in the order they first occur."""
    order = {c: i for i, c in enumerate(dict.fromkeys(int(c) for c in ids))}
    return np.array([order[int(c)] for c in ids], dtype=int)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _nearest_centroid(x: np.ndarray, ids: np.ndarray, clusters: Sequence[int], passes: int = 2) -> np.ndarray:
    """Move every row to the nearest centroid among ``clusters`` (recomputed after each pass)."""
    centroids = _unit(np.stack([x[ids == c].mean(0) for c in clusters]))
    for _ in range(passes):
        ids = np.argmax(x @ centroids.T, axis=1)
        centroids = _unit(np.stack([x[ids == c].mean(0) if (ids == c).any() else centroids[c]
                                    for c in range(len(centroids))]))
    return ids


def cluster_speakers(embeddings: np.ndarray, threshold: float = THRESHOLD, min_speakers: int | None = None,
                     max_speakers: int | None = None, min_size: int = 1) -> np.ndarray:
    """Speaker index (0 = first to speak) of each embedding [n, d].

    Agglomerative clustering, cosine distance, average linkage: merging stops at ``threshold``, which
    estimates the number of speakers. A cluster of fewer than ``min_size`` windows is too little
    speech to be a speaker (windows across a change, a noisy short reply): its windows join the
    nearest other cluster. Every window then moves to its nearest centroid, which undoes joins that
    average linkage made through a mixed neighbour. The count is clamped to [min_speakers,
    max_speakers] by clustering again to exactly that many.
    """
    from sklearn.cluster import AgglomerativeClustering

    x = _unit(np.asarray(embeddings, dtype=np.float64))
    n = len(x)
    if n <= 1:
        return np.zeros(n, dtype=int)
    hi = min(n, max_speakers or n)
    lo = min(max(1, min_speakers or 1), hi)

    def fit(**kw) -> np.ndarray:
        return AgglomerativeClustering(metric="cosine", linkage="average", **kw).fit_predict(x)

    ids = fit(n_clusters=None, distance_threshold=threshold)
    counts = np.bincount(ids)
    kept = [c for c in range(len(counts)) if counts[c] >= min_size] or [int(np.argmax(counts))]
    if len(kept) > 1:
        ids = _nearest_centroid(x, ids, kept)
    else:
        ids = np.zeros(n, dtype=int)
    k = len(set(ids.tolist()))
    if not lo <= k <= hi:
        k = min(max(k, lo), hi)
        ids = np.zeros(n, dtype=int) if k == 1 else fit(n_clusters=k)
        if k > 1:
            moved = _nearest_centroid(x, ids, range(k))
            ids = moved if len(set(moved.tolist())) == k else ids  # never lose a speaker asked for
    return _first_appearance(ids)


class OnlineClusterer:
    """Speakers of a job or stream, heard a batch of windows at a time; a label, once given, never changes.

    Each speaker is a centroid (the normalised sum of its windows). A window joins the nearest
    centroid when its cosine distance is under ``threshold``; otherwise it opens a new speaker,
    unless ``max_speakers`` are already there. While fewer than ``min_speakers`` are known the bar
    for a new speaker is lower (``MIN_SPEAKERS_EASING``): the user said more people speak. Later
    windows never relabel earlier ones, so what a subscriber was told stays true; the state is a
    few centroids (``prints``), so memory does not grow with the media and a restart resumes it.
    """

    def __init__(self, threshold: float = ONLINE_THRESHOLD, max_speakers: int | None = None,
                 min_speakers: int | None = None, sums: np.ndarray | None = None):
        self.threshold = threshold
        self.max_speakers = max_speakers or None
        self.min_speakers = min_speakers or None
        self._sums: list[np.ndarray] = [np.asarray(r, dtype=np.float64) for r in (sums if sums is not None else [])]

    @property
    def speakers(self) -> list[str]:
        return [speaker_label(i) for i in range(len(self._sums))]

    @property
    def prints(self) -> np.ndarray:
        """The state to keep: each speaker's sum of voice prints [speakers, d] (float32)."""
        return np.stack(self._sums).astype(np.float32) if self._sums else np.zeros((0, 0), np.float32)

    def _bar(self) -> float:
        short = self.min_speakers is not None and len(self._sums) < self.min_speakers
        return self.threshold * (MIN_SPEAKERS_EASING if short else 1.0)

    def assign(self, embedding: np.ndarray, weight: float = 1.0) -> str:
        """The speaker of one embedding [d] (its voice then counts, ``weight`` times, toward that speaker)."""
        e = _unit(np.asarray(embedding, dtype=np.float64).reshape(-1))
        if self._sums:
            dist = 1.0 - _unit(np.stack(self._sums)) @ e
            best = int(np.argmin(dist))
            full = self.max_speakers is not None and len(self._sums) >= self.max_speakers
            if dist[best] < self._bar() or full:
                self._sums[best] = self._sums[best] + weight * e
                return speaker_label(best)
        self._sums.append(weight * e)
        return speaker_label(len(self._sums) - 1)

    def assign_batch(self, embeddings: np.ndarray, min_size: int | None = None) -> list[str | None]:
        """The speakers of a batch of windows (one chunk or utterance of speech), in their order.

        The batch is first clustered on its own (``cluster_speakers``: agglomerative, so a voice
        within the chunk is judged by all its windows, not window by window), then each of its
        clusters joins a known speaker or opens one, by its mean voice print. A silent window (zero
        print) gets None. A cluster too small to be a speaker on its own (``min_size`` windows)
        joins its nearest known speaker, when there is one. Last, every window of the batch moves to
        its nearest speaker's centroid (as ``cluster_speakers`` does), which undoes a voice split or
        joined wrongly inside a short batch.
        """
        x = np.asarray(embeddings, dtype=np.float64)
        out: list[str | None] = [None] * len(x)
        keep = np.flatnonzero(np.linalg.norm(x, axis=1) > 0.5) if len(x) else np.zeros(0, int)
        if not len(keep):
            return out
        min_size = min_windows() if min_size is None else min_size
        local = cluster_speakers(x[keep], THRESHOLD, None, self.max_speakers, min_size)
        for c in range(int(local.max()) + 1):
            rows = keep[local == c]
            mean = _unit(x[rows].mean(0))
            if len(rows) < min_size and self._sums:
                best = int(np.argmax(_unit(np.stack(self._sums)) @ mean))
                self._sums[best] = self._sums[best] + len(rows) * mean
                label = speaker_label(best)
            else:
                label = self.assign(mean, weight=len(rows))
            for r in rows:
                out[int(r)] = label
        if len(self._sums) > 1:
            for r, best in zip(keep, np.argmax(_unit(x[keep]) @ _unit(np.stack(self._sums)).T, axis=1)):
                out[int(r)] = speaker_label(int(best))
        return out


# ---------------------------------------------------------------- time line


def label_timeline(windows: Sequence[Span], speakers: Sequence[str]) -> list[Segment]:
    """Who speaks when, from labelled windows (as given by ``sliding_windows``).

    Overlapping windows of different speakers meet at the midpoint of their centres (the window
    centred on a change is about half each voice); touching windows of one speaker join up.
    """
    if len(windows) != len(speakers):
        raise ValueError("one speaker per window")
    pairs = sorted(zip(windows, speakers), key=lambda p: (p[0][0] + p[0][1]) / 2)
    segments: list[Segment] = []
    for i, ((a, b), who) in enumerate(pairs):
        start, end = a, b
        if i and pairs[i - 1][0][1] > a:  # overlaps the previous window
            start = max(a, ((pairs[i - 1][0][0] + pairs[i - 1][0][1]) / 2 + (a + b) / 2) / 2)
        if i + 1 < len(pairs) and pairs[i + 1][0][0] < b:
            na, nb = pairs[i + 1][0]
            end = min(b, ((a + b) / 2 + (na + nb) / 2) / 2)
        if end <= start:
            continue
        last = segments[-1] if segments else None
        if last and last.speaker == who and start - last.end < 1e-6:
            segments[-1] = Segment(last.start, max(last.end, end), who)
        else:
            segments.append(Segment(start, end, who))
    return segments


def min_windows(min_speaker_s: float = MIN_SPEAKER_S, hop_s: float = HOP_S) -> int:
    """How many windows, ``hop_s`` apart, make ``min_speaker_s`` of speech (cluster_speakers' min_size)."""
    return max(1, math.ceil(min_speaker_s / hop_s - 1e-9))


def diarize(windows: Sequence[Span], embeddings: np.ndarray, threshold: float = THRESHOLD,
            min_speakers: int | None = None, max_speakers: int | None = None,
            min_speaker_s: float = MIN_SPEAKER_S, hop_s: float = HOP_S) -> list[Segment]:
    """Who speaks when in a whole file, from its windows and their voice prints [n, d].

    Silent windows (a zero voice print) are dropped; the rest are clustered (``cluster_speakers``)
    and laid on the time line (``label_timeline``).
    """
    embeddings = np.asarray(embeddings)
    keep = np.linalg.norm(embeddings, axis=1) > 0.5 if len(embeddings) else np.zeros(0, bool)
    kept = [w for w, k in zip(windows, keep) if k]
    ids = cluster_speakers(embeddings[keep], threshold, min_speakers, max_speakers,
                           min_windows(min_speaker_s, hop_s))
    return label_timeline(kept, [speaker_label(int(i)) for i in ids])


# ---------------------------------------------------------------- words and turns


def word_speakers(words: Sequence[Word], segments: Sequence[Segment]) -> list[str | None]:
    """The speaker of each word: the one whose segments overlap it most, else the nearest segment.

    None only when there are no segments at all.
    """
    out: list[str | None] = []
    for w in words:
        overlap: dict[str, float] = {}
        for s in segments:
            d = min(w.end, s.end) - max(w.start, s.start)
            if d > 0:
                overlap[s.speaker] = overlap.get(s.speaker, 0.0) + d
        if overlap:
            out.append(max(overlap, key=overlap.get))
        elif segments:
            mid = (w.start + w.end) / 2
            out.append(min(segments, key=lambda s: max(s.start - mid, mid - s.end)).speaker)
        else:
            out.append(None)
    return out


def words_to_turns(words: Sequence[Word], speakers: Sequence[str | None]) -> list[Turn]:
    """Cut a time-ordered run of words into turns wherever the speaker changes.

    Cuts fall only between words, never inside one. A word without a speaker (None) stays with the
    turn it is in, so a gap in the diarization does not split an utterance.
    """
    if len(words) != len(speakers):
        raise ValueError("one speaker per word")
    turns: list[Turn] = []
    current: list[Word] = []
    who: str | None = None
    for w, s in zip(words, speakers):
        if current and s is not None and who is not None and s != who:
            turns.append(Turn(who, tuple(current)))
            current = []
        current.append(w)
        who = who if s is None else s
    if current:
        turns.append(Turn(who if who is not None else speaker_label(0), tuple(current)))
    return turns
