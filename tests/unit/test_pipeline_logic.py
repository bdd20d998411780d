"""Pure pieces of the services: settings, utterance cutting, fusion inputs, summary, events."""
from __future__ import annotations

import numpy as np
import pytest

from emopulse.labels import EMOTIONS, SENTIMENTS
from emopulse.runtime.settings import Settings, SettingsError
from emopulse.v1 import events_pb2 as ev
from emopulse.v1 import results_pb2 as pb
from emopulse.processing.fusion import fusion_inputs, summarise
from emopulse.processing.utterances import cut_utterances


def test_settings_from_env_types_and_required():
    s = Settings.from_env({"EMOPULSE_NATS_URL": "nats://x:1", "EMOPULSE_VISION_FPS": "3.5", "EMOPULSE_MAX_DELIVER": "7"})
    assert (s.nats_url, s.vision_fps, s.max_deliver) == ("nats://x:1", 3.5, 7)
    with pytest.raises(SettingsError, match="EMOPULSE_TRITON_URL must be set"):
        s.require("triton_url")
    with pytest.raises(SettingsError, match="EMOPULSE_MAX_DELIVER"):
        Settings.from_env({"EMOPULSE_MAX_DELIVER": "many"})
    assert Settings(fusion_weights="text=1,vision=0.5").weights() == {"text": 1.0, "vision": 0.5}


def seg(words, text=None):
    return {"start": words[0][1], "end": words[-1][2], "text": text or "".join(w[0] for w in words),
            "words": [{"word": w, "start": s, "end": e, "probability": 0.9} for w, s, e in words]}


def test_cut_utterances_splits_at_voice_activity_pauses_and_offsets_times():
    words = [(" Hello", 0.0, 0.4), (" there.", 0.4, 0.8), (" How", 2.0, 2.3), (" are", 2.3, 2.5), (" you?", 2.5, 2.9)]
    cuts = cut_utterances([seg(words)], offset_s=10.0, regions=[(10.0, 10.9), (11.9, 13.0)], max_len_s=15)
    assert [c.text for c in cuts] == ["Hello there.", "How are you?"]
    assert cuts[0].start_s == pytest.approx(10.0) and cuts[1].end_s == pytest.approx(12.9)
    assert [w[0] for w in cuts[1].words] == [" How", " are", " you?"] and cuts[1].words[0][3] == 0.9


def test_cut_utterances_splits_long_speech_under_the_maximum():
    words = [(f" w{i}", i * 0.5, i * 0.5 + 0.4) for i in range(60)]  # 30 s without a pause
    cuts = cut_utterances([seg(words)], 0.0, [(0.0, 30.0)], max_len_s=10)
    assert all(c.end_s - c.start_s <= 10 for c in cuts) and len(cuts) >= 3
    assert sum(len(c.words) for c in cuts) == 60


def test_cut_utterances_keeps_segments_without_word_times():
    cuts = cut_utterances([{"start": 1.0, "end": 2.0, "text": " Hi.", "words": []}], 5.0, [], 15)
    assert [(c.start_s, c.end_s, c.text) for c in cuts] == [(6.0, 7.0, "Hi.")]


def test_fusion_inputs_mark_what_each_modality_has():
    text = pb.ModalityResult(modality=pb.TEXT, present=True, emotion=[1 / 7] * 7, sentiment=[0.2, 0.3, 0.5],
                             embedding=[0.1] * 384)
    vision = pb.ModalityResult(modality=pb.VISION, present=False, absent_reason="no face found")
    inputs = fusion_inputs({"text": text, "vision": vision}, {"text": 0.6, "vision": 0.4})
    assert inputs["PRESENT"].tolist() == [[True, False, False]]
    assert inputs["HAS_EMOTION"].tolist() == [[True, False, False]]
    assert inputs["HAS_SENTIMENT"].tolist() == [[True, False, False]]
    assert inputs["EMOTION_PROBS"].shape == (1, 3, 7) and inputs["SENTIMENT_PROBS"][0, 0].tolist() == pytest.approx([0.2, 0.3, 0.5])
    assert inputs["WEIGHTS"].tolist() == [[pytest.approx(0.6), 0.0, pytest.approx(0.4)]]
    assert inputs["EMBEDDING_TEXT"].shape == (1, 384) and not inputs["EMBEDDING_VISION"].any()


def test_summary_distributions():
    def result(e, s):
        return pb.UtteranceResult(emotion=np.eye(7)[e] * 0.9 + 0.1 / 7, sentiment=np.eye(3)[s] * 0.7 + 0.1)
    summary = summarise([result(3, 0), result(3, 0), result(0, 2)], 12.5, "en", "")
    assert summary.utterance_count == 3 and summary.duration_s == 12.5
    assert summary.emotion_distribution["joy"] == pytest.approx(2 / 3)
    assert summary.emotion_distribution["anger"] == pytest.approx(1 / 3)
    assert summary.sentiment_distribution["negative"] == pytest.approx(1 / 3)
    assert set(summary.mean_emotion) == set(EMOTIONS) and set(summary.mean_sentiment) == set(SENTIMENTS)
    empty = summarise([], 3.0, "", "no speech detected")
    assert empty.utterance_count == 0 and empty.note == "no speech detected" and not empty.emotion_distribution


def test_events_round_trip():
    u = ev.Utterance(job_id="j", index=4, start_s=1.5, end_s=2.5, text="hi", audio_uri="file:///tmp/a.pcm16",
                     words=[pb.Word(text="hi", start_s=1.5, end_s=2.5)], has_video=True)
    back = ev.UtteranceEvent.FromString(ev.UtteranceEvent(utterance=u).SerializeToString())
    assert back.WhichOneof("event") == "utterance" and back.utterance == u
    done = ev.UtteranceEvent.FromString(ev.UtteranceEvent(done=ev.TranscriptDone(job_id="j", utterance_count=0)).SerializeToString())
    assert done.WhichOneof("event") == "done" and done.done.utterance_count == 0


def test_stack_worker_counts():
    from emopulse.stack import Ports, parse_workers, process_names
    assert parse_workers("vision=2, audiotext=3") == {"vision": 2, "audiotext": 3}
    for bad in ("gateway=2", "vision=0", "vision", "ocr=2"):
        with pytest.raises(ValueError):
            parse_workers(bad)
    names = process_names({"vision": 3})
    assert names == ["gateway", "transcriber", "ingest", "audiotext", "vision", "vision-2", "vision-3", "fusion", "pulse"]
    ports = Ports.pick(workers={"vision": 2})
    assert set(ports.metrics) == set(process_names({"vision": 2})) and "gateway" not in ports.services
    assert len({ports.gateway, *ports.services.values(), *ports.metrics.values()}) == 1 + 7 + 8
