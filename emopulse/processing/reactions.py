"""Reactions: the moments nobody speaks in, whose faces are read (pure: times in, times out).

Both files and live streams use one grid of media times, k * every_s (k = 0, 1, ...): a grid point is
a reaction moment when no speech lies within SPEECH_MARGIN_S of it. A file knows all its speech at
once (`reaction_times`); a live stream decides each grid point once the audio after it has been heard
(`LiveReactions`). Reactions are numbered 0, 1, 2 ... in media order.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

SPEECH_MARGIN_S = 0.5  # a face read this close to speech belongs to the utterance, not to a reaction


def merge_spans(spans) -> list[tuple[float, float]]:
    """(start, end) spans in any order -> sorted, overlaps merged, empty ones dropped."""
    merged: list[list[float]] = []
    for s, e in sorted((float(a), float(b)) for a, b in spans):
        if e <= s:
            continue
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def reaction_times(speech, duration_s: float, every_s: float, margin_s: float = SPEECH_MARGIN_S) -> list[float]:
    """The grid times k * every_s in [0, duration_s) farther than margin_s from every speech span,
    ascending (their positions are the reactions' indices). every_s <= 0 gives none."""
    if not every_s > 0 or not duration_s > 0:
        return []
    spans, out, j = merge_spans(speech), [], 0
    for k in range(math.ceil(duration_s / every_s)):
        t = k * every_s
        if t >= duration_s:
            break
        while j < len(spans) and spans[j][1] + margin_s < t:
            j += 1  # spans ended well before t can no longer be near a later grid point
        if j < len(spans) and spans[j][0] - margin_s <= t:
            continue
        out.append(t)
    return out


@dataclass
class LiveReactions:
    """The same grid while audio arrives: a grid point is decided once audio margin_s past it has
    been heard, so speech starting just after it is known."""
    every_s: float
    margin_s: float = SPEECH_MARGIN_S
    next_k: int = 0  # the next grid point to decide

    def start_at(self, t: float) -> None:
        """Decide nothing before media time t (where a stream starts or a holder takes over)."""
        if self.every_s > 0:
            self.next_k = max(self.next_k, math.ceil(t / self.every_s - 1e-9))

    def due(self, heard_to_s: float, speech_from_s: float | None, speech_to_s: float) -> list[float]:
        """Grid points decided now that lie in silence. speech_from_s: start of the speech in progress
        (None when none); speech_to_s: end of the last speech that ended."""
        out: list[float] = []
        if not self.every_s > 0:
            return out
        while (t := self.next_k * self.every_s) + self.margin_s <= heard_to_s:
            self.next_k += 1
            speaking = speech_from_s is not None and speech_from_s - self.margin_s <= t
            if not speaking and speech_to_s + self.margin_s < t:
                out.append(t)
        return out


def picture_at(pictures: list[tuple[float, str]], t: float, max_age_s: float) -> tuple[float, str] | None:
    """The latest recorded picture (time, uri) at or before t and at most max_age_s older; pictures in
    time order. None when there is none (no video, or the picture stopped)."""
    i = bisect.bisect_right([p for p, _ in pictures], t)
    if i == 0 or t - pictures[i - 1][0] > max_age_s:
        return None
    return pictures[i - 1]
