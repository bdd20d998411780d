"""Media storage by content hash: a local directory, or S3 (any endpoint: AWS, MinIO, SeaweedFS).

Media is named by URI: file:///abs/path or s3://bucket/key. Workers read it through local_path(),
which for S3 downloads once into a cache keyed by the URI, bounded by s3_cache_limit_bytes.
Utterance audio is stored here too (claim check: the bus carries its URI, not the samples).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from emopulse.runtime.settings import Settings


class MediaNotFound(LookupError):
    pass


class InvalidReference(ValueError):
    pass


def content_name(sha256: str, filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    suffix = suffix if suffix[1:].isalnum() and len(suffix) <= 6 else ""
    return f"{sha256[:2]}/{sha256}{suffix}"


class MediaStore:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.data_dir = Path(settings.data_dir)
        self.cache_dir = self.data_dir / "cache"
        self.tmp_dir = self.data_dir / "tmp"
        for d in (self.cache_dir, self.tmp_dir):
            d.mkdir(parents=True, exist_ok=True)
        self._s3 = None

    # ---- S3 -------------------------------------------------------------------------------
    @property
    def s3(self):
        if self._s3 is None:
            import boto3
            self._s3 = boto3.client("s3", endpoint_url=self.settings.s3_endpoint_url or None,
                                    region_name=self.settings.s3_region)
        return self._s3

    # ---- writing --------------------------------------------------------------------------
    def new_upload(self) -> "Upload":
        return Upload(self)

    def put(self, path: Path, sha256: str, filename: str) -> str:
        """Store a finished upload under its hash; returns its URI. The temp file is consumed."""
        name = content_name(sha256, filename)
        if self.settings.storage == "s3":
            self.s3.upload_file(str(path), self.settings.s3_bucket, f"media/{name}")
            path.unlink(missing_ok=True)
            return f"s3://{self.settings.s3_bucket}/media/{name}"
        target = self.data_dir / "media" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        return target.as_uri()

    def put_object(self, name: str, data: bytes) -> str:
        """Store bytes under a name (local directory or S3); returns the URI events carry."""
        if self.settings.storage == "s3":
            self.s3.put_object(Bucket=self.settings.s3_bucket, Key=name, Body=data)
            return f"s3://{self.settings.s3_bucket}/{name}"
        target = self.data_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        return target.as_uri()

    def put_file(self, name: str, path: Path) -> str:
        """Store a local file under a name (it is moved, or uploaded and removed); returns its URI."""
        if self.settings.storage == "s3":
            self.s3.upload_file(str(path), self.settings.s3_bucket, name)
            Path(path).unlink(missing_ok=True)
            return f"s3://{self.settings.s3_bucket}/{name}"
        target = self.data_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), target)
        return target.as_uri()

    def list_names(self, prefix: str) -> list[str]:
        """The names stored under a prefix ending in "/", sorted."""
        if self.settings.storage == "s3":
            paginator = self.s3.get_paginator("list_objects_v2")
            return sorted(o["Key"] for page in paginator.paginate(Bucket=self.settings.s3_bucket, Prefix=prefix)
                          for o in page.get("Contents", []))
        root = self.data_dir / prefix
        return sorted(str(p.relative_to(self.data_dir)) for p in root.rglob("*") if p.is_file()) if root.is_dir() else []

    def read_object(self, uri: str) -> bytes:
        parsed = urlparse(uri)
        if parsed.scheme == "s3":
            return self.s3.get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))["Body"].read()
        if parsed.scheme == "file":
            return Path(unquote(parsed.path)).read_bytes()
        raise InvalidReference(f"unsupported object URI {uri!r}")

    def delete_prefix(self, prefix: str) -> None:
        """Remove every object under a name prefix ending in "/" (idempotent)."""
        if self.settings.storage == "s3":
            paginator = self.s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.settings.s3_bucket, Prefix=prefix):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    self.s3.delete_objects(Bucket=self.settings.s3_bucket, Delete={"Objects": keys})
            return
        shutil.rmtree(self.data_dir / prefix, ignore_errors=True)

    def uri_of(self, name: str) -> str:
        if self.settings.storage == "s3":
            return f"s3://{self.settings.s3_bucket}/{name}"
        return (self.data_dir / name).as_uri()

    # Utterance audio (scratch: removed when its job ends).
    def put_span(self, job_id: str, index: int, pcm16: bytes) -> str:
        return self.put_object(f"spans/{job_id}/{index}.pcm16", pcm16)

    def delete_spans(self, job_id: str) -> None:
        self.delete_prefix(f"spans/{job_id}/")

    # A live stream's recording: its pictures and audio segments, kept stream_retention_s.
    @staticmethod
    def recording(stream_id: str) -> str:
        return f"streams/{stream_id}/"

    # ---- references -----------------------------------------------------------------------
    def resolve_reference(self, ref: str) -> str:
        """A user's media reference -> URI. Paths must stay under the media root."""
        if ref.startswith("s3://"):
            bucket, _, key = ref[5:].partition("/")
            if not bucket or not key:
                raise InvalidReference(f"{ref!r} is not s3://bucket/key")
            try:
                self.s3.head_object(Bucket=bucket, Key=key)
            except Exception as exc:
                raise MediaNotFound(f"{ref} cannot be read: {exc}") from None
            return ref
        if "://" in ref:
            raise InvalidReference(f"unsupported scheme in {ref!r}: give a path under the media root or s3://bucket/key")
        if not self.settings.media_root:
            raise InvalidReference("this gateway has no media root (EMOPULSE_MEDIA_ROOT): upload the file instead")
        root = Path(self.settings.media_root).resolve()
        path = (root / ref).resolve()
        if not path.is_relative_to(root):
            raise InvalidReference(f"{ref!r} is outside the media root")
        if not path.is_file():
            raise MediaNotFound(f"{ref!r} does not exist under the media root")
        return path.as_uri()

    # ---- reading --------------------------------------------------------------------------
    def local_path(self, uri: str) -> Path:
        parsed = urlparse(uri)
        if parsed.scheme == "file":
            return Path(unquote(parsed.path))
        if parsed.scheme == "s3":
            target = self.cache_dir / hashlib.sha256(uri.encode()).hexdigest()
            if target.exists():
                os.utime(target)  # recently used: evicted last
                return target
            fd, tmp = tempfile.mkstemp(dir=self.tmp_dir)
            os.close(fd)
            try:
                self.s3.download_file(parsed.netloc, parsed.path.lstrip("/"), tmp)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            os.replace(tmp, target)
            self._trim_cache(keep=target)
            return target
        raise InvalidReference(f"unsupported media URI {uri!r}")


    def _trim_cache(self, keep: Path) -> None:
        """Drop the least recently used cached media until the cache fits its limit (never `keep`)."""
        files = sorted((f.stat().st_mtime, f) for f in self.cache_dir.iterdir() if f.is_file())
        total = sum(f.stat().st_size for _, f in files)
        for _, f in files:
            if total <= self.settings.s3_cache_limit_bytes:
                break
            if f != keep:
                total -= f.stat().st_size
                f.unlink(missing_ok=True)


class UploadTooLarge(Exception):
    pass


class Upload:
    """A file being received: written to a temp file and hashed as it arrives."""

    def __init__(self, store: MediaStore):
        self.store = store
        fd, name = tempfile.mkstemp(dir=store.tmp_dir)
        self.file = os.fdopen(fd, "wb")
        self.path = Path(name)
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.store.settings.upload_limit_bytes:
            raise UploadTooLarge(f"upload is larger than the limit of {self.store.settings.upload_limit_bytes} bytes")
        self.hash.update(data)
        self.file.write(data)

    def finish(self, filename: str) -> tuple[str, str]:
        self.file.close()
        sha = self.hash.hexdigest()
        return self.store.put(self.path, sha, filename), sha

    def discard(self) -> None:
        self.file.close()
        self.path.unlink(missing_ok=True)

