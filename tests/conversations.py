"""Generated conversations with known speaker turns, for diarization tests and bench/diarization.py.

Two to four espeak-ng voices (distinct variants, pitch and speed) take turns with short
back-and-forth replies; a few replies start 0.3 s before the previous turn ends (overlap). Speech is
made through libespeak-ng's own API (ctypes) rather than the CLI because its WORD events give
every word's start sample: the reference then has word times as well as turn times.

    from tests.conversations import conversation_set
    convs = conversation_set(tmp_dir, "test")   # 3 conversations each of 2, 3 and 4 speakers

``"dev"`` and ``"test"`` use different sentences and seeds: tune on dev, report on test.
"""

from __future__ import annotations

import ctypes
import functools
import re
import threading
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emopulse.processing.diarization import Word

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class Voice:
    name: str  # espeak-ng voice+variant
    pitch: int  # espeak -p, 0..99
    speed: int  # espeak -s, words per minute

    @property
    def label(self) -> str:
        return f"{self.name}/p{self.pitch}/s{self.speed}"


#: Distinct voices (espeak variant, pitch, speed); a conversation takes ``n`` of them. Picked so that
#: GE2E can tell them apart at all: across sentences one voice's utterance embeddings agree at cosine
#: 0.84-0.93, two of these voices at 0.45-0.61.
VOICES = (
    Voice("en-us+m8", 40, 150),
    Voice("en-029+f2", 75, 170),
    Voice("en-029+klatt3", 50, 140),
    Voice("en-gb-x-rp+Alicia", 65, 160),
    Voice("en-gb-scotland+Lee", 45, 175),
    Voice("en+iven", 30, 155),
)
#: espeak's stock variants of one base voice: to GE2E m3/m7 and f3/f4 are nearly one voice (cosine
#: 0.73 and 0.81 between them against 0.86-0.92 within), the hard case (``bench.diarization --hard``).
#: libespeak's by-name lookup has no "en-gb": "en" is the British voice.
HARD_VOICES = (
    Voice("en-us+m3", 35, 150),
    Voice("en+f3", 70, 175),
    Voice("en+m7", 45, 135),
    Voice("en+f4", 60, 160),
)


@dataclass(frozen=True)
class Turn:
    """One reference turn: who spoke, when, and each word's time (seconds in the conversation)."""

    start: float
    end: float
    speaker: str
    text: str
    words: tuple[Word, ...]


@dataclass(frozen=True, eq=False)
class Conversation:
    path: Path  # 16 kHz mono PCM16 WAV
    audio: np.ndarray  # the same, float32
    speakers: tuple[str, ...]  # Voice.label of each speaker, in order of first turn
    turns: tuple[Turn, ...]

    @property
    def duration_s(self) -> float:
        return len(self.audio) / SAMPLE_RATE

    @property
    def words(self) -> list[tuple[Word, str]]:
        """Every word with its speaker, in time order."""
        return sorted(((w, t.speaker) for t in self.turns for w in t.words), key=lambda p: p[0].start)


# ---------------------------------------------------------------- scripts

_REPLIES = {
    "dev": ["Yes.", "Really?", "No way.", "Sure.", "Okay, fine.", "I guess so.", "Why not?", "Exactly.",
            "Hmm, maybe.", "Not really.", "Of course.", "Right."],
    "test": ["Yeah.", "Seriously?", "No.", "Absolutely.", "Fair enough.", "I think so.", "How come?",
             "True.", "Well, perhaps.", "Not at all.", "Great.", "Wait, what?"],
}
SENTENCES = {
    "dev": [
        "I was thinking we could meet on Thursday afternoon instead.",
        "The train was late again, so I missed the first part of the talk.",
        "Did you manage to finish the slides for the client meeting?",
        "My brother is moving to another city next month.",
        "We should order the parts before the price goes up.",
        "Honestly, I preferred the old version of the website.",
        "Can you send me the numbers from last quarter?",
        "The garden looks wonderful after all that rain.",
        "I have no idea where I left my umbrella this morning.",
        "Let us try the new restaurant near the station.",
        "The printer on the second floor is broken again.",
        "She said the concert was the best she had ever seen.",
        "I will call the landlord about the heating tomorrow.",
        "We could take the bikes if the weather stays dry.",
        "That film was much longer than I expected.",
        "Please remind me to buy milk on the way home.",
    ],
    "test": [
        "I think the budget for the project is far too small.",
        "The kids want to go to the beach this weekend.",
        "Have you seen the new schedule for the spring term?",
        "We ran out of coffee in the kitchen yesterday.",
        "My phone keeps restarting every time I open the camera.",
        "The museum is free on the first Sunday of the month.",
        "I would rather walk than wait for another bus.",
        "Could you check whether the report went out this morning?",
        "The neighbours are painting their house bright yellow.",
        "Our flight leaves at six, so we should get up early.",
        "I finally fixed the leak under the bathroom sink.",
        "He told me the meeting was moved to next Tuesday.",
        "The soup needs a little more salt, I think.",
        "We should plan the party before everyone goes on holiday.",
        "The library closes early during the summer months.",
        "I forgot to water the plants while you were away.",
    ],
}
_SEEDS = {"dev": 1000, "test": 2000}


