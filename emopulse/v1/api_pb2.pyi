from emopulse.v1 import results_pb2 as _results_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetUsageRequest(_message.Message):
    __slots__ = ("tenant",)
    TENANT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    def __init__(self, tenant: _Optional[str] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("tenant", "month", "media_minutes", "jobs", "streams", "upload_bytes", "running_jobs", "running_streams", "limits", "resets_at")
    class LimitsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    TENANT_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    MEDIA_MINUTES_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    STREAMS_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_BYTES_FIELD_NUMBER: _ClassVar[int]
    RUNNING_JOBS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_STREAMS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    RESETS_AT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    month: str
    media_minutes: float
    jobs: int
    streams: int
    upload_bytes: int
    running_jobs: int
    running_streams: int
    limits: _containers.ScalarMap[str, float]
    resets_at: str
    def __init__(self, tenant: _Optional[str] = ..., month: _Optional[str] = ..., media_minutes: _Optional[float] = ..., jobs: _Optional[int] = ..., streams: _Optional[int] = ..., upload_bytes: _Optional[int] = ..., running_jobs: _Optional[int] = ..., running_streams: _Optional[int] = ..., limits: _Optional[_Mapping[str, float]] = ..., resets_at: _Optional[str] = ...) -> None: ...

class AnalyzeRequest(_message.Message):
    __slots__ = ("media", "language", "request_id", "speakers")
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SPEAKERS_FIELD_NUMBER: _ClassVar[int]
    media: str
    language: str
    request_id: str
    speakers: Speakers
    def __init__(self, media: _Optional[str] = ..., language: _Optional[str] = ..., request_id: _Optional[str] = ..., speakers: _Optional[_Union[Speakers, _Mapping]] = ...) -> None: ...

class Speakers(_message.Message):
    __slots__ = ("min_speakers", "max_speakers")
    MIN_SPEAKERS_FIELD_NUMBER: _ClassVar[int]
    MAX_SPEAKERS_FIELD_NUMBER: _ClassVar[int]
    min_speakers: int
    max_speakers: int
    def __init__(self, min_speakers: _Optional[int] = ..., max_speakers: _Optional[int] = ...) -> None: ...

class UploadChunk(_message.Message):
    __slots__ = ("info", "data")
    INFO_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    info: UploadInfo
    data: bytes
    def __init__(self, info: _Optional[_Union[UploadInfo, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class UploadInfo(_message.Message):
    __slots__ = ("filename", "content_type", "language", "request_id", "speakers")
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SPEAKERS_FIELD_NUMBER: _ClassVar[int]
    filename: str
    content_type: str
    language: str
    request_id: str
    speakers: Speakers
    def __init__(self, filename: _Optional[str] = ..., content_type: _Optional[str] = ..., language: _Optional[str] = ..., request_id: _Optional[str] = ..., speakers: _Optional[_Union[Speakers, _Mapping]] = ...) -> None: ...

class CreateUploadRequest(_message.Message):
    __slots__ = ("filename", "content_type", "size_bytes")
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    filename: str
    content_type: str
    size_bytes: int
    def __init__(self, filename: _Optional[str] = ..., content_type: _Optional[str] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class UploadTicket(_message.Message):
    __slots__ = ("reference", "url", "method", "headers", "expires_at")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    reference: str
    url: str
    method: str
    headers: _containers.ScalarMap[str, str]
    expires_at: float
    def __init__(self, reference: _Optional[str] = ..., url: _Optional[str] = ..., method: _Optional[str] = ..., headers: _Optional[_Mapping[str, str]] = ..., expires_at: _Optional[float] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("job_id", "start", "after")
    class Start(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        BEGINNING: _ClassVar[SubscribeRequest.Start]
        NOW: _ClassVar[SubscribeRequest.Start]
        AFTER: _ClassVar[SubscribeRequest.Start]
    BEGINNING: SubscribeRequest.Start
    NOW: SubscribeRequest.Start
    AFTER: SubscribeRequest.Start
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    start: SubscribeRequest.Start
    after: int
    def __init__(self, job_id: _Optional[str] = ..., start: _Optional[_Union[SubscribeRequest.Start, str]] = ..., after: _Optional[int] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("limit", "page_token")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    limit: int
    page_token: str
    def __init__(self, limit: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs", "next_page_token")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[_results_pb2.Job]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[_results_pb2.Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class StartStreamRequest(_message.Message):
    __slots__ = ("url", "name", "language", "request_id", "speakers")
    URL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SPEAKERS_FIELD_NUMBER: _ClassVar[int]
    url: str
    name: str
    language: str
    request_id: str
    speakers: Speakers
    def __init__(self, url: _Optional[str] = ..., name: _Optional[str] = ..., language: _Optional[str] = ..., request_id: _Optional[str] = ..., speakers: _Optional[_Union[Speakers, _Mapping]] = ...) -> None: ...

class PushChunk(_message.Message):
    __slots__ = ("info", "media", "frame")
    INFO_FIELD_NUMBER: _ClassVar[int]
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    info: PushInfo
    media: bytes
    frame: _results_pb2.Frame
    def __init__(self, info: _Optional[_Union[PushInfo, _Mapping]] = ..., media: _Optional[bytes] = ..., frame: _Optional[_Union[_results_pb2.Frame, _Mapping]] = ...) -> None: ...

class PushInfo(_message.Message):
    __slots__ = ("name", "language", "request_id", "format", "speakers")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SPEAKERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    language: str
    request_id: str
    format: str
    speakers: Speakers
    def __init__(self, name: _Optional[str] = ..., language: _Optional[str] = ..., request_id: _Optional[str] = ..., format: _Optional[str] = ..., speakers: _Optional[_Union[Speakers, _Mapping]] = ...) -> None: ...

class StopStreamRequest(_message.Message):
    __slots__ = ("stream_id",)
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    def __init__(self, stream_id: _Optional[str] = ...) -> None: ...

class GetStreamRequest(_message.Message):
    __slots__ = ("stream_id",)
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    def __init__(self, stream_id: _Optional[str] = ...) -> None: ...

class ListStreamsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListStreamsResponse(_message.Message):
    __slots__ = ("streams",)
    STREAMS_FIELD_NUMBER: _ClassVar[int]
    streams: _containers.RepeatedCompositeFieldContainer[_results_pb2.Stream]
    def __init__(self, streams: _Optional[_Iterable[_Union[_results_pb2.Stream, _Mapping]]] = ...) -> None: ...

class Webhook(_message.Message):
    __slots__ = ("url", "secret")
    URL_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    url: str
    secret: str
    def __init__(self, url: _Optional[str] = ..., secret: _Optional[str] = ...) -> None: ...

class AlertRules(_message.Message):
    __slots__ = ("stream_id", "rules", "webhooks", "defaults")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    WEBHOOKS_FIELD_NUMBER: _ClassVar[int]
    DEFAULTS_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    rules: _containers.RepeatedCompositeFieldContainer[_results_pb2.AlertRule]
    webhooks: _containers.RepeatedCompositeFieldContainer[Webhook]
    defaults: bool
    def __init__(self, stream_id: _Optional[str] = ..., rules: _Optional[_Iterable[_Union[_results_pb2.AlertRule, _Mapping]]] = ..., webhooks: _Optional[_Iterable[_Union[Webhook, _Mapping]]] = ..., defaults: _Optional[bool] = ...) -> None: ...

class SetAlertRulesRequest(_message.Message):
    __slots__ = ("stream_id", "rules", "webhooks", "use_defaults")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    WEBHOOKS_FIELD_NUMBER: _ClassVar[int]
    USE_DEFAULTS_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    rules: _containers.RepeatedCompositeFieldContainer[_results_pb2.AlertRule]
    webhooks: _containers.RepeatedCompositeFieldContainer[Webhook]
    use_defaults: bool
    def __init__(self, stream_id: _Optional[str] = ..., rules: _Optional[_Iterable[_Union[_results_pb2.AlertRule, _Mapping]]] = ..., webhooks: _Optional[_Iterable[_Union[Webhook, _Mapping]]] = ..., use_defaults: _Optional[bool] = ...) -> None: ...

class GetAlertRulesRequest(_message.Message):
    __slots__ = ("stream_id",)
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    def __init__(self, stream_id: _Optional[str] = ...) -> None: ...

class SubscribeAlertsRequest(_message.Message):
    __slots__ = ("stream_ids", "kinds", "min_severity")
    STREAM_IDS_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    MIN_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    stream_ids: _containers.RepeatedScalarFieldContainer[str]
    kinds: _containers.RepeatedScalarFieldContainer[_results_pb2.AlertKind]
    min_severity: _results_pb2.Severity
    def __init__(self, stream_ids: _Optional[_Iterable[str]] = ..., kinds: _Optional[_Iterable[_Union[_results_pb2.AlertKind, str]]] = ..., min_severity: _Optional[_Union[_results_pb2.Severity, str]] = ...) -> None: ...

class WebhookDelivery(_message.Message):
    __slots__ = ("alert_id", "url", "attempt", "at", "status", "error", "delivered")
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    url: str
    attempt: int
    at: float
    status: int
    error: str
    delivered: bool
    def __init__(self, alert_id: _Optional[str] = ..., url: _Optional[str] = ..., attempt: _Optional[int] = ..., at: _Optional[float] = ..., status: _Optional[int] = ..., error: _Optional[str] = ..., delivered: _Optional[bool] = ...) -> None: ...

class ListWebhookDeliveriesRequest(_message.Message):
    __slots__ = ("stream_id",)
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    def __init__(self, stream_id: _Optional[str] = ...) -> None: ...

class ListWebhookDeliveriesResponse(_message.Message):
    __slots__ = ("deliveries",)
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    deliveries: _containers.RepeatedCompositeFieldContainer[WebhookDelivery]
    def __init__(self, deliveries: _Optional[_Iterable[_Union[WebhookDelivery, _Mapping]]] = ...) -> None: ...

class PostAudienceResponse(_message.Message):
    __slots__ = ("accepted", "duplicates")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    accepted: int
    duplicates: int
    def __init__(self, accepted: _Optional[int] = ..., duplicates: _Optional[int] = ...) -> None: ...

class Moment(_message.Message):
    __slots__ = ("start_s", "end_s", "sentiment", "negative_share", "quotes")
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_SHARE_FIELD_NUMBER: _ClassVar[int]
    QUOTES_FIELD_NUMBER: _ClassVar[int]
    start_s: float
    end_s: float
    sentiment: float
    negative_share: float
    quotes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., sentiment: _Optional[float] = ..., negative_share: _Optional[float] = ..., quotes: _Optional[_Iterable[str]] = ...) -> None: ...

class EventRecord(_message.Message):
    __slots__ = ("id", "name", "live", "state", "created_at", "ended_at", "duration_s", "utterances", "mean_sentiment", "negative_share", "emotion_distribution", "speaking_ratio", "audience_messages", "audience_per_minute", "audience_sentiment", "reactions", "reaction_expression", "alerts", "most_positive", "most_negative", "tenant")
    class EmotionDistributionEntry(_message.Message):
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
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LIVE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    UTTERANCES_FIELD_NUMBER: _ClassVar[int]
    MEAN_SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_SHARE_FIELD_NUMBER: _ClassVar[int]
    EMOTION_DISTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    SPEAKING_RATIO_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    REACTIONS_FIELD_NUMBER: _ClassVar[int]
    REACTION_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    MOST_POSITIVE_FIELD_NUMBER: _ClassVar[int]
    MOST_NEGATIVE_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    live: bool
    state: _results_pb2.JobState
    created_at: float
    ended_at: float
    duration_s: float
    utterances: int
    mean_sentiment: float
    negative_share: float
    emotion_distribution: _containers.ScalarMap[str, float]
    speaking_ratio: float
    audience_messages: int
    audience_per_minute: float
    audience_sentiment: float
    reactions: int
    reaction_expression: _containers.ScalarMap[str, float]
    alerts: int
    most_positive: Moment
    most_negative: Moment
    tenant: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., live: _Optional[bool] = ..., state: _Optional[_Union[_results_pb2.JobState, str]] = ..., created_at: _Optional[float] = ..., ended_at: _Optional[float] = ..., duration_s: _Optional[float] = ..., utterances: _Optional[int] = ..., mean_sentiment: _Optional[float] = ..., negative_share: _Optional[float] = ..., emotion_distribution: _Optional[_Mapping[str, float]] = ..., speaking_ratio: _Optional[float] = ..., audience_messages: _Optional[int] = ..., audience_per_minute: _Optional[float] = ..., audience_sentiment: _Optional[float] = ..., reactions: _Optional[int] = ..., reaction_expression: _Optional[_Mapping[str, float]] = ..., alerts: _Optional[int] = ..., most_positive: _Optional[_Union[Moment, _Mapping]] = ..., most_negative: _Optional[_Union[Moment, _Mapping]] = ..., tenant: _Optional[str] = ...) -> None: ...

class EventHistory(_message.Message):
    __slots__ = ("event", "timeline", "alerts")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    event: EventRecord
    timeline: _containers.RepeatedCompositeFieldContainer[_results_pb2.Pulse]
    alerts: _containers.RepeatedCompositeFieldContainer[_results_pb2.Alert]
    def __init__(self, event: _Optional[_Union[EventRecord, _Mapping]] = ..., timeline: _Optional[_Iterable[_Union[_results_pb2.Pulse, _Mapping]]] = ..., alerts: _Optional[_Iterable[_Union[_results_pb2.Alert, _Mapping]]] = ...) -> None: ...

class ListEventsRequest(_message.Message):
    __slots__ = ("limit", "name", "live_only")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LIVE_ONLY_FIELD_NUMBER: _ClassVar[int]
    limit: int
    name: str
    live_only: bool
    def __init__(self, limit: _Optional[int] = ..., name: _Optional[str] = ..., live_only: _Optional[bool] = ...) -> None: ...

class ListEventsResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[EventRecord]
    def __init__(self, events: _Optional[_Iterable[_Union[EventRecord, _Mapping]]] = ...) -> None: ...

class CompareEventsRequest(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CompareEventsResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[EventHistory]
    def __init__(self, events: _Optional[_Iterable[_Union[EventHistory, _Mapping]]] = ...) -> None: ...
