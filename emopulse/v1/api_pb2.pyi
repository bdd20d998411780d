from emopulse.v1 import results_pb2 as _results_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AnalyzeRequest(_message.Message):
    __slots__ = ("media", "language", "request_id")
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    media: str
    language: str
    request_id: str
    def __init__(self, media: _Optional[str] = ..., language: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class UploadChunk(_message.Message):
    __slots__ = ("info", "data")
    INFO_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    info: UploadInfo
    data: bytes
    def __init__(self, info: _Optional[_Union[UploadInfo, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class UploadInfo(_message.Message):
    __slots__ = ("filename", "content_type", "language", "request_id")
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    filename: str
    content_type: str
    language: str
    request_id: str
    def __init__(self, filename: _Optional[str] = ..., content_type: _Optional[str] = ..., language: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("url", "name", "language", "request_id")
    URL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    url: str
    name: str
    language: str
    request_id: str
    def __init__(self, url: _Optional[str] = ..., name: _Optional[str] = ..., language: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("name", "language", "request_id", "format")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    name: str
    language: str
    request_id: str
    format: str
    def __init__(self, name: _Optional[str] = ..., language: _Optional[str] = ..., request_id: _Optional[str] = ..., format: _Optional[str] = ...) -> None: ...

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