def script(n_speakers: int, seed: int, split: str = "test", n_turns: int = 14,
           reply_share: float = 0.45) -> list[tuple[int, str]]:
    """(speaker index, text) per turn: everyone speaks early, nobody twice in a row, many short replies."""
    rng = np.random.default_rng(seed)
    order = list(rng.permutation(n_speakers))
    speakers = order[:]
    while len(speakers) < n_turns:
        speakers.append(int(rng.choice([s for s in range(n_speakers) if s != speakers[-1]])))
    sentences = list(rng.permutation(SENTENCES[split]))
    turns = []
    for i, s in enumerate(speakers):
        if i and rng.random() < reply_share:
            text = str(rng.choice(_REPLIES[split]))
        else:
            text = str(sentences.pop() if sentences else rng.choice(SENTENCES[split]))
        turns.append((int(s), text))
    return turns


# ---------------------------------------------------------------- speech with word times


class _EspeakEvent(ctypes.Structure):
    class _Id(ctypes.Union):
        _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]

    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _Id)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_EspeakEvent))
_EVENT_WORD, _EVENT_END_LIST = 1, 0
_RATE, _PITCH = 1, 3  # espeak_PARAMETER
_LOCK = threading.Lock()


class _Espeak:
    """libespeak-ng in synchronous mode: audio and events come back through one callback."""

    def __init__(self):
        self.lib = ctypes.CDLL("libespeak-ng.so.1")
        self.lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                          ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        self.rate = self.lib.espeak_Initialize(2, 0, None, 0)  # AUDIO_OUTPUT_SYNCHRONOUS
        if self.rate <= 0:
            raise RuntimeError("libespeak-ng did not initialise (is espeak-ng installed?)")
        self.chunks: list[np.ndarray] = []
        self.events: list[tuple[int, int, int]] = []
        self._cb = _CALLBACK(self._on_audio)  # kept referenced: the library calls it later
        self.lib.espeak_SetSynthCallback(self._cb)

    def _on_audio(self, wav, n, events):
        if n > 0:
            self.chunks.append(np.ctypeslib.as_array(wav, (n,)).copy())
        i = 0
        while events[i].type != _EVENT_END_LIST:
            e = events[i]
            if e.type == _EVENT_WORD and e.length > 0:
                self.events.append((e.text_position - 1, e.length, e.sample))
            i += 1
        return 0

    def synth(self, text: str, voice: Voice) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
        if self.lib.espeak_SetVoiceByName(voice.name.encode()) != 0:
            raise ValueError(f"espeak-ng has no voice {voice.name!r}")
        self.lib.espeak_SetParameter(_RATE, voice.speed, 0)
        self.lib.espeak_SetParameter(_PITCH, voice.pitch, 0)
        self.chunks, self.events = [], []
        data = text.encode()
        buf = ctypes.create_string_buffer(data)
        self.lib.espeak_Synth(buf, len(data) + 1, 0, 1, 0, 0, None, None)  # POS_CHARACTER, CHARS_AUTO
        self.lib.espeak_Synchronize()
        audio = np.concatenate(self.chunks).astype(np.float32) / 32768.0 if self.chunks else np.zeros(0, np.float32)
        return audio, self.events


@functools.lru_cache(maxsize=1)
def _espeak() -> _Espeak:
    return _Espeak()


