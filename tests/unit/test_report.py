"""The HTML report renders real charts with the job's data and the per-utterance table."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np

from emopulse.labels import EMOTIONS, SENTIMENTS
from emopulse.report import render
from emopulse.v1 import results_pb2 as pb
from emopulse.processing.fusion import summarise


def result(i: int, emotion: int, sentiment: int, text: str) -> pb.UtteranceResult:
    return pb.UtteranceResult(
        index=i, start_s=2.0 * i, end_s=2.0 * i + 1.5, text=text,
        emotion=np.eye(7)[emotion] * 0.8 + 0.2 / 7, sentiment=np.eye(3)[sentiment] * 0.7 + 0.1,
        modalities=[pb.ModalityResult(modality=pb.TEXT, present=True), pb.ModalityResult(modality=pb.AUDIO, present=True),
                    pb.ModalityResult(modality=pb.VISION, present=False, absent_reason="no face found")])


def test_report_has_three_charts_with_the_data_and_the_table():
    results = [result(0, 3, 0, "Great <news>!"), result(1, 0, 2, "I hate it."), result(2, 5, 2, "So sad.")]
    page = render(pb.Job(id="j1", filename="talk.mp4", state=pb.SUCCEEDED), results, summarise(results, 6.0, "en", ""))
    svgs = re.findall(r"<svg.*?</svg>", page, re.S)
    assert len(svgs) == 3
    for svg in svgs:
        ET.fromstring(svg)  # well-formed SVG
    emotion_chart, sentiment_chart, distribution = svgs
    # one filled band per (utterance, label) in the stacked timelines
    assert len(re.findall(r'<g id="FillBetweenPolyCollection_|<g id="PolyCollection_', emotion_chart)) == 3 * len(EMOTIONS)
    assert len(re.findall(r'<g id="FillBetweenPolyCollection_|<g id="PolyCollection_', sentiment_chart)) == 3 * len(SENTIMENTS)
    assert all(label in emotion_chart for label in EMOTIONS)
    assert len(re.findall(r'<g id="patch_', distribution)) >= len(EMOTIONS) + len(SENTIMENTS)
    assert page.count("<tr><td>") == 3
    assert "Great &lt;news&gt;!" in page and "joy 0.83" in page and "vision: no face found" in page


def test_report_without_utterances_says_so():
    page = render(pb.Job(id="j2", state=pb.SUCCEEDED), [], summarise([], 3.0, "", "no speech detected"))
    assert "<svg" not in page and "no speech detected" in page and "0 utterances" in page
