"""Whisper's segments of one chunk -> utterances (pure): where one utterance ends and the next begins."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from emopulse.processing import media


@dataclass
class Cut:
    start_s: float
    end_s: float
    words: list[tuple[str, float, float, float]] = field(default_factory=list)  # text, start, end, probability
    text: str = ""


def _region_of(t: float, regions: list[tuple[float, float]]) -> int:
    """Index of the speech region holding time t, else the nearest one."""
    distances = [0.0 if s <= t <= e else min(abs(t - s), abs(t - e)) for s, e in regions]
    return int(np.argmin(distances)) if distances else 0


def cut_utterances(segments: list[dict], offset_s: float, regions: list[tuple[float, float]],
                   max_len_s: float) -> list[Cut]:
    """Whisper segments of one chunk -> utterances: split at segment ends, at pauses the voice
    activity detector found, and at word boundaries where longer than max_len_s."""
    cuts = []
    for seg in segments:
        words = [(w["word"], offset_s + w["start"], offset_s + w["end"], w.get("probability", 0.0))
                 for w in seg.get("words") or []]
        if not words:
            text = seg["text"].strip()
            if text:
                cuts.append(Cut(offset_s + seg["start"], offset_s + seg["end"], [], text))
            continue
        groups: list[list] = []
        for word in words:
            region = _region_of((word[1] + word[2]) / 2, regions)
            if groups and groups[-1][0] == region:
                groups[-1][1].append(word)
            else:
                groups.append([region, [word]])
        for _, group in groups:
            taken = 0
            for piece_times in media.split_segment_words([w[:3] for w in group], max_len_s):
                piece, taken = group[taken: taken + len(piece_times)], taken + len(piece_times)
                text = "".join(w[0] for w in piece).strip()
                if text:
                    cuts.append(Cut(piece[0][1], piece[-1][2], piece, text))
    return cuts


def whole_cut(segments: list[dict], start_s: float, end_s: float) -> Cut | None:
    """Whisper's segments of one live utterance -> that utterance whole (the endpointer already chose
    where it ends), or None when no words were recognised in it."""
    words = [(w["word"], start_s + w["start"], start_s + w["end"], w.get("probability", 0.0))
             for seg in segments for w in seg.get("words") or []]
    text = "".join(w[0] for w in words).strip() if words else " ".join(seg["text"].strip() for seg in segments).strip()
    if not text:
        return None
    return Cut(words[0][1] if words else start_s, words[-1][2] if words else end_s, words, text)
