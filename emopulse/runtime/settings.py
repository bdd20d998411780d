"""Every setting a service reads, from EMOPULSE_* environment variables, read once at start."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "EMOPULSE_"


class SettingsError(ValueError):
    pass


def _default_data_dir() -> str:
    return str(Path.home() / ".local" / "share" / "emopulse")


@dataclass(frozen=True)
class Settings:
    # Connections
    nats_url: str = ""                      # required by every service
    triton_url: str = ""                    # host:port of Triton's gRPC endpoint; required by model users
    triton_timeout_s: float = 120.0
    # Ports (0 = pick a free one; the embedded stack assigns them)
    grpc_port: int = 50051                  # public API on the gateway, health/reflection on workers
    metrics_port: int = 0                   # Prometheus /metrics; 0 = off
    # Storage
    data_dir: str = field(default_factory=_default_data_dir)
    media_root: str = ""                    # Analyze(path) must resolve under it; empty = Analyze(path) refused
    storage: str = "local"                  # local | s3
    s3_bucket: str = ""
    s3_endpoint_url: str = ""               # e.g. a MinIO or SeaweedFS address; empty = AWS
    s3_region: str = "us-east-1"
    upload_limit_bytes: int = 2 * 1024**3
    s3_cache_limit_bytes: int = 20 * 1024**3  # S3 media cached on a worker's disk; least recently used goes first
    s3_analyze_buckets: str = ""            # Analyze(s3://…) reads only these buckets (comma-separated); empty = S3_BUCKET
                                            # only; "*" = any bucket the credentials reach (unsafe: callers read all of it)
    s3_presign_endpoint_url: str = ""       # the S3 address clients PUT direct uploads to; empty = S3_ENDPOINT_URL (or AWS)
    upload_url_expiry_s: float = 900.0      # a CreateUpload ticket's PUT URL works this long (at most 7 days)
    upload_record_ttl_s: float = 24 * 3600  # an upload:<id> reference can be analysed this long after CreateUpload
    # Accounts (README "Accounts and keys")
    auth: str = "off"                       # on: every API call needs an API key (Bearer); off: anyone who reaches the gateway
    auth_cache_s: float = 2.0               # a key's record is read again after this: a revoked key is refused within it
    bind_host: str = "0.0.0.0"              # where gRPC and metrics listen (the embedded stack: 127.0.0.1)
    tls_cert: str = ""                      # PEM files: with a certificate and its key the gRPC port speaks TLS only
    tls_key: str = ""
    tls_client_ca: str = ""                 # and with this CA, clients must show a certificate it signed (mTLS)
    # Quotas per tenant with auth on (a key may override each: `emopulse keys create --quota NAME=VALUE`); 0 = none
    quota_media_minutes_per_month: float = 600.0
    quota_concurrent_jobs: int = 8
    quota_concurrent_streams: int = 2
    quota_audience_per_minute: int = 600
    quota_requests_per_second: float = 20.0
    quota_burst: int = 40                   # requests a tenant may make at once before the rate applies
    usage_meter_s: float = 30.0             # a live stream's media is counted every this many seconds as it plays
                                            # (and it is stopped once its owner's month is used up)
    # Bus behaviour
    stream_replicas: int = 1                # JetStream replicas of every stream and bucket (3 on a NATS cluster)
    stream_max_age_s: float = 7 * 24 * 3600  # events, job records and fusion state are kept this long
    stream_max_bytes: int = 2 * 1024**3     # per stream (JOBS, UTTERANCES, FEATURES, RESULTS); oldest dropped first
    kv_max_bytes: int = 1024**3             # per KV bucket (jobs, fusion, transcripts)
    ack_wait_s: float = 10.0                # a dead worker's message is redelivered after this (live ones heartbeat)
    max_deliver: int = 5                    # attempts for a message that fails on its input, then "failed"
    outage_budget_s: float = 300.0          # how long work waits for Triton/NATS/storage to come back before failing
    stall_timeout_s: float = 900.0          # a RUNNING job with no progress this long is FAILED by the watchdog
    requeue_after_s: float = 30.0           # a QUEUED job older than this is published again (repairs a lost publish)
    concurrency: int = 4                    # messages one worker process handles at once
    list_page_size: int = 100               # ListJobs page size when the request gives none (max 1000)
    # Shutdown, in this order: gRPC grace < in-flight drain < ack_wait; the chart's
    # terminationGracePeriodSeconds is above grace + drain + the close steps (see README)
    shutdown_grace_s: float = 3.0           # open RPCs get this long to finish
    shutdown_drain_s: float = 8.0           # in-flight messages get this long, then go back to the stream at once
    # Pipeline
    language: str = ""                      # default spoken language; empty = detect
    transcribe_chunk_s: float = 20.0        # speech is sent to Whisper in chunks up to this long
    max_utterance_s: float = 15.0           # longer utterances are split at word boundaries
    vision_fps: float = 2.0                 # frames sampled per second of utterance
    vision_max_frames: int = 8
    face_detector: str = "haar"             # haar (OpenCV cascade, fast) | mtcnn (facenet-pytorch weights, finds smaller/tilted faces, slower)
    diarization: str = "on"                 # on | off: tell speakers apart (voice prints from speaker_embedding on Triton)
    fusion_weights: str = "text=0.6,audio=0.2,vision=0.4"
    fusion_deadline_s: float = 60.0         # fuse what is there this long after the utterance was cut
    # Live streams (ingest)
    endpoint_ms: int = 500                  # end-of-speech silence that ends an utterance
    partial_every_s: float = 1.0            # an interim transcript of the speech in progress this often
    source_timeout_s: float = 5.0           # no packet from a source this long: it is reconnected
    reconnect_budget_s: float = 60.0        # a source that stays away this long FAILS the stream
    reconnect_max_delay_s: float = 8.0      # longest wait between reconnect attempts (jittered backoff)
    lease_ttl_s: float = 6.0                # a dead ingest's streams are taken over after about this
    lag_warning_s: float = 5.0              # analysis this far behind the source: said in the stream, partials paused
    streams_per_ingest: int = 8             # streams one ingest process holds at most
    stream_retention_s: float = 7 * 24 * 3600  # an ended stream's recording is deleted this long after its end
    # Pulse and alerts (live streams)
    pulse_windows_s: str = "10,60,300"      # rolling windows, media seconds
    pulse_every_s: float = 5.0              # a pulse every this many media seconds
    webhook_timeout_s: float = 5.0          # one webhook POST's time limit
    webhook_attempts: int = 6               # attempts per webhook and alert (backoff 1, 2, 4 .. 60 s), then given up
    audience_max_messages: int = 100_000    # audience messages one stream keeps; more get RESOURCE_EXHAUSTED
    audience_max_chars: int = 2000          # longest audience message text
    reaction_every_s: float = 2.0           # while nobody speaks, faces are read every this many media seconds (0: never)
    history_url: str = ""                   # the history database: postgresql://… ; empty = sqlite file <data_dir>/history.db
    history_window_s: float = 60.0          # the window of an event's timeline and peak moments
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        values = {}
        for f in dataclasses.fields(cls):
            raw = env.get(PREFIX + f.name.upper())
            if raw is None:
                continue
            kind = type(f.default) if f.default is not dataclasses.MISSING else str
            try:
                values[f.name] = kind(raw)
            except ValueError:
                raise SettingsError(f"{PREFIX}{f.name.upper()}={raw!r} is not a valid {kind.__name__}") from None
        return cls(**values).check()

    def check(self) -> "Settings":
        """Timeouts that only work in one order are refused in any other."""
        if not self.shutdown_grace_s < self.shutdown_drain_s < self.ack_wait_s:
            raise SettingsError(f"{PREFIX}SHUTDOWN_GRACE_S < {PREFIX}SHUTDOWN_DRAIN_S < {PREFIX}ACK_WAIT_S must hold "
                                f"({self.shutdown_grace_s:g}, {self.shutdown_drain_s:g}, {self.ack_wait_s:g})")
        if not self.outage_budget_s < self.stall_timeout_s:
            raise SettingsError(f"{PREFIX}OUTAGE_BUDGET_S must be below {PREFIX}STALL_TIMEOUT_S, or the watchdog "
                                f"fails jobs that are only waiting for a dependency")
        if self.stream_retention_s > self.stream_max_age_s:
            raise SettingsError(f"{PREFIX}STREAM_RETENTION_S must not exceed {PREFIX}STREAM_MAX_AGE_S: the stream's "
                                "record, which names its recording, is gone after that")
        if bool(self.tls_cert) != bool(self.tls_key) or (self.tls_client_ca and not self.tls_cert):
            raise SettingsError(f"{PREFIX}TLS_CERT and {PREFIX}TLS_KEY go together ({PREFIX}TLS_CLIENT_CA needs both)")
        if not 0 < self.upload_url_expiry_s <= 7 * 24 * 3600 or self.upload_record_ttl_s < self.upload_url_expiry_s:
            raise SettingsError(f"{PREFIX}UPLOAD_URL_EXPIRY_S must be above 0 and at most 7 days (S3's limit), and "
                                f"{PREFIX}UPLOAD_RECORD_TTL_S at least as long: a reference must outlive its URL")
        if self.auth not in ("on", "off"):
            raise SettingsError(f"{PREFIX}AUTH={self.auth!r}: choose on or off")
        if self.diarization not in ("on", "off"):
            raise SettingsError(f"{PREFIX}DIARIZATION={self.diarization!r}: choose on or off")
        if self.face_detector not in ("haar", "mtcnn"):
            raise SettingsError(f"{PREFIX}FACE_DETECTOR={self.face_detector!r} is not a face detector: "
                                "choose haar or mtcnn")
        return self

    @staticmethod
    def env_names() -> list[str]:
        return [PREFIX + f.name.upper() for f in dataclasses.fields(Settings)]

    def require(self, *names: str) -> "Settings":
        for name in names:
            if not getattr(self, name):
                raise SettingsError(f"{PREFIX}{name.upper()} must be set")
        return self

    def pulse_windows(self) -> list[float]:
        """pulse_windows_s as ascending seconds."""
        try:
            windows = sorted({float(w) for w in self.pulse_windows_s.split(",") if w.strip()})
        except ValueError:
            raise SettingsError(f"{PREFIX}PULSE_WINDOWS_S: {self.pulse_windows_s!r} is not seconds, comma-separated") from None
        if not windows or windows[0] <= 0:
            raise SettingsError(f"{PREFIX}PULSE_WINDOWS_S needs at least one window above 0 s")
        return windows

    def weights(self) -> dict[str, float]:
        """fusion_weights as {modality: weight}."""
        out = {}
        for part in self.fusion_weights.split(","):
            name, _, value = part.partition("=")
            try:
                out[name.strip()] = float(value)
            except ValueError:
                raise SettingsError(f"{PREFIX}FUSION_WEIGHTS: {part!r} is not modality=weight") from None
        return out
