"""Whisper's segments of one chunk -> utterances (pure): where one utterance ends and the next begins,
whose voice it is, and what of a chunk cut through speech is heard again with the next one."""
from __future__ import annotations

from dataclasses import dataclass, field

import re

import numpy as np

from emopulse.processing import diarization, media


@dataclass
class Cut:
    start_s: float
    end_s: float
    words: list[tuple[str, float, float, float]] = field(default_factory=list)  # text, start, end, probability
    text: str = ""
    speaker: str = ""


Words = list[tuple[str, float, float, float]]

# A word ending one of these ends a sentence; "..." is a speaker trailing off, not an end.
_SENTENCE_END = re.compile(r"(?<!\.\.)[.!?]['\")\]]*$")
_ABBREVIATIONS = {"mr.", "mrs.", "ms.", "dr.", "st.", "vs.", "etc.", "e.g.", "i.e.", "no.", "prof.", "jr.", "sr."}
CARRY_GUARD_S = 1.0  # words ending this close to a cut through speech may be clipped: heard again next chunk
MAX_CARRY_S = 8.0    # at most this much speech is heard twice (keeps chunk + carry inside Whisper's 30 s)


def ends_sentence(word: str) -> bool:
    w = word.strip()
    return bool(_SENTENCE_END.search(w)) and w.lower() not in _ABBREVIATIONS


SENTENCE_REACH = 2  # a speaker change this many words from a sentence end moves to it


def settle_changes(texts: list[str], speakers: list[str | None], reach: int = SENTENCE_REACH) -> list[str | None]:
    """Per-word speakers with each change moved to a sentence end at most ``reach`` words away.

    Voice prints see a change a few tenths of a second late or early (0.6 s windows; a reply that
    overlaps the end of a turn), so the first words of a turn are often heard as the previous
    speaker's. People mostly hand over at the end of a sentence, which Whisper punctuates: where one
    is that close, the change goes there. A change with no sentence end near stays where it is.
    """
    out = list(speakers)
    known = [i for i, s in enumerate(out) if s is not None]
    for a, k in zip(known, known[1:]):  # a change between words a and k (None words in between)
        if out[a] == out[k] or speakers[a] != out[a]:
            continue
        ends = [j for j in range(max(1, k - reach), min(len(out) - 1, k + reach) + 1)  # j: between words j-1, j
                if ends_sentence(texts[j - 1]) and j != k]
        ends = [j for j in ends if not any(out[i] not in (None, out[a]) for i in range(min(j, k), k))
                and not any(out[i] not in (None, out[k]) for i in range(k, max(j, k)))]
        if not ends or any(ends_sentence(texts[j - 1]) for j in range(a + 1, k + 1)):
            continue  # no sentence end near, or the change already sits at one
        j = min(ends, key=lambda e: abs(e - k))
        for i in range(min(j, k), max(j, k)):
            out[i] = out[k] if j < k else out[a]
    return out


def _region_of(t: float, regions: list[tuple[float, float]]) -> int:
    """Index of the speech region holding time t, else the nearest one."""
    distances = [0.0 if s <= t <= e else min(abs(t - s), abs(t - e)) for s, e in regions]
    return int(np.argmin(distances)) if distances else 0


def chunk_words(segments: list[dict], offset_s: float) -> Words:
    """Whisper's words of one chunk, in absolute time."""
    return [(w["word"], offset_s + w["start"], offset_s + w["end"], w.get("probability", 0.0))
            for seg in segments for w in seg.get("words") or []]


def cut_utterances(segments: list[dict], offset_s: float, regions: list[tuple[float, float]],
                   max_len_s: float, timeline: list[diarization.Segment] | None = None,
                   until_s: float | None = None) -> list[Cut]:
    """Whisper segments of one chunk -> utterances, each one speaker's turn or less.

    Cuts fall only between words: at pauses the voice activity detector found (a change of speech
    region), where the speaker changes (``timeline``, from diarization), and, where still longer
    than ``max_len_s``, at the best word boundary (preferring sentence ends). Whisper's own segment
    ends are not cuts: they can fall mid-phrase. A speaker's turn of several sentences without a
    pause stays one utterance, as MELD counts utterances. Words starting at or after
    ``until_s`` are left out (the chunk's carry: see ``carry_point``).
    """
    words = [w for w in chunk_words(segments, offset_s) if until_s is None or w[1] < until_s]
    if not words:
        text = " ".join(seg["text"].strip() for seg in segments).strip() if until_s is None else ""
        if not text:
            return []
        start, end = offset_s + segments[0]["start"], offset_s + segments[-1]["end"]
        who = diarization.word_speakers([diarization.Word(start, end, text)], timeline or [])[0]
        return [Cut(start, end, [], text, who or "")]
    speakers = settle_changes([w[0] for w in words], diarization.word_speakers(
        [diarization.Word(w[1], w[2], w[0]) for w in words], timeline or []))
    groups: list[tuple[str | None, Words]] = []
    for i, word in enumerate(words):
        region, who = _region_of((word[1] + word[2]) / 2, regions), speakers[i]
        if groups:
            last_who, last = groups[-1]
            previous = last[-1]
            same_region = _region_of((previous[1] + previous[2]) / 2, regions) == region
            changed = who is not None and last_who is not None and who != last_who
            if same_region and not changed:
                groups[-1] = (last_who if last_who is not None else who, last + [word])
                continue
        groups.append((who, [word]))
    cuts = []
    for who, group in groups:
        taken = 0
        for piece_times in media.split_segment_words([w[:3] for w in group], max_len_s):
            piece, taken = group[taken: taken + len(piece_times)], taken + len(piece_times)
            text = "".join(w[0] for w in piece).strip()
            if text:
                cuts.append(Cut(piece[0][1], piece[-1][2], piece, text, who or ""))
    return cuts


