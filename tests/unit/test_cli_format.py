"""What the CLI prints for a summary (the words a user reads)."""
from emopulse.cli import format_summary
from emopulse.v1 import results_pb2 as pb


def test_a_summary_without_speech_names_its_reactions():
    s = pb.Summary(duration_s=8, note="no speech detected; 4 reactions read", reaction_count=4)
    s.reaction_expression.update({"sadness": 0.9, "neutral": 0.1})
    assert format_summary(s).splitlines() == ["0 utterances in 8.0s (no speech detected; 4 reactions read)",
                                              "reactions:  4, faces showing sadness 90%, neutral 10%"]


def test_a_summary_with_speech_and_no_reactions_has_no_reaction_line():
    s = pb.Summary(utterance_count=2, duration_s=5)
    s.emotion_distribution.update({"joy": 1.0})
    s.sentiment_distribution.update({"positive": 1.0})
    assert format_summary(s).splitlines() == ["2 utterances in 5.0s", "emotions:   joy 100%", "sentiment:  positive 100%"]


def test_every_line_names_its_speaker_and_the_summary_has_a_line_per_speaker():
    from emopulse.cli import format_result
    r = pb.UtteranceResult(start_s=1, end_s=2.5, text="Hello there.", speaker="S2", emotion=[0, 0, 0, 1, 0, 0, 0],
                           sentiment=[1, 0, 0], modalities=[pb.ModalityResult(modality=pb.TEXT, present=True)])
    assert format_result(r).startswith("[   1.00s –    2.50s] S2  joy      1.00  positive 1.00  (text)")
    assert " -   joy" in format_result(pb.UtteranceResult(emotion=r.emotion, sentiment=r.sentiment))
    s = pb.Summary(utterance_count=3, duration_s=9)
    s.speakers.add(speaker="S1", utterance_count=2, talk_time_s=4.0, talk_share=0.8, sentiment=0.5,
                   emotion_distribution={"joy": 0.5, "neutral": 0.5})
    s.speakers.add(speaker="S2", utterance_count=1, talk_time_s=1.0, talk_share=0.2, sentiment=-1.0,
                   emotion_distribution={"anger": 1.0})
    assert format_summary(s).splitlines()[1:] == [
        "emotions:   ", "sentiment:  ",
        "S1    2 utterances,    4.0s talk (80%), sentiment +0.50, mostly joy",
        "S2    1 utterances,    1.0s talk (20%), sentiment -1.00, mostly anger"]
