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
    # Bus behaviour
    stream_replicas: int = 1                # JetStream replicas of every stream and bucket (3 on a NATS cluster)
    ack_wait_s: float = 60.0                # a worker that dies mid-message gets it redelivered after this
    max_deliver: int = 5                    # bounded redelivery, then the message's outcome is "failed"
    concurrency: int = 4                    # messages one worker process handles at once
    # Pipeline
    language: str = ""                      # default spoken language; empty = detect
    transcribe_chunk_s: float = 20.0        # speech is sent to Whisper in chunks up to this long
    max_utterance_s: float = 15.0           # longer utterances are split at word boundaries
    vision_fps: float = 2.0                 # frames sampled per second of utterance
    vision_max_frames: int = 8
    fusion_weights: str = "text=0.6,audio=0.2,vision=0.4"
    fusion_deadline_s: float = 60.0         # fuse what is there this long after the utterance was cut
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
        return cls(**values)

    @staticmethod
    def env_names() -> list[str]:
        return [PREFIX + f.name.upper() for f in dataclasses.fields(Settings)]

    def require(self, *names: str) -> "Settings":
        for name in names:
            if not getattr(self, name):
                raise SettingsError(f"{PREFIX}{name.upper()} must be set")
        return self

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
