"""A small dataset in the real MELD video layout whose labels are recoverable from the signal.

Three classes, each carried by all three modalities: joy (happy words, fast speech, the smiling
astronaut on screen), sadness (sad words, slow speech, plain grey frames), neutral (plain words,
normal speed, grey frames). ``{train,dev,test}_sent_emo.csv`` + ``dia{D}_utt{U}.mp4`` in
``train_splits/``, ``dev_splits_complete/``, ``output_repeated_splits_test/``; one listed clip is
missing and one is corrupt (both in train).
"""

from __future__ import annotations

import csv
from pathlib import Path

from tests import media

SENTENCES = {
    ("joy", "positive", 190, True): [
        "I am so happy, this is wonderful news!", "We won the game, I love it!",
        "This is the best day of my life!", "Thank you so much, I am thrilled!",
        "Great, we are going on holiday together!", "Yes! I got the job!",
    ],
    ("sadness", "negative", 105, False): [
        "I miss her so much, everything feels empty.", "He left me and I feel so alone.",
        "I am so sad, my dog died yesterday.", "Nothing ever works out for me.",
        "I cried all night, I feel terrible.", "I lost everything and I am heartbroken.",
    ],
    ("neutral", "neutral", 150, False): [
        "The meeting is on Tuesday at ten.", "Please pass me the salt.",
        "The train leaves from platform four.", "I will call you after lunch.",
        "The report is on your desk.", "We need two more chairs in this room.",
    ],
}
SIZES = {"train": 7, "dev": 3, "test": 5}           # per class
FOLDERS = {"train": "train_splits", "dev": "dev_splits_complete", "test": "output_repeated_splits_test"}
FILES = {"train": "train_sent_emo.csv", "dev": "dev_sent_emo.csv", "test": "test_sent_emo.csv"}
HEADER = ["Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID",
          "Season", "Episode", "StartTime", "EndTime"]
MISSING_ID = "train/dia0_utt1"
CORRUPT_ID = "train/dia0_utt2"


def make_dataset(root: str | Path) -> dict:
    """Write the dataset under ``root``; returns {"root", "counts": {split: rows}, "labels": {id: emotion}}."""
    root = Path(root)
    labels, counts, sr = {}, {}, 1
    for split, per_class in SIZES.items():
        folder = root / FOLDERS[split]
        folder.mkdir(parents=True, exist_ok=True)
        rows = []
        k = 0
        for i in range(per_class):
            for (emotion, sentiment, speed, face), sents in SENTENCES.items():
                offset = {"train": 0, "dev": 3, "test": 1}[split]
                text = sents[(i + offset) % len(sents)]
                dia, utt = k // 3, k % 3
                k += 1
                audio, _ = media.speech_track([text], lead_s=0.3, speed=speed)
                image = media.face_frame() if face else media.grey_frame()
                clip = folder / f"dia{dia}_utt{utt}.mp4"
                ex_id = f"{split}/dia{dia}_utt{utt}"
                if ex_id == MISSING_ID:
                    pass                                   # listed in the CSV, no file
                elif ex_id == CORRUPT_ID:
                    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
                else:
                    media.write_mp4(clip, audio, image, len(audio) / media.SAMPLE_RATE)
                rows.append([sr, text, "Speaker", emotion, sentiment, dia, utt, 1, 1, "00:00:00,000", "00:00:02,000"])
                labels[ex_id] = emotion
                sr += 1
        with open(root / FILES[split], "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(HEADER)
            w.writerows(rows)
        counts[split] = len(rows)
    return {"root": root, "counts": counts, "labels": labels}
