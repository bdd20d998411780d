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
