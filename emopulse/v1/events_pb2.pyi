from emopulse.v1 import results_pb2 as _results_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobCreated(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _results_pb2.Job
    def __init__(self, job: _Optional[_Union[_results_pb2.Job, _Mapping]] = ...) -> None: ...

class Utterance(_message.Message):
    __slots__ = ("job_id", "index", "start_s", "end_s", "text", "words", "language", "media_uri", "has_video", "model_version", "cut_at", "context", "audio_uri", "frames", "speaker")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    MEDIA_URI_FIELD_NUMBER: _ClassVar[int]
    HAS_VIDEO_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    CUT_AT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    AUDIO_URI_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    index: int
    start_s: float
    end_s: float
    text: str
    words: _containers.RepeatedCompositeFieldContainer[_results_pb2.Word]
    language: str
    media_uri: str
    has_video: bool
    model_version: str
    cut_at: float
    context: str
    audio_uri: str
    frames: _containers.RepeatedCompositeFieldContainer[FrameRef]
    speaker: str
    def __init__(self, job_id: _Optional[str] = ..., index: _Optional[int] = ..., start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., text: _Optional[str] = ..., words: _Optional[_Iterable[_Union[_results_pb2.Word, _Mapping]]] = ..., language: _Optional[str] = ..., media_uri: _Optional[str] = ..., has_video: _Optional[bool] = ..., model_version: _Optional[str] = ..., cut_at: _Optional[float] = ..., context: _Optional[str] = ..., audio_uri: _Optional[str] = ..., frames: _Optional[_Iterable[_Union[FrameRef, _Mapping]]] = ..., speaker: _Optional[str] = ...) -> None: ...

class FrameRef(_message.Message):
    __slots__ = ("time_s", "uri")
    TIME_S_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    time_s: float
    uri: str
    def __init__(self, time_s: _Optional[float] = ..., uri: _Optional[str] = ...) -> None: ...

class TranscriptDone(_message.Message):
    __slots__ = ("job_id", "utterance_count", "duration_s", "language", "note", "reaction_count")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    UTTERANCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    REACTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    utterance_count: int
    duration_s: float
    language: str
    note: str
    reaction_count: int
    def __init__(self, job_id: _Optional[str] = ..., utterance_count: _Optional[int] = ..., duration_s: _Optional[float] = ..., language: _Optional[str] = ..., note: _Optional[str] = ..., reaction_count: _Optional[int] = ...) -> None: ...

class UtteranceEvent(_message.Message):
    __slots__ = ("utterance", "done")
    UTTERANCE_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    utterance: Utterance
    done: TranscriptDone
    def __init__(self, utterance: _Optional[_Union[Utterance, _Mapping]] = ..., done: _Optional[_Union[TranscriptDone, _Mapping]] = ...) -> None: ...

class ReactionRequest(_message.Message):
    __slots__ = ("job_id", "index", "time_s", "media_uri", "frame")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TIME_S_FIELD_NUMBER: _ClassVar[int]
    MEDIA_URI_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    index: int
    time_s: float
    media_uri: str
    frame: FrameRef
    def __init__(self, job_id: _Optional[str] = ..., index: _Optional[int] = ..., time_s: _Optional[float] = ..., media_uri: _Optional[str] = ..., frame: _Optional[_Union[FrameRef, _Mapping]] = ...) -> None: ...

class ReactionFeature(_message.Message):
    __slots__ = ("job_id", "index", "reaction")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    REACTION_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    index: int
    reaction: _results_pb2.Reaction
    def __init__(self, job_id: _Optional[str] = ..., index: _Optional[int] = ..., reaction: _Optional[_Union[_results_pb2.Reaction, _Mapping]] = ...) -> None: ...

class Feature(_message.Message):
    __slots__ = ("job_id", "index", "result")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    index: int
    result: _results_pb2.ModalityResult
    def __init__(self, job_id: _Optional[str] = ..., index: _Optional[int] = ..., result: _Optional[_Union[_results_pb2.ModalityResult, _Mapping]] = ...) -> None: ...

class FusionRecord(_message.Message):
    __slots__ = ("utterance", "features", "result")
    UTTERANCE_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    utterance: Utterance
    features: _containers.RepeatedCompositeFieldContainer[_results_pb2.ModalityResult]
    result: _results_pb2.UtteranceResult
    def __init__(self, utterance: _Optional[_Union[Utterance, _Mapping]] = ..., features: _Optional[_Iterable[_Union[_results_pb2.ModalityResult, _Mapping]]] = ..., result: _Optional[_Union[_results_pb2.UtteranceResult, _Mapping]] = ...) -> None: ...

class FusionJob(_message.Message):
    __slots__ = ("done", "fused", "reacted", "reactions")
    DONE_FIELD_NUMBER: _ClassVar[int]
    FUSED_FIELD_NUMBER: _ClassVar[int]
    REACTED_FIELD_NUMBER: _ClassVar[int]
    REACTIONS_FIELD_NUMBER: _ClassVar[int]
    done: TranscriptDone
    fused: _containers.RepeatedScalarFieldContainer[int]
    reacted: _containers.RepeatedScalarFieldContainer[int]
    reactions: _containers.RepeatedCompositeFieldContainer[_results_pb2.Reaction]
    def __init__(self, done: _Optional[_Union[TranscriptDone, _Mapping]] = ..., fused: _Optional[_Iterable[int]] = ..., reacted: _Optional[_Iterable[int]] = ..., reactions: _Optional[_Iterable[_Union[_results_pb2.Reaction, _Mapping]]] = ...) -> None: ...

class TranscriptCheckpoint(_message.Message):
    __slots__ = ("next_chunk", "next_index", "language", "recent", "voices", "carry_from_s")
    NEXT_CHUNK_FIELD_NUMBER: _ClassVar[int]
    NEXT_INDEX_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    RECENT_FIELD_NUMBER: _ClassVar[int]
    VOICES_FIELD_NUMBER: _ClassVar[int]
    CARRY_FROM_S_FIELD_NUMBER: _ClassVar[int]
    next_chunk: int
    next_index: int
    language: str
    recent: _containers.RepeatedScalarFieldContainer[str]
    voices: VoicePrints
    carry_from_s: float
    def __init__(self, next_chunk: _Optional[int] = ..., next_index: _Optional[int] = ..., language: _Optional[str] = ..., recent: _Optional[_Iterable[str]] = ..., voices: _Optional[_Union[VoicePrints, _Mapping]] = ..., carry_from_s: _Optional[float] = ...) -> None: ...

class VoicePrints(_message.Message):
    __slots__ = ("dim", "sums")
    DIM_FIELD_NUMBER: _ClassVar[int]
    SUMS_FIELD_NUMBER: _ClassVar[int]
    dim: int
    sums: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, dim: _Optional[int] = ..., sums: _Optional[_Iterable[float]] = ...) -> None: ...

