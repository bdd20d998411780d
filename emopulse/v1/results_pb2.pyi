from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    QUEUED: _ClassVar[JobState]
    RUNNING: _ClassVar[JobState]
    SUCCEEDED: _ClassVar[JobState]
    FAILED: _ClassVar[JobState]
    CANCELLED: _ClassVar[JobState]

class StreamState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STREAM_STATE_UNSPECIFIED: _ClassVar[StreamState]
    STREAM_STARTING: _ClassVar[StreamState]
    STREAM_LIVE: _ClassVar[StreamState]
    STREAM_RECONNECTING: _ClassVar[StreamState]
    STREAM_ENDED: _ClassVar[StreamState]
    STREAM_FAILED: _ClassVar[StreamState]

class Modality(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODALITY_UNSPECIFIED: _ClassVar[Modality]
    TEXT: _ClassVar[Modality]
    AUDIO: _ClassVar[Modality]
    VISION: _ClassVar[Modality]

class AlertKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_KIND_UNSPECIFIED: _ClassVar[AlertKind]
    NEGATIVE_SPIKE: _ClassVar[AlertKind]
    SENTIMENT_SHIFT: _ClassVar[AlertKind]
    EMOTION_SURGE: _ClassVar[AlertKind]
    ENGAGEMENT_DROP: _ClassVar[AlertKind]
    STREAM_SILENT: _ClassVar[AlertKind]
    STREAM_DOWN: _ClassVar[AlertKind]

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEVERITY_UNSPECIFIED: _ClassVar[Severity]
    INFO: _ClassVar[Severity]
    WARNING: _ClassVar[Severity]
    CRITICAL: _ClassVar[Severity]
JOB_STATE_UNSPECIFIED: JobState
QUEUED: JobState
RUNNING: JobState
SUCCEEDED: JobState
FAILED: JobState
CANCELLED: JobState
STREAM_STATE_UNSPECIFIED: StreamState
STREAM_STARTING: StreamState
STREAM_LIVE: StreamState
STREAM_RECONNECTING: StreamState
STREAM_ENDED: StreamState
STREAM_FAILED: StreamState
MODALITY_UNSPECIFIED: Modality
TEXT: Modality
AUDIO: Modality
VISION: Modality
ALERT_KIND_UNSPECIFIED: AlertKind
NEGATIVE_SPIKE: AlertKind
SENTIMENT_SHIFT: AlertKind
EMOTION_SURGE: AlertKind
ENGAGEMENT_DROP: AlertKind
STREAM_SILENT: AlertKind
STREAM_DOWN: AlertKind
SEVERITY_UNSPECIFIED: Severity
INFO: Severity
WARNING: Severity
CRITICAL: Severity

class Job(_message.Message):
    __slots__ = ("id", "state", "reason", "media_uri", "filename", "sha256", "language", "created_at", "updated_at", "utterances_total", "utterances_fused", "duration_s", "media_seconds_done", "request_id", "stream", "min_speakers", "max_speakers", "tenant")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MEDIA_URI_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    UTTERANCES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    UTTERANCES_FUSED_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    MEDIA_SECONDS_DONE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    MIN_SPEAKERS_FIELD_NUMBER: _ClassVar[int]
    MAX_SPEAKERS_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    id: str
    state: JobState
    reason: str
    media_uri: str
    filename: str
    sha256: str
    language: str
    created_at: float
    updated_at: float
    utterances_total: int
    utterances_fused: int
    duration_s: float
    media_seconds_done: float
    request_id: str
    stream: Stream
    min_speakers: int
    max_speakers: int
    tenant: str
    def __init__(self, id: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., reason: _Optional[str] = ..., media_uri: _Optional[str] = ..., filename: _Optional[str] = ..., sha256: _Optional[str] = ..., language: _Optional[str] = ..., created_at: _Optional[float] = ..., updated_at: _Optional[float] = ..., utterances_total: _Optional[int] = ..., utterances_fused: _Optional[int] = ..., duration_s: _Optional[float] = ..., media_seconds_done: _Optional[float] = ..., request_id: _Optional[str] = ..., stream: _Optional[_Union[Stream, _Mapping]] = ..., min_speakers: _Optional[int] = ..., max_speakers: _Optional[int] = ..., tenant: _Optional[str] = ...) -> None: ...

class Stream(_message.Message):
    __slots__ = ("id", "name", "url", "state", "reason", "detail", "language", "created_at", "updated_at", "media_seconds", "lag_s", "reconnects", "gap_seconds", "utterances", "recording_uri", "stop_requested", "owner", "stop_reason", "media_minutes_per_month")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    MEDIA_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LAG_S_FIELD_NUMBER: _ClassVar[int]
    RECONNECTS_FIELD_NUMBER: _ClassVar[int]
    GAP_SECONDS_FIELD_NUMBER: _ClassVar[int]
    UTTERANCES_FIELD_NUMBER: _ClassVar[int]
    RECORDING_URI_FIELD_NUMBER: _ClassVar[int]
    STOP_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    STOP_REASON_FIELD_NUMBER: _ClassVar[int]
    MEDIA_MINUTES_PER_MONTH_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    url: str
    state: StreamState
    reason: str
    detail: str
    language: str
    created_at: float
    updated_at: float
    media_seconds: float
    lag_s: float
    reconnects: int
    gap_seconds: float
    utterances: int
    recording_uri: str
    stop_requested: bool
    owner: str
    stop_reason: str
    media_minutes_per_month: float
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., url: _Optional[str] = ..., state: _Optional[_Union[StreamState, str]] = ..., reason: _Optional[str] = ..., detail: _Optional[str] = ..., language: _Optional[str] = ..., created_at: _Optional[float] = ..., updated_at: _Optional[float] = ..., media_seconds: _Optional[float] = ..., lag_s: _Optional[float] = ..., reconnects: _Optional[int] = ..., gap_seconds: _Optional[float] = ..., utterances: _Optional[int] = ..., recording_uri: _Optional[str] = ..., stop_requested: _Optional[bool] = ..., owner: _Optional[str] = ..., stop_reason: _Optional[str] = ..., media_minutes_per_month: _Optional[float] = ...) -> None: ...