@functools.lru_cache(maxsize=512)
def speak_words(text: str, voice: Voice) -> tuple[np.ndarray, tuple[Word, ...]]:
    """16 kHz speech of ``text`` (leading/trailing near-silence trimmed) and each word's (start, end) in it.

    A word starts at espeak's WORD event and ends where its sound ends before the next word starts.
    """
    from scipy.signal import resample_poly

    with _LOCK:
        engine = _espeak()
        raw, events = engine.synth(text, voice)
        rate = engine.rate
    g = np.gcd(rate, SAMPLE_RATE)
    x = np.clip(resample_poly(raw, SAMPLE_RATE // g, rate // g), -1, 1).astype(np.float32)
    loud = np.abs(x) > 0.01
    idx = np.flatnonzero(loud)
    if not idx.size:
        return x[:0], ()
    first, last = int(idx[0]), int(idx[-1]) + 1
    tokens = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", text)]
    starts = []
    for a, b, _ in tokens:  # the first event inside each whitespace token is its start
        hit = [s for pos, _, s in events if a <= pos < b]
        starts.append(int(round(hit[0] * SAMPLE_RATE / rate)) if hit else None)
    for i, s in enumerate(starts):  # a token espeak gave no event: between its neighbours
        if s is None:
            starts[i] = starts[i - 1] if i else first
    # espeak runs a short function word into the next ("for the"): both get one start sample, so
    # they share the span up to the next distinct start equally.
    i = 0
    while i < len(starts):
        j = i
        while j + 1 < len(starts) and starts[j + 1] <= starts[i]:
            j += 1
        if j > i:
            end = starts[j + 1] if j + 1 < len(starts) else last
            step = max(0, end - starts[i]) // (j - i + 1)
            for k in range(i, j + 1):
                starts[k] = starts[i] + (k - i) * step
        i = j + 1
    words = []
    for i, (s, (_, _, tok)) in enumerate(zip(starts, tokens)):
        nxt = starts[i + 1] if i + 1 < len(starts) else last
        seg = np.flatnonzero(loud[max(s, first):max(nxt, s + 1)])
        s0 = max(s, first) + (int(seg[0]) if seg.size else 0)
        e0 = max(s, first) + (int(seg[-1]) + 1 if seg.size else 1)
        words.append(Word((s0 - first) / SAMPLE_RATE, (min(e0, last) - first) / SAMPLE_RATE,
                          re.sub(r"[^\w']", "", tok.lower())))
    out = x[first:last]
    out.setflags(write=False)
    return out, tuple(words)


# ---------------------------------------------------------------- conversations


def write_wav(path: str | Path, audio: np.ndarray, rate: int = SAMPLE_RATE) -> Path:
    path = Path(path)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def make_conversation(path: str | Path, n_speakers: int, seed: int, split: str = "test", n_turns: int = 14,
                      overlap_share: float = 0.2, overlap_s: float = 0.3, gap_s: tuple[float, float] = (0.2, 0.7),
                      lead_s: float = 0.5, voices: tuple[Voice, ...] = VOICES) -> Conversation:
    """Write a WAV of a scripted conversation and return it with its reference turns.

    Gaps between turns are drawn from ``gap_s``; with probability ``overlap_share`` a reply starts
    ``overlap_s`` before the previous turn ends instead (never on a turn shorter than twice that).
    """
    if not 1 <= n_speakers <= len(voices):
        raise ValueError(f"n_speakers must be 1..{len(voices)}")
    rng = np.random.default_rng(seed + 7919)
    voices = tuple(voices[i] for i in rng.permutation(len(voices))[:n_speakers])
    placed, t, prev_len = [], lead_s, None
    for i, (s, text) in enumerate(script(n_speakers, seed, split, n_turns)):
        audio, words = speak_words(text, voices[s])
        if i:
            dur = len(audio) / SAMPLE_RATE
            if rng.random() < overlap_share and prev_len > 2 * overlap_s and dur > 2 * overlap_s:
                t -= overlap_s
            else:
                t += float(rng.uniform(*gap_s))
        placed.append((t, voices[s].label, text, audio, words))
        prev_len = len(audio) / SAMPLE_RATE
        t += prev_len
    total = int(round((t + lead_s) * SAMPLE_RATE))
    mix = np.zeros(total + 1, np.float32)
    turns = []
    for start, label, text, audio, words in placed:
        a = int(round(start * SAMPLE_RATE))
        mix[a:a + len(audio)] += audio
        t0 = a / SAMPLE_RATE
        turns.append(Turn(t0, t0 + len(audio) / SAMPLE_RATE, label, text,
                          tuple(Word(t0 + w.start, t0 + w.end, w.text) for w in words)))
    mix = np.clip(mix, -1, 1)
    path = write_wav(path, mix)
    speakers = tuple(dict.fromkeys(t.speaker for t in turns))
    return Conversation(path, mix, speakers, tuple(turns))


def conversation_set(out_dir: str | Path, split: str = "test", per_count: int = 3,
                     counts: tuple[int, ...] = (2, 3, 4), n_turns: int = 14,
                     voices: tuple[Voice, ...] = VOICES) -> list[Conversation]:
    """``per_count`` conversations for each speaker count, written under ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    convs = []
    for n in counts:
        for k in range(per_count):
            seed = _SEEDS[split] + 100 * n + k
            convs.append(make_conversation(out_dir / f"{split}-{n}spk-{k}.wav", n, seed, split, n_turns,
                                           voices=voices))
    return convs