class StreamLease(_message.Message):
    __slots__ = ("owner", "expires_at", "renewed_at", "media_s", "next_index", "language", "recent", "reconnects", "voices")
    OWNER_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    RENEWED_AT_FIELD_NUMBER: _ClassVar[int]
    MEDIA_S_FIELD_NUMBER: _ClassVar[int]
    NEXT_INDEX_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    RECENT_FIELD_NUMBER: _ClassVar[int]
    RECONNECTS_FIELD_NUMBER: _ClassVar[int]
    VOICES_FIELD_NUMBER: _ClassVar[int]
    owner: str
    expires_at: float
    renewed_at: float
    media_s: float
    next_index: int
    language: str
    recent: _containers.RepeatedScalarFieldContainer[str]
    reconnects: int
    voices: VoicePrints
    def __init__(self, owner: _Optional[str] = ..., expires_at: _Optional[float] = ..., renewed_at: _Optional[float] = ..., media_s: _Optional[float] = ..., next_index: _Optional[int] = ..., language: _Optional[str] = ..., recent: _Optional[_Iterable[str]] = ..., reconnects: _Optional[int] = ..., voices: _Optional[_Union[VoicePrints, _Mapping]] = ...) -> None: ...

class PushedMedia(_message.Message):
    __slots__ = ("media", "frame", "end")
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    media: bytes
    frame: _results_pb2.Frame
    end: bool
    def __init__(self, media: _Optional[bytes] = ..., frame: _Optional[_Union[_results_pb2.Frame, _Mapping]] = ..., end: _Optional[bool] = ...) -> None: ...

class StreamClock(_message.Message):
    __slots__ = ("stream_id", "media_s", "cut_index", "down")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    MEDIA_S_FIELD_NUMBER: _ClassVar[int]
    CUT_INDEX_FIELD_NUMBER: _ClassVar[int]
    DOWN_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    media_s: float
    cut_index: int
    down: bool
    def __init__(self, stream_id: _Optional[str] = ..., media_s: _Optional[float] = ..., cut_index: _Optional[int] = ..., down: _Optional[bool] = ...) -> None: ...

class PulsePoint(_message.Message):
    __slots__ = ("index", "start_s", "end_s", "emotion", "sentiment", "faces", "face_expression", "text")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    EMOTION_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    FACES_FIELD_NUMBER: _ClassVar[int]
    FACE_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    index: int
    start_s: float
    end_s: float
    emotion: _containers.RepeatedScalarFieldContainer[float]
    sentiment: _containers.RepeatedScalarFieldContainer[float]
    faces: int
    face_expression: _containers.RepeatedScalarFieldContainer[float]
    text: str
    def __init__(self, index: _Optional[int] = ..., start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., emotion: _Optional[_Iterable[float]] = ..., sentiment: _Optional[_Iterable[float]] = ..., faces: _Optional[int] = ..., face_expression: _Optional[_Iterable[float]] = ..., text: _Optional[str] = ...) -> None: ...