class Word(_message.Message):
    __slots__ = ("text", "start_s", "end_s", "probability")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    text: str
    start_s: float
    end_s: float
    probability: float
    def __init__(self, text: _Optional[str] = ..., start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., probability: _Optional[float] = ...) -> None: ...

class Box(_message.Message):
    __slots__ = ("x", "y", "width", "height")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    x: int
    y: int
    width: int
    height: int
    def __init__(self, x: _Optional[int] = ..., y: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class Face(_message.Message):
    __slots__ = ("time_s", "box", "expression", "track")
    TIME_S_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    TRACK_FIELD_NUMBER: _ClassVar[int]
    time_s: float
    box: Box
    expression: _containers.RepeatedScalarFieldContainer[float]
    track: int
    def __init__(self, time_s: _Optional[float] = ..., box: _Optional[_Union[Box, _Mapping]] = ..., expression: _Optional[_Iterable[float]] = ..., track: _Optional[int] = ...) -> None: ...

class ModalityResult(_message.Message):
    __slots__ = ("modality", "present", "absent_reason", "emotion", "sentiment", "classifier", "faces", "embedding", "model_version", "speaker_track", "speaker_basis")
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    PRESENT_FIELD_NUMBER: _ClassVar[int]
    ABSENT_REASON_FIELD_NUMBER: _ClassVar[int]
    EMOTION_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    CLASSIFIER_FIELD_NUMBER: _ClassVar[int]
    FACES_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_TRACK_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_BASIS_FIELD_NUMBER: _ClassVar[int]
    modality: Modality
    present: bool
    absent_reason: str
    emotion: _containers.RepeatedScalarFieldContainer[float]
    sentiment: _containers.RepeatedScalarFieldContainer[float]
    classifier: str
    faces: _containers.RepeatedCompositeFieldContainer[Face]
    embedding: _containers.RepeatedScalarFieldContainer[float]
    model_version: str
    speaker_track: int
    speaker_basis: str
    def __init__(self, modality: _Optional[_Union[Modality, str]] = ..., present: _Optional[bool] = ..., absent_reason: _Optional[str] = ..., emotion: _Optional[_Iterable[float]] = ..., sentiment: _Optional[_Iterable[float]] = ..., classifier: _Optional[str] = ..., faces: _Optional[_Iterable[_Union[Face, _Mapping]]] = ..., embedding: _Optional[_Iterable[float]] = ..., model_version: _Optional[str] = ..., speaker_track: _Optional[int] = ..., speaker_basis: _Optional[str] = ...) -> None: ...

class UtteranceResult(_message.Message):
    __slots__ = ("job_id", "index", "start_s", "end_s", "text", "words", "language", "emotion", "sentiment", "modalities", "timed_out", "model_versions", "speaker")
    class ModelVersionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    EMOTION_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    MODALITIES_FIELD_NUMBER: _ClassVar[int]
    TIMED_OUT_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    index: int
    start_s: float
    end_s: float
    text: str
    words: _containers.RepeatedCompositeFieldContainer[Word]
    language: str
    emotion: _containers.RepeatedScalarFieldContainer[float]
    sentiment: _containers.RepeatedScalarFieldContainer[float]
    modalities: _containers.RepeatedCompositeFieldContainer[ModalityResult]
    timed_out: _containers.RepeatedScalarFieldContainer[str]
    model_versions: _containers.ScalarMap[str, str]
    speaker: str
    def __init__(self, job_id: _Optional[str] = ..., index: _Optional[int] = ..., start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., text: _Optional[str] = ..., words: _Optional[_Iterable[_Union[Word, _Mapping]]] = ..., language: _Optional[str] = ..., emotion: _Optional[_Iterable[float]] = ..., sentiment: _Optional[_Iterable[float]] = ..., modalities: _Optional[_Iterable[_Union[ModalityResult, _Mapping]]] = ..., timed_out: _Optional[_Iterable[str]] = ..., model_versions: _Optional[_Mapping[str, str]] = ..., speaker: _Optional[str] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("stage", "media_seconds_done", "duration_s", "utterances_fused", "utterances_total")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    MEDIA_SECONDS_DONE_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    UTTERANCES_FUSED_FIELD_NUMBER: _ClassVar[int]
    UTTERANCES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    stage: str
    media_seconds_done: float
    duration_s: float
    utterances_fused: int
    utterances_total: int
    def __init__(self, stage: _Optional[str] = ..., media_seconds_done: _Optional[float] = ..., duration_s: _Optional[float] = ..., utterances_fused: _Optional[int] = ..., utterances_total: _Optional[int] = ...) -> None: ...

class Summary(_message.Message):
    __slots__ = ("utterance_count", "duration_s", "emotion_distribution", "sentiment_distribution", "mean_emotion", "mean_sentiment", "note", "language", "reaction_count", "reaction_expression", "speakers")
    class EmotionDistributionEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class SentimentDistributionEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class MeanEmotionEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class MeanSentimentEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class ReactionExpressionEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    UTTERANCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    EMOTION_DISTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_DISTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    MEAN_EMOTION_FIELD_NUMBER: _ClassVar[int]
    MEAN_SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    REACTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    REACTION_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    SPEAKERS_FIELD_NUMBER: _ClassVar[int]
    utterance_count: int
    duration_s: float
    emotion_distribution: _containers.ScalarMap[str, float]
    sentiment_distribution: _containers.ScalarMap[str, float]
    mean_emotion: _containers.ScalarMap[str, float]
    mean_sentiment: _containers.ScalarMap[str, float]
    note: str
    language: str
    reaction_count: int
    reaction_expression: _containers.ScalarMap[str, float]
    speakers: _containers.RepeatedCompositeFieldContainer[SpeakerSummary]
    def __init__(self, utterance_count: _Optional[int] = ..., duration_s: _Optional[float] = ..., emotion_distribution: _Optional[_Mapping[str, float]] = ..., sentiment_distribution: _Optional[_Mapping[str, float]] = ..., mean_emotion: _Optional[_Mapping[str, float]] = ..., mean_sentiment: _Optional[_Mapping[str, float]] = ..., note: _Optional[str] = ..., language: _Optional[str] = ..., reaction_count: _Optional[int] = ..., reaction_expression: _Optional[_Mapping[str, float]] = ..., speakers: _Optional[_Iterable[_Union[SpeakerSummary, _Mapping]]] = ...) -> None: ...

class SpeakerSummary(_message.Message):
    __slots__ = ("speaker", "utterance_count", "talk_time_s", "talk_share", "sentiment", "emotion_distribution", "mean_sentiment")
    class EmotionDistributionEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class MeanSentimentEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    UTTERANCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    TALK_TIME_S_FIELD_NUMBER: _ClassVar[int]
    TALK_SHARE_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    EMOTION_DISTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    MEAN_SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    speaker: str
    utterance_count: int
    talk_time_s: float
    talk_share: float
    sentiment: float
    emotion_distribution: _containers.ScalarMap[str, float]
    mean_sentiment: _containers.ScalarMap[str, float]
    def __init__(self, speaker: _Optional[str] = ..., utterance_count: _Optional[int] = ..., talk_time_s: _Optional[float] = ..., talk_share: _Optional[float] = ..., sentiment: _Optional[float] = ..., emotion_distribution: _Optional[_Mapping[str, float]] = ..., mean_sentiment: _Optional[_Mapping[str, float]] = ...) -> None: ...

class Frame(_message.Message):
    __slots__ = ("time_s", "jpeg")
    TIME_S_FIELD_NUMBER: _ClassVar[int]
    JPEG_FIELD_NUMBER: _ClassVar[int]
    time_s: float
    jpeg: bytes
    def __init__(self, time_s: _Optional[float] = ..., jpeg: _Optional[bytes] = ...) -> None: ...

class Partial(_message.Message):
    __slots__ = ("index", "start_s", "end_s", "text")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    index: int
    start_s: float
    end_s: float
    text: str
    def __init__(self, index: _Optional[int] = ..., start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., text: _Optional[str] = ...) -> None: ...

class StreamStatus(_message.Message):
    __slots__ = ("state", "detail", "lag_s", "media_s", "gap_from_s", "gap_to_s")
    STATE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    LAG_S_FIELD_NUMBER: _ClassVar[int]
    MEDIA_S_FIELD_NUMBER: _ClassVar[int]
    GAP_FROM_S_FIELD_NUMBER: _ClassVar[int]
    GAP_TO_S_FIELD_NUMBER: _ClassVar[int]
    state: StreamState
    detail: str
    lag_s: float
    media_s: float
    gap_from_s: float
    gap_to_s: float
    def __init__(self, state: _Optional[_Union[StreamState, str]] = ..., detail: _Optional[str] = ..., lag_s: _Optional[float] = ..., media_s: _Optional[float] = ..., gap_from_s: _Optional[float] = ..., gap_to_s: _Optional[float] = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("job_id", "result", "progress", "summary", "ended", "sequence", "partial", "stream_state", "pulse", "alert", "audience", "reaction")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    ENDED_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    STREAM_STATE_FIELD_NUMBER: _ClassVar[int]
    PULSE_FIELD_NUMBER: _ClassVar[int]
    ALERT_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    REACTION_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    result: UtteranceResult
    progress: Progress
    summary: Summary
    ended: Job
    sequence: int
    partial: Partial
    stream_state: StreamStatus
    pulse: Pulse
    alert: Alert
    audience: AudienceMessage
    reaction: Reaction
    def __init__(self, job_id: _Optional[str] = ..., result: _Optional[_Union[UtteranceResult, _Mapping]] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ..., summary: _Optional[_Union[Summary, _Mapping]] = ..., ended: _Optional[_Union[Job, _Mapping]] = ..., sequence: _Optional[int] = ..., partial: _Optional[_Union[Partial, _Mapping]] = ..., stream_state: _Optional[_Union[StreamStatus, _Mapping]] = ..., pulse: _Optional[_Union[Pulse, _Mapping]] = ..., alert: _Optional[_Union[Alert, _Mapping]] = ..., audience: _Optional[_Union[AudienceMessage, _Mapping]] = ..., reaction: _Optional[_Union[Reaction, _Mapping]] = ...) -> None: ...

class Reaction(_message.Message):
    __slots__ = ("index", "time_s", "faces", "expression", "classifier", "model_version")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TIME_S_FIELD_NUMBER: _ClassVar[int]
    FACES_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    CLASSIFIER_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    index: int
    time_s: float
    faces: _containers.RepeatedCompositeFieldContainer[Face]
    expression: _containers.RepeatedScalarFieldContainer[float]
    classifier: str
    model_version: str
    def __init__(self, index: _Optional[int] = ..., time_s: _Optional[float] = ..., faces: _Optional[_Iterable[_Union[Face, _Mapping]]] = ..., expression: _Optional[_Iterable[float]] = ..., classifier: _Optional[str] = ..., model_version: _Optional[str] = ...) -> None: ...

class PulseWindow(_message.Message):
    __slots__ = ("length_s", "utterances", "sentiment", "negative_share", "emotion", "speaking_ratio", "faces", "face_expression", "audience_messages", "audience_per_minute", "audience_sentiment", "reactions")
    LENGTH_S_FIELD_NUMBER: _ClassVar[int]
    UTTERANCES_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_SHARE_FIELD_NUMBER: _ClassVar[int]
    EMOTION_FIELD_NUMBER: _ClassVar[int]
    SPEAKING_RATIO_FIELD_NUMBER: _ClassVar[int]
    FACES_FIELD_NUMBER: _ClassVar[int]
    FACE_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    REACTIONS_FIELD_NUMBER: _ClassVar[int]
    length_s: float
    utterances: int
    sentiment: float
    negative_share: float
    emotion: _containers.RepeatedScalarFieldContainer[float]
    speaking_ratio: float
    faces: int
    face_expression: _containers.RepeatedScalarFieldContainer[float]
    audience_messages: int
    audience_per_minute: float
    audience_sentiment: float
    reactions: int
    def __init__(self, length_s: _Optional[float] = ..., utterances: _Optional[int] = ..., sentiment: _Optional[float] = ..., negative_share: _Optional[float] = ..., emotion: _Optional[_Iterable[float]] = ..., speaking_ratio: _Optional[float] = ..., faces: _Optional[int] = ..., face_expression: _Optional[_Iterable[float]] = ..., audience_messages: _Optional[int] = ..., audience_per_minute: _Optional[float] = ..., audience_sentiment: _Optional[float] = ..., reactions: _Optional[int] = ...) -> None: ...

class Pulse(_message.Message):
    __slots__ = ("media_s", "windows", "utterances", "final")
    MEDIA_S_FIELD_NUMBER: _ClassVar[int]
    WINDOWS_FIELD_NUMBER: _ClassVar[int]
    UTTERANCES_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    media_s: float
    windows: _containers.RepeatedCompositeFieldContainer[PulseWindow]
    utterances: int
    final: bool
    def __init__(self, media_s: _Optional[float] = ..., windows: _Optional[_Iterable[_Union[PulseWindow, _Mapping]]] = ..., utterances: _Optional[int] = ..., final: _Optional[bool] = ...) -> None: ...

class AlertRule(_message.Message):
    __slots__ = ("name", "kind", "threshold", "min_count", "window_s", "for_s", "clear", "cooldown_s", "severity", "emotion", "measure")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MIN_COUNT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_S_FIELD_NUMBER: _ClassVar[int]
    FOR_S_FIELD_NUMBER: _ClassVar[int]
    CLEAR_FIELD_NUMBER: _ClassVar[int]
    COOLDOWN_S_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    EMOTION_FIELD_NUMBER: _ClassVar[int]
    MEASURE_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: AlertKind
    threshold: float
    min_count: int
    window_s: float
    for_s: float
    clear: float
    cooldown_s: float
    severity: Severity
    emotion: str
    measure: str
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[AlertKind, str]] = ..., threshold: _Optional[float] = ..., min_count: _Optional[int] = ..., window_s: _Optional[float] = ..., for_s: _Optional[float] = ..., clear: _Optional[float] = ..., cooldown_s: _Optional[float] = ..., severity: _Optional[_Union[Severity, str]] = ..., emotion: _Optional[str] = ..., measure: _Optional[str] = ...) -> None: ...

class Alert(_message.Message):
    __slots__ = ("id", "stream_id", "rule", "media_s", "fired_at", "window", "value", "baseline", "utterances", "quotes", "message", "stream_name")
    ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    MEDIA_S_FIELD_NUMBER: _ClassVar[int]
    FIRED_AT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    UTTERANCES_FIELD_NUMBER: _ClassVar[int]
    QUOTES_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STREAM_NAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    stream_id: str
    rule: AlertRule
    media_s: float
    fired_at: float
    window: PulseWindow
    value: float
    baseline: float
    utterances: _containers.RepeatedScalarFieldContainer[int]
    quotes: _containers.RepeatedScalarFieldContainer[str]
    message: str
    stream_name: str
    def __init__(self, id: _Optional[str] = ..., stream_id: _Optional[str] = ..., rule: _Optional[_Union[AlertRule, _Mapping]] = ..., media_s: _Optional[float] = ..., fired_at: _Optional[float] = ..., window: _Optional[_Union[PulseWindow, _Mapping]] = ..., value: _Optional[float] = ..., baseline: _Optional[float] = ..., utterances: _Optional[_Iterable[int]] = ..., quotes: _Optional[_Iterable[str]] = ..., message: _Optional[str] = ..., stream_name: _Optional[str] = ...) -> None: ...

class AudienceMessage(_message.Message):
    __slots__ = ("stream_id", "message_id", "author", "text", "time_s", "emotion", "sentiment", "classifier")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TIME_S_FIELD_NUMBER: _ClassVar[int]
    EMOTION_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    CLASSIFIER_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    message_id: str
    author: str
    text: str
    time_s: float
    emotion: _containers.RepeatedScalarFieldContainer[float]
    sentiment: _containers.RepeatedScalarFieldContainer[float]
    classifier: str
    def __init__(self, stream_id: _Optional[str] = ..., message_id: _Optional[str] = ..., author: _Optional[str] = ..., text: _Optional[str] = ..., time_s: _Optional[float] = ..., emotion: _Optional[_Iterable[float]] = ..., sentiment: _Optional[_Iterable[float]] = ..., classifier: _Optional[str] = ...) -> None: ...
