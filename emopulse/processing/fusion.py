"""Late fusion of per-modality probabilities, the fusion model's inputs, and a job's summary.

Rows of the modality axis follow ``emopulse.labels.MODALITIES`` (text, audio, vision).
"""

from __future__ import annotations

import bisect

import numpy as np

from emopulse.labels import EMOTIONS, MODALITIES, SENTIMENTS
from emopulse.processing.audio_features import AUDIO_EMBEDDING_DIM
from emopulse.v1 import results_pb2 as pb

EMBEDDING_DIMS = {"text": 384, "audio": AUDIO_EMBEDDING_DIM, "vision": len(EMOTIONS)}


def _fuse(probs: np.ndarray, has: np.ndarray, weights: np.ndarray) -> np.ndarray:
    probs = np.nan_to_num(np.asarray(probs, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    probs = np.clip(probs, 0.0, None)
    has = np.asarray(has, dtype=bool)
    w = np.clip(np.nan_to_num(np.asarray(weights, dtype=np.float64), nan=0.0), 0.0, None)
    # A modality's own distribution is renormalised first, so a slightly-off input cannot tilt
    # the mix; a modality whose row sums to 0 counts as absent.
    row_sum = probs.sum(axis=-1, keepdims=True)
    has = has & (row_sum[..., 0] > 0)
    probs = np.divide(probs, row_sum, out=np.zeros_like(probs), where=row_sum > 0)
    w = np.where(has, w, 0.0)  # [B, M]
    w_sum = w.sum(axis=-1, keepdims=True)
    # Weights renormalised over the modalities that have probabilities; where all of those have
    # weight 0, they count equally.
    eq = has.astype(np.float64)
    eq_sum = eq.sum(axis=-1, keepdims=True)
    w = np.where(w_sum > 0, w / np.where(w_sum > 0, w_sum, 1.0), eq / np.where(eq_sum > 0, eq_sum, 1.0))
    fused = np.einsum("bm,bmk->bk", w, probs)
    k = probs.shape[-1]
    nothing = eq_sum[:, 0] == 0
    fused[nothing] = 1.0 / k
    fused /= fused.sum(axis=-1, keepdims=True)
    return fused.astype(np.float32)


def late_fusion(
    emotion_probs: np.ndarray,
    has_emotion: np.ndarray,
    sentiment_probs: np.ndarray,
    has_sentiment: np.ndarray,
    weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted average of the modalities that have probabilities, per head.

    emotion_probs [B,3,7], has_emotion [B,3] bool, sentiment_probs [B,3,3], has_sentiment [B,3]
    bool, weights [B,3] (non-negative; renormalised over the modalities present for each head).
    Returns (emotion [B,7], sentiment [B,3]) float32, each row summing to 1; a head with no
    modality gives the uniform distribution.
    """
    emotion_probs = np.asarray(emotion_probs)
    sentiment_probs = np.asarray(sentiment_probs)
    if emotion_probs.ndim != 3 or sentiment_probs.ndim != 3:
        raise ValueError("emotion_probs and sentiment_probs must be [B, modalities, classes]")
    return (
        _fuse(emotion_probs, has_emotion, weights),
        _fuse(sentiment_probs, has_sentiment, weights),
    )


def fusion_inputs(features: dict[str, pb.ModalityResult], weights: dict[str, float]) -> dict[str, np.ndarray]:
    """Per-modality features -> the fusion model's fixed input tensors (batch of one)."""
    def row(name: str, field: str, size: int) -> np.ndarray:
        values = getattr(features[name], field) if name in features else []
        return np.asarray(values, np.float32) if len(values) == size else np.zeros(size, np.float32)

    present = [m in features and features[m].present for m in MODALITIES]
    inputs = {f"EMBEDDING_{m.upper()}": row(m, "embedding", EMBEDDING_DIMS[m])[None] for m in MODALITIES}
    inputs.update(
        EMOTION_PROBS=np.stack([row(m, "emotion", len(EMOTIONS)) for m in MODALITIES])[None],
        HAS_EMOTION=np.array([[p and len(features[m].emotion) == len(EMOTIONS) for m, p in zip(MODALITIES, present)]]),
        SENTIMENT_PROBS=np.stack([row(m, "sentiment", len(SENTIMENTS)) for m in MODALITIES])[None],
        HAS_SENTIMENT=np.array([[p and len(features[m].sentiment) == len(SENTIMENTS) for m, p in zip(MODALITIES, present)]]),
        PRESENT=np.array([present]),
        WEIGHTS=np.array([[weights.get(m, 0.0) for m in MODALITIES]], np.float32),
    )
    return inputs


def summarise(results: list[pb.UtteranceResult], duration_s: float, language: str, note: str,
              reactions=()) -> pb.Summary:
    """A job's summary; `reactions` are those that found a face (their mean expression by label)."""
    expressions = [r.expression for r in reactions if len(r.expression) == len(EMOTIONS)]
    if expressions and not results:  # no speech, yet the faces were read: say so, not just "no speech"
        note = f"{note or 'no speech detected'}; {len(expressions)} reaction{'s' * (len(expressions) != 1)} read"
    summary = pb.Summary(utterance_count=len(results), duration_s=duration_s, language=language, note=note,
                         reaction_count=len(expressions))
    for label, mean in zip(EMOTIONS, np.mean(expressions, axis=0) if expressions else []):
        summary.reaction_expression[label] = float(mean)
    if results:
        emotion = np.array([r.emotion for r in results])
        sentiment = np.array([r.sentiment for r in results])
        for labels, probs, share, mean in ((EMOTIONS, emotion, summary.emotion_distribution, summary.mean_emotion),
                                           (SENTIMENTS, sentiment, summary.sentiment_distribution, summary.mean_sentiment)):
            top = np.bincount(probs.argmax(axis=1), minlength=len(labels)) / len(results)
            for label, s, m in zip(labels, top, probs.mean(axis=0)):
                share[label] = float(s)
                mean[label] = float(m)
    summary.speakers.extend(speaker_summaries(results))
    return summary


def speaker_summaries(results: list[pb.UtteranceResult]) -> list[pb.SpeakerSummary]:
    """Per speaker (first to speak first): utterances, talk time and its share, duration-weighted
    sentiment, and the share of their utterances whose top emotion is each label. Utterances without
    a speaker (diarization off) make no entry."""
    by_speaker: dict[str, list[pb.UtteranceResult]] = {}
    for r in sorted(results, key=lambda r: r.start_s):
        if r.speaker:
            by_speaker.setdefault(r.speaker, []).append(r)
    total = sum(max(0.0, r.end_s - r.start_s) for rs in by_speaker.values() for r in rs)
    out = []
    for speaker, rs in by_speaker.items():
        talk = np.array([max(0.0, r.end_s - r.start_s) for r in rs])
        sentiment = np.array([r.sentiment for r in rs])
        weights = talk if talk.sum() > 0 else np.ones(len(rs))
        mean = weights @ sentiment / weights.sum()
        entry = pb.SpeakerSummary(speaker=speaker, utterance_count=len(rs), talk_time_s=float(talk.sum()),
                                  talk_share=float(talk.sum() / total) if total > 0 else 0.0,
                                  sentiment=float(mean[SENTIMENTS.index("positive")] - mean[SENTIMENTS.index("negative")]))
        top = np.bincount(np.array([r.emotion for r in rs]).argmax(axis=1), minlength=len(EMOTIONS)) / len(rs)
        for label, share in zip(EMOTIONS, top):
            entry.emotion_distribution[label] = float(share)
        for label, m in zip(SENTIMENTS, mean):
            entry.mean_sentiment[label] = float(m)
        out.append(entry)
    return out


# ---- joining an utterance's parts (fusion's KV record; events_pb2.FusionRecord) ----------------

def add_part(record, utterance=None, feature: pb.ModalityResult | None = None) -> bool:
    """Put an utterance or one modality's feature into a FusionRecord; False when nothing changed
    (already there, or the utterance is fused). The first feature of a modality stays."""
    if record.HasField("result"):
        return False
    if utterance is not None:
        if record.HasField("utterance"):
            return False
        record.utterance.CopyFrom(utterance)
        return True
    if any(f.modality == feature.modality for f in record.features):
        return False
    record.features.append(feature)
    return True


def add_reaction(job_record, answer) -> bool:
    """Note one reaction's answer (events_pb2.ReactionFeature) in the job's FusionJob record, once per
    index; an answer with a face is kept for the summary, without its face boxes (the full reaction
    went to results.<job>), so the record stays small on long media."""
    if answer.index in job_record.reacted:
        return False
    bisect.insort(job_record.reacted, answer.index)
    if answer.HasField("reaction"):
        job_record.reactions.add(index=answer.reaction.index, time_s=answer.reaction.time_s,
                                 expression=answer.reaction.expression)
    return True


def reactions_answered(job_record) -> bool:
    """Every reaction the transcript's end counts (indices 0 .. reaction_count - 1) has its answer."""
    count = job_record.done.reaction_count
    return sum(1 for i in job_record.reacted if i < count) >= count


def features_of(record) -> dict[str, pb.ModalityResult]:
    return {pb.Modality.Name(f.modality).lower(): f for f in record.features}


def missing_modalities(record) -> list[str]:
    have = features_of(record)
    return [m for m in MODALITIES if m not in have]


def local_fusion(features: dict[str, pb.ModalityResult], weights: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """The late fusion the served model v1 does, computed here: the fallback when the model fails."""
    x = fusion_inputs(features, weights)
    present = x["PRESENT"].astype(bool)
    emotion, sentiment = late_fusion(x["EMOTION_PROBS"], x["HAS_EMOTION"] & present,
                                     x["SENTIMENT_PROBS"], x["HAS_SENTIMENT"] & present, x["WEIGHTS"])
    return emotion[0], sentiment[0]


def utterance_result(u, features: dict[str, pb.ModalityResult], emotion, sentiment, versions: dict[str, str],
                     absent_reason: str) -> pb.UtteranceResult:
    """The result of one utterance: a missing modality is an explicit absent entry saying why."""
    entries = [features.get(m) or pb.ModalityResult(modality=pb.Modality.Value(m.upper()), present=False,
                                                    absent_reason=absent_reason)
               for m in MODALITIES]
    versions = {"speech_to_text": u.model_version, **versions}
    versions.update({m: f.model_version for m, f in features.items() if f.model_version})
    return pb.UtteranceResult(job_id=u.job_id, index=u.index, start_s=u.start_s, end_s=u.end_s, text=u.text,
                              words=u.words, language=u.language, emotion=emotion, sentiment=sentiment,
                              modalities=entries, timed_out=[m for m in MODALITIES if m not in features],
                              model_versions=versions, speaker=u.speaker)