class RuleState(_message.Message):
    __slots__ = ("rule", "since_s", "firing", "last_fired_s", "fired", "n", "mean", "variance", "cusum_up", "cusum_down", "last_index")
    RULE_FIELD_NUMBER: _ClassVar[int]
    SINCE_S_FIELD_NUMBER: _ClassVar[int]
    FIRING_FIELD_NUMBER: _ClassVar[int]
    LAST_FIRED_S_FIELD_NUMBER: _ClassVar[int]
    FIRED_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    VARIANCE_FIELD_NUMBER: _ClassVar[int]
    CUSUM_UP_FIELD_NUMBER: _ClassVar[int]
    CUSUM_DOWN_FIELD_NUMBER: _ClassVar[int]
    LAST_INDEX_FIELD_NUMBER: _ClassVar[int]
    rule: str
    since_s: float
    firing: bool
    last_fired_s: float
    fired: int
    n: int
    mean: float
    variance: float
    cusum_up: float
    cusum_down: float
    last_index: int
    def __init__(self, rule: _Optional[str] = ..., since_s: _Optional[float] = ..., firing: _Optional[bool] = ..., last_fired_s: _Optional[float] = ..., fired: _Optional[int] = ..., n: _Optional[int] = ..., mean: _Optional[float] = ..., variance: _Optional[float] = ..., cusum_up: _Optional[float] = ..., cusum_down: _Optional[float] = ..., last_index: _Optional[int] = ...) -> None: ...

class PulseState(_message.Message):
    __slots__ = ("points", "contiguous", "ticks", "next_tick_s", "rules", "outbox", "ended", "started_s", "alerts", "down", "audience", "reactions", "media_s", "final_sent", "audience_count")
    POINTS_FIELD_NUMBER: _ClassVar[int]
    CONTIGUOUS_FIELD_NUMBER: _ClassVar[int]
    TICKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TICK_S_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    OUTBOX_FIELD_NUMBER: _ClassVar[int]
    ENDED_FIELD_NUMBER: _ClassVar[int]
    STARTED_S_FIELD_NUMBER: _ClassVar[int]
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    DOWN_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    REACTIONS_FIELD_NUMBER: _ClassVar[int]
    MEDIA_S_FIELD_NUMBER: _ClassVar[int]
    FINAL_SENT_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[PulsePoint]
    contiguous: int
    ticks: _containers.RepeatedCompositeFieldContainer[StreamClock]
    next_tick_s: float
    rules: _containers.RepeatedCompositeFieldContainer[RuleState]
    outbox: _containers.RepeatedCompositeFieldContainer[_results_pb2.JobEvent]
    ended: bool
    started_s: float
    alerts: int
    down: bool
    audience: _containers.RepeatedCompositeFieldContainer[_results_pb2.AudienceMessage]
    reactions: _containers.RepeatedCompositeFieldContainer[_results_pb2.Reaction]
    media_s: float
    final_sent: bool
    audience_count: int
    def __init__(self, points: _Optional[_Iterable[_Union[PulsePoint, _Mapping]]] = ..., contiguous: _Optional[int] = ..., ticks: _Optional[_Iterable[_Union[StreamClock, _Mapping]]] = ..., next_tick_s: _Optional[float] = ..., rules: _Optional[_Iterable[_Union[RuleState, _Mapping]]] = ..., outbox: _Optional[_Iterable[_Union[_results_pb2.JobEvent, _Mapping]]] = ..., ended: _Optional[bool] = ..., started_s: _Optional[float] = ..., alerts: _Optional[int] = ..., down: _Optional[bool] = ..., audience: _Optional[_Iterable[_Union[_results_pb2.AudienceMessage, _Mapping]]] = ..., reactions: _Optional[_Iterable[_Union[_results_pb2.Reaction, _Mapping]]] = ..., media_s: _Optional[float] = ..., final_sent: _Optional[bool] = ..., audience_count: _Optional[int] = ...) -> None: ...

class ApiKey(_message.Message):
    __slots__ = ("id", "name", "tenant", "admin", "salt", "hash", "created_at", "revoked_at", "last_used_at", "limits")
    class LimitsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    ADMIN_FIELD_NUMBER: _ClassVar[int]
    SALT_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    tenant: str
    admin: bool
    salt: bytes
    hash: bytes
    created_at: float
    revoked_at: float
    last_used_at: float
    limits: _containers.ScalarMap[str, float]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., tenant: _Optional[str] = ..., admin: _Optional[bool] = ..., salt: _Optional[bytes] = ..., hash: _Optional[bytes] = ..., created_at: _Optional[float] = ..., revoked_at: _Optional[float] = ..., last_used_at: _Optional[float] = ..., limits: _Optional[_Mapping[str, float]] = ...) -> None: ...
