"""An event summarised for the history: pure, from the job's own events."""
import pytest

from emopulse.processing import history
from emopulse.v1 import results_pb2 as pb

POS, NEG = [0.8, 0.15, 0.05], [0.05, 0.15, 0.8]
JOY, SAD = [0, 0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 0, 1, 0]


def utterance(i, start, end, sentiment, emotion, text):
    return pb.JobEvent(job_id="s", result=pb.UtteranceResult(job_id="s", index=i, start_s=start, end_s=end,
                                                              sentiment=sentiment, emotion=emotion, text=text))


def stream_events():
    """Two minutes: a happy first half, a sad second half, some chat, a silent reaction, two alerts."""
    events = [utterance(i, 5 * i, 5 * i + 4, POS, JOY, f"good news {i}") for i in range(12)]
    events += [utterance(12 + i, 60 + 5 * i, 64 + 5 * i, NEG, SAD, f"bad news {i}") for i in range(12)]
    events += [pb.JobEvent(job_id="s", audience=pb.AudienceMessage(message_id=f"m{i}", text="hi", time_s=2 * i + 1,
                                                                   sentiment=POS)) for i in range(30)]
    events.append(pb.JobEvent(job_id="s", reaction=pb.Reaction(index=0, time_s=4.5, expression=JOY,
                                                               faces=[pb.Face(time_s=4.5, expression=JOY)])))
    for n, t in enumerate((70.0, 75.0)):
        events.append(pb.JobEvent(job_id="s", alert=pb.Alert(id=f"s.rule.{n}", media_s=t)))
    events.append(pb.JobEvent(job_id="s", summary=pb.Summary(utterance_count=24, duration_s=120)))
    return events


def test_a_stream_is_summarised_with_its_peaks_and_quotes():
    job = pb.Job(id="s", state=pb.SUCCEEDED, created_at=1000, updated_at=1200,
                 stream=pb.Stream(id="s", name="launch", media_seconds=120))
    events = stream_events()
    out = history.record(job, events + events[:5] + events[-3:], window_s=60, every_s=5)  # repeats count once
    e = out.event
    assert (e.id, e.name, e.live, e.state, e.duration_s) == ("s", "launch", True, pb.SUCCEEDED, 120)
    assert e.utterances == 24 and e.alerts == 2 and len(out.alerts) == 2 and e.reactions == 1
    assert e.mean_sentiment == pytest.approx(0.0, abs=1e-6) and e.negative_share == pytest.approx(0.5)
    assert e.speaking_ratio == pytest.approx(0.8) and e.emotion_distribution["joy"] == pytest.approx(0.5)
    assert e.audience_messages == 30 and e.audience_per_minute == pytest.approx(15) and e.audience_sentiment > 0.7
    assert e.reaction_expression["joy"] == pytest.approx(1.0)
    assert len(out.timeline) == 24 and out.timeline[-1].media_s == 120 and len(out.timeline[0].windows) == 1
    assert out.timeline[0].windows[0].length_s == 24  # a 2-minute event is read in windows of a fifth of it
    assert e.most_positive.sentiment > 0.7 and all(q.startswith("good") for q in e.most_positive.quotes)
    assert e.most_negative.sentiment < -0.7 and all(q.startswith("bad") for q in e.most_negative.quotes)
    assert e.most_negative.start_s >= 60 and e.most_positive.end_s <= 60


def test_a_file_without_speech_keeps_its_reactions():
    job = pb.Job(id="f", state=pb.SUCCEEDED, filename="crying.mp4", duration_s=8)
    events = [pb.JobEvent(job_id="f", reaction=pb.Reaction(index=i, time_s=1 + 2 * i, expression=SAD)) for i in range(4)]
    events.append(pb.JobEvent(job_id="f", summary=pb.Summary(duration_s=8, note="no speech detected")))
    out = history.record(job, events, window_s=60, every_s=5)
    e = out.event
    assert (e.name, e.live, e.utterances, e.reactions) == ("crying.mp4", False, 0, 4)
    assert max(e.reaction_expression, key=e.reaction_expression.get) == "sadness"
    assert [p.media_s for p in out.timeline] == [5, 8] and out.timeline[-1].windows[0].reactions == 4
    assert not e.HasField("most_positive")


def test_a_long_event_has_a_bounded_timeline():
    job = pb.Job(id="l", state=pb.SUCCEEDED, duration_s=36_000)
    out = history.record(job, [utterance(0, 0, 10, POS, JOY, "hello")], window_s=60, every_s=5)
    assert len(out.timeline) <= history.MAX_TIMELINE + 1 and out.timeline[-1].media_s == 36_000
