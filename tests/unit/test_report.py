"""The HTML reports render real charts with the data: a job's (charts and the per-utterance table) and an
ended event's (timeline, alerts, moments, engagement, reactions, audience, comparison), escaped and self-contained."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html import escape as html_escape

import numpy as np

from emopulse.labels import EMOTIONS, SENTIMENTS
from emopulse.report import EMOTION_COLOURS, SENTIMENT_COLOURS, SEVERITY_COLOURS, render, render_event
from emopulse.v1 import api_pb2
from emopulse.v1 import results_pb2 as pb
from emopulse.processing.fusion import summarise


def result(i: int, emotion: int, sentiment: int, text: str, speaker: str = "") -> pb.UtteranceResult:
    return pb.UtteranceResult(
        index=i, start_s=2.0 * i, end_s=2.0 * i + 1.5, text=text, speaker=speaker or f"S{i % 2 + 1}",
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
    assert page.count("<tr><td>") == 3 + 2  # three utterances, two speakers
    assert "Great &lt;news&gt;!" in page and "joy 0.83" in page and "vision: no face found" in page


def test_report_without_utterances_says_so():
    page = render(pb.Job(id="j2", state=pb.SUCCEEDED), [], summarise([], 3.0, "", "no speech detected"))
    assert "<svg" not in page and "no speech detected" in page and "0 utterances" in page


# --- the post-event report ----------------------------------------------------------------------

SCRIPT_QUOTE = "They said <script>alert('x')</script> & left"
SECTIONS = ("Sentiment over time", "Emotion stack", "Speakers", "Alerts", "Top moments", "Engagement and reactions",
            "Audience", "Utterances")
GAP_S = (150.0, 155.0)  # windows where nobody spoke: no emotion, a gap in the stack


def event_history(event_id="ev1", name="Launch <live> & Q&A", swing=1.0, created_at=1_750_000_000.0):
    """A realistic 5-minute live event: a pulse every 5 s whose sentiment turns negative halfway
    (a silent stretch around 150 s), two alerts, peak moments with quotes, audience beside it."""
    rng = np.random.default_rng(len(event_id))
    timeline = []
    for k in range(1, 61):
        t = 5.0 * k
        sentiment = float(np.clip(swing * (0.55 if t <= 150 else -0.6) + rng.normal(0, 0.1), -1, 1))
        silent = t in GAP_S
        top = EMOTIONS.index("joy" if sentiment > 0 else "anger")
        emotion = [] if silent else list(np.eye(7)[top] * 0.5 + rng.dirichlet(np.ones(7)) * 0.5)
        audience = int(rng.integers(0, 3)) if k % 2 else 0
        timeline.append(pb.Pulse(media_s=t, utterances=k, windows=[pb.PulseWindow(
            length_s=30, utterances=0 if silent else 3, sentiment=0 if silent else sentiment,
            negative_share=0 if silent or sentiment > 0 else 0.8, emotion=emotion,
            speaking_ratio=0 if silent else float(rng.uniform(0.5, 0.9)), faces=1,
            face_expression=emotion, audience_messages=audience, audience_per_minute=audience * 2.0,
            audience_sentiment=float(np.clip(sentiment * 0.7 + rng.normal(0, 0.1), -1, 1)) if audience else 0.0,
            reactions=int(k % 6 == 0))], final=k == 60))
    alerts = [pb.Alert(id=f"{event_id}.spike.1", media_s=175.0, message="negative share 80% over 60 s",
                       rule=pb.AlertRule(name="negative <spike>", kind=pb.NEGATIVE_SPIKE, severity=pb.WARNING),
                       quotes=[SCRIPT_QUOTE, "This is terrible."]),
              pb.Alert(id=f"{event_id}.shift.1", media_s=190.0, message="sentiment shifted down by 4.2 sd",
                       rule=pb.AlertRule(name="mood shift", kind=pb.SENTIMENT_SHIFT, severity=pb.CRITICAL))]
    event = api_pb2.EventRecord(
        id=event_id, name=name, live=True, state=pb.SUCCEEDED, created_at=created_at, ended_at=created_at + 320,
        duration_s=300, utterances=60, mean_sentiment=-0.03 * swing, negative_share=0.48,
        emotion_distribution={"joy": 0.4, "anger": 0.35, "neutral": 0.25}, speaking_ratio=0.7,
        audience_messages=50, audience_per_minute=10.0, audience_sentiment=-0.1, reactions=10,
        reaction_expression={"joy": 0.3, "anger": 0.3, "neutral": 0.2, "surprise": 0.2}, alerts=2,
        most_positive=api_pb2.Moment(start_s=60, end_s=90, sentiment=0.7 * swing, negative_share=0.0,
                                     quotes=["What a great launch!", "Best <b>day</b> ever"]),
        most_negative=api_pb2.Moment(start_s=200, end_s=230, sentiment=-0.75 * swing, negative_share=0.9,
                                     quotes=[SCRIPT_QUOTE]))
    return api_pb2.EventHistory(event=event, timeline=timeline, alerts=alerts)


def audience_messages(n=50):
    return [pb.AudienceMessage(stream_id="ev1", message_id=f"m{i}", author=f"viewer<{i}>", time_s=6.0 * i,
                               text=f"message {i} & <i>more</i>",
                               sentiment=np.eye(3)[0 if 6.0 * i < 150 else 2] * 0.8 + 0.2 / 3 if i % 10 else [],
                               classifier="MiniLM" if i % 10 else "text model unavailable") for i in range(n)]


def reactions_list(n=10):
    return [pb.Reaction(index=i, time_s=30.0 * i + 10, expression=np.eye(7)[[3, 0, 6, 4][i % 4]] * 0.7 + 0.3 / 7)
            for i in range(n)]


def event_page(**kw):
    results = [result(0, 3, 0, "Great <news>!"), result(1, 0, 2, "I hate it."), result(2, 5, 2, "So sad.")]
    return render_event(event_history(), results, audience_messages(), reactions_list(), **kw)


def headings(page):
    return re.findall(r"<h2>(.*?)</h2>", page)


def test_the_speaker_section_says_who_spoke_how_much_and_how_they_felt():
    page = event_page()
    table = re.search(r"<table class=speakers>(.*?)</table>", page, re.S).group(1)
    rows = re.findall(r"<tr><td>(S\d)</td><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", table)
    assert [r[:3] for r in rows] == [("S1", "2", "3.0 s (67%)"), ("S2", "1", "1.5 s (33%)")]
    assert rows[1][3:] == ("-0.70", "anger 100%")  # "I hate it.": positive 0.1 - negative 0.8
    assert "<td>S2</td><td>I hate it.</td>" in page  # the speaker on every utterance row
    assert "no speakers were told apart" in render_event(event_history(), [], [], [])


def test_event_report_has_every_section_with_its_charts():
    page = event_page()
    assert headings(page) == list(SECTIONS)
    svgs = re.findall(r"<svg.*?</svg>", page, re.S)
    assert len(svgs) == 4  # sentiment, emotion stack, engagement, reactions
    for svg in svgs:
        ET.fromstring(svg)
    sentiment, stack, engagement, reaction = svgs
    # both sentiment signs shaded, both alerts marked in their severity's colour
    assert SENTIMENT_COLOURS["positive"] in sentiment and SENTIMENT_COLOURS["negative"] in sentiment
    assert SEVERITY_COLOURS["WARNING"] in sentiment and SEVERITY_COLOURS["CRITICAL"] in sentiment
    assert "speakers" in sentiment and "audience" in sentiment and "mood shift" in sentiment
    # one band per emotion, each split in two by the silent windows
    bands = re.findall(r'<g id="(?:FillBetween)?PolyCollection_\d+">(.*?)</g>', stack, re.S)
    assert len(bands) == len(EMOTIONS) and all(band.count("<path") == 2 for band in bands)
    assert all(EMOTION_COLOURS[e] in stack for e in EMOTIONS)
    assert "speaking ratio" in engagement and "mean reaction expression" in reaction
    # header and headline figures
    assert "Launch &lt;live&gt; &amp; Q&amp;A" in page and "Event ev1 · live · SUCCEEDED · 5:00" in page
    for figure in ("-0.03", "48%", "70%", "<b>50</b>", "10.0/min", "-0.10", "mean sentiment", "alerts"):
        assert figure in page
    # alerts table, moments, audience (50 shown, unscored ones said), utterance table
    assert "negative &lt;spike&gt;" in page and "NEGATIVE_SPIKE" in page and "CRITICAL" in page
    assert "Most positive: 1:00–1:30" in page and "Most negative: 3:20–3:50" in page and "+0.70" in page
    assert "Best &lt;b&gt;day&lt;/b&gt; ever" in page
    assert page.count("viewer&lt;") == 50 and "message 1 &amp; &lt;i&gt;more&lt;/i&gt;" in page
    assert "unscored text model unavailable" in page and "more messages not shown" not in page
    assert "Great &lt;news&gt;!" in page and "joy 0.83" in page


def test_event_report_escapes_quotes_and_is_self_contained():
    page = event_page(compare=[event_history("ev2", name="Other <event>")])
    escaped = html_escape(SCRIPT_QUOTE)
    assert page.count(escaped) >= 2  # the alert's quotes and the worst moment's
    assert "<script" not in page.lower() and "<b>day" not in page and "<i>more" not in page
    refs = re.findall(r"""\b(?:src|href|xlink:href)\s*=\s*["']?([^"'\s>]*)""", page, re.I)
    assert refs and all(r.startswith("#") for r in refs)  # only the SVGs' own defs
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", page, re.I)
    assert "<link" not in page and "@import" not in page and "url(http" not in page


def test_compare_section_only_with_other_events():
    assert "Compare events" not in event_page()
    others = [event_history("ev2", name="Town hall", swing=0.5, created_at=1_740_000_000.0),
              event_history("ev3", name="Earnings call $5M $", swing=-1.0)]  # `$` is no mathtext
    page = event_page(compare=others)
    assert headings(page) == [*SECTIONS[:-1], "Compare events", "Utterances"]
    compare = page[page.index("<h2>Compare events</h2>"):page.index("<h2>Utterances</h2>")]
    assert "Town hall" in compare and "Earnings call $5M $" in compare and "2025-02-19" in compare
    assert compare.count("<th>event ") == 2 and "most negative moment" in compare and "+0.75" in compare
    chart = re.findall(r"<svg.*?</svg>", compare, re.S)
    assert len(chart) == 1 and "Town hall" in chart[0] and "(this)" in chart[0]


def test_audience_table_shows_the_first_200_and_counts_the_rest():
    page = render_event(event_history(), [], audience_messages(260), [])
    assert page.count("viewer&lt;") == 200 and "viewer&lt;199&gt;" in page and "viewer&lt;200&gt;" not in page
    assert "… and 60 more messages not shown" in page
    assert "No reactions" in page  # said in words; the mean expression still charted


def test_empty_event_history_renders_with_none_notes():
    page = render_event(api_pb2.EventHistory(), [], [], [])
    assert page.startswith("<!doctype html>") and page.endswith("</html>")
    assert headings(page) == list(SECTIONS) and "<svg" not in page
    assert page.count("none:") == 7 and "No reactions" in page and "unnamed event" in page
    # a timeline without any speech: charts, but no emotion stack
    silent = api_pb2.EventHistory(event=api_pb2.EventRecord(id="s", duration_s=20),
                                  timeline=[pb.Pulse(media_s=t, windows=[pb.PulseWindow(length_s=10)]) for t in (5, 10, 15, 20)])
    page = render_event(silent, [], [], [], compare=[api_pb2.EventHistory()])
    assert "none: no window had speech" in page and len(re.findall(r"<svg", page)) == 3  # sentiment, engagement, compare