def carry_point(words: Words, chunk_start_s: float, chunk_end_s: float,
                guard_s: float = CARRY_GUARD_S, max_carry_s: float = MAX_CARRY_S) -> float | None:
    """Where a chunk whose end cuts through speech stops being published; the audio from there on is
    transcribed again at the start of the next chunk ("carried"), so a word clipped by the cut is
    heard whole once, and no word is published twice. None: nothing to carry.

    The point lies between two words, in the last ``max_carry_s``: the boundary with the best score
    (the silence between the words, plus a bonus after a sentence end and a smaller one after a
    comma) among those whose earlier word ends at least ``guard_s`` before the cut. With no word
    near the cut, the carry starts at the end of the last word (the cut may have clipped one that
    Whisper then missed).
    """
    lowest = max(chunk_start_s, chunk_end_s - max_carry_s)
    if not words:
        return None
    trusted = [w for w in words if w[2] <= chunk_end_s - guard_s]
    if len(trusted) == len(words):
        return max(words[-1][2], lowest) if words[-1][2] < chunk_end_s - 0.05 else None
    best, best_score = None, -np.inf
    for k in range(1, len(words)):
        before, after = words[k - 1], words[k]
        if before[2] > chunk_end_s - guard_s or after[1] < lowest:
            continue
        score = max(0.0, after[1] - before[2]) + (0.5 if ends_sentence(before[0]) else
                                                 0.2 if before[0].strip().endswith(",") else 0.0)
        if score >= best_score:
            best, best_score = (before[2] + after[1]) / 2, score
    if best is None:  # no boundary in reach: carry from the first doubtful word, as far back as allowed
        first = words[len(trusted)] if len(trusted) < len(words) else words[-1]
        best = max(first[1] - 0.05, lowest)
    return best


def with_carry(previous: media.SpeechChunk | None, carry_from_s: float, chunk: media.SpeechChunk,
               sample_rate: int = media.SAMPLE_RATE) -> media.SpeechChunk:
    """``chunk`` with the previous chunk's audio from ``carry_from_s`` in front of it (its speech
    region joined to the chunk's first one, so the join is not taken for a pause)."""
    if previous is None or not carry_from_s or carry_from_s < previous.start_s or carry_from_s >= previous.end_s:
        return chunk
    tail = previous.samples[int(round((carry_from_s - previous.start_s) * sample_rate)):]
    regions = [(max(a, carry_from_s), b) for a, b in previous.regions if b > carry_from_s] + list(chunk.regions)
    joined: list[tuple[float, float]] = []
    for a, b in regions:
        if joined and a - joined[-1][1] < 0.05:
            joined[-1] = (joined[-1][0], max(b, joined[-1][1]))
        else:
            joined.append((a, b))
    return media.SpeechChunk(carry_from_s, chunk.end_s, np.concatenate([tail, chunk.samples]), joined)


def whole_cut(segments: list[dict], start_s: float, end_s: float) -> Cut | None:
    """Whisper's segments of one live utterance -> that utterance whole (the endpointer already chose
    where it ends), or None when no words were recognised in it."""
    words = [(w["word"], start_s + w["start"], start_s + w["end"], w.get("probability", 0.0))
             for seg in segments for w in seg.get("words") or []]
    text = "".join(w[0] for w in words).strip() if words else " ".join(seg["text"].strip() for seg in segments).strip()
    if not text:
        return None
    return Cut(words[0][1] if words else start_s, words[-1][2] if words else end_s, words, text)


def split_turns(cut: Cut, timeline: list[diarization.Segment]) -> list[Cut]:
    """A live utterance (as the endpointer ended it, at a pause) cut between words wherever the
    speaker changes; each piece carries its speaker. Without a timeline (diarization off) it stays whole."""
    if not timeline:
        return [cut]
    if not cut.words:
        who = diarization.word_speakers([diarization.Word(cut.start_s, cut.end_s, cut.text)], timeline)[0]
        return [Cut(cut.start_s, cut.end_s, [], cut.text, who or "")]
    speakers = settle_changes([w[0] for w in cut.words], diarization.word_speakers(
        [diarization.Word(w[1], w[2], w[0]) for w in cut.words], timeline))
    pieces: list[Cut] = []
    for word, who in zip(cut.words, speakers):
        last = pieces[-1] if pieces else None
        if last is not None and (who is None or who == last.speaker):
            last.words.append(word)
        else:
            pieces.append(Cut(word[1], word[2], [word], "", who or ""))
    for piece in pieces:
        piece.start_s, piece.end_s = piece.words[0][1], piece.words[-1][2]
        piece.text = "".join(w[0] for w in piece.words).strip()
    return [p for p in pieces if p.text]
