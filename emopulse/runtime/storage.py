"""Media storage by content hash: a local directory, or S3 (any endpoint: AWS, MinIO, SeaweedFS).

Media is named by URI: file:///abs/path or s3://bucket/key. Workers read it through local_path(),
which for S3 downloads once into a cache keyed by the URI, bounded by s3_cache_limit_bytes.
Utterance audio is stored here too (claim check: the bus carries its URI, not the samples).

What S3 answers is turned into a few plain errors (MediaNotFound, StorageRefused, StorageUnavailable)
whose messages name the object and the cause; botocore's own text goes to the log, never to a caller.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from emopulse.quoting import quoted
from emopulse.runtime.settings import Settings


class MediaNotFound(LookupError):
    pass


class InvalidReference(ValueError):
    pass


class StorageRefused(PermissionError):
    """S3 answered, and would not let EmoPulse read or write (credentials, a bucket policy, a region)."""


class StorageUnavailable(ConnectionError):
    """S3 could not be reached (or answered that it is unavailable): try again later."""


# Names the store writes in its own bucket: reachable through Upload, upload:<id> and stream:<id>, and
# not as s3:// references by a tenant (another tenant's files live there too).
INTERNAL_PREFIXES = ("media/", "spans/", "streams/", "uploads/")
UPLOADS_PREFIX = "uploads/"
MAX_PRESIGN_S = 7 * 24 * 3600  # the longest a SigV4 presigned URL may live

_log = logging.getLogger("storage")


def safe_filename(filename: str, keep: int = 100) -> str:
    """A client's file name as the last part of an object key: letters, digits, ".", "-" and "_"
    only, no leading dot, at most `keep` characters (the suffix kept), never empty."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", filename.replace("\\", "/").rsplit("/", 1)[-1]).lstrip(".")
    if len(name) > keep:
        stem, dot, suffix = name.rpartition(".")
        name = (stem[: keep - len(suffix) - 1] + "." + suffix) if dot and 0 < len(suffix) <= 10 else name[:keep]
    return name or "upload"


def s3_error(exc: Exception, bucket: str, key: str = "") -> Exception:
    """What a botocore error means for s3://bucket/key, as one of this module's errors with a clear
    message (botocore's own text, which may name endpoints and request ids, is logged instead).
    Errors it does not know are returned as they are."""
    uri = quoted(f"s3://{bucket}/{key}" if key else f"s3://{bucket}")
    error = _s3_error(exc, bucket, uri)
    if not isinstance(error, MediaNotFound):
        _log.warning("S3 error on %s: %s", uri, exc)
    return error


def _s3_error(exc: Exception, bucket: str, uri: str) -> Exception:
    from botocore.exceptions import (ClientError, ConnectionError as BotoConnectionError, HTTPClientError,
                                     NoCredentialsError, PartialCredentialsError)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code == "NoSuchBucket":
            return MediaNotFound(f"no bucket {quoted(bucket)} in the S3 storage")
        if code in ("NoSuchKey", "404", "NotFound") or status == 404:
            return MediaNotFound(f"no object at {uri}")
        if code in ("AccessDenied", "403", "Forbidden", "AllAccessDisabled") or status == 403:
            return StorageRefused(f"EmoPulse may not read {uri}: the S3 storage refused its credentials "
                                  f"({code or 'HTTP 403'}). They need s3:GetObject there (without s3:ListBucket, "
                                  "a missing object is refused this way too)")
        if status >= 500 or code in ("SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"):
            return StorageUnavailable(f"the S3 storage is unavailable ({code or f'HTTP {status}'}): try again later")
        return StorageRefused(f"{uri} cannot be read: the S3 storage answered {code or 'an error'}"
                              f"{f' (HTTP {status})' if status else ''}")
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return StorageRefused("EmoPulse has no usable S3 credentials (the AWS_* variables or a role)")
    if isinstance(exc, (BotoConnectionError, HTTPClientError)):
        return StorageUnavailable("the S3 storage could not be reached: try again later")
    return exc


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
        self._presigner = None

    # ---- S3 -------------------------------------------------------------------------------
    @property
    def s3(self):
        if self._s3 is None:
            import boto3
            self._s3 = boto3.client("s3", endpoint_url=self.settings.s3_endpoint_url or None,
                                    region_name=self.settings.s3_region)
        return self._s3

    @property
    def presigner(self):
        """A client that only signs URLs (no request leaves the process): SigV4, so a URL's
        Content-Type and Content-Length are signed too, for the endpoint clients can reach."""
        if self._presigner is None:
            import boto3
            from botocore.config import Config
            s = self.settings
            endpoint = (s.s3_presign_endpoint_url or s.s3_endpoint_url
                        or f"https://s3.{s.s3_region}.amazonaws.com")  # regional: no redirect for a new bucket
            self._presigner = boto3.client("s3", endpoint_url=endpoint, region_name=s.s3_region,
                                           config=Config(signature_version="s3v4"))
        return self._presigner

    def analyze_buckets(self) -> set[str] | None:
        """The buckets Analyze(s3://...) may read; None: any (S3_ANALYZE_BUCKETS="*")."""
        names = {b.strip() for b in self.settings.s3_analyze_buckets.split(",") if b.strip()}
        if "*" in names:
            return None
        return names or ({self.settings.s3_bucket} if self.settings.s3_bucket else set())

    def is_internal(self, bucket: str, key: str) -> bool:
        """Whether s3://bucket/key is among what the store itself writes (its bucket, its prefixes)."""
        return (self.settings.storage == "s3" and bucket == self.settings.s3_bucket
                and key.lstrip("/").startswith(INTERNAL_PREFIXES))

    # ---- direct uploads (S3 only) ---------------------------------------------------------
    @staticmethod
    def upload_key(upload_id: str, filename: str) -> str:
        return f"{UPLOADS_PREFIX}{upload_id}/{safe_filename(filename)}"

    def presigned_put(self, key: str, expires_s: float, content_type: str = "",
                      size_bytes: int = 0) -> tuple[str, dict[str, str]]:
        """A URL anyone holding it may PUT one object to (in the store's bucket) until it expires,
        and the headers that PUT must carry: those given here are signed, so S3 refuses others."""
        params = {"Bucket": self.settings.s3_bucket, "Key": key}
        headers = {}
        if content_type:
            params["ContentType"] = headers["Content-Type"] = content_type
        if size_bytes:
            params["ContentLength"] = size_bytes
            headers["Content-Length"] = str(size_bytes)
        try:
            url = self.presigner.generate_presigned_url(
                "put_object", Params=params, ExpiresIn=int(min(max(expires_s, 1), MAX_PRESIGN_S)), HttpMethod="PUT")
        except Exception as exc:
            raise s3_error(exc, self.settings.s3_bucket, key) from None
        return url, headers

    def object_size(self, bucket: str, key: str) -> int | None:
        """The size of s3://bucket/key, or None when there is no such object (its bucket exists)."""
        try:
            return int(self.s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
        except Exception as exc:
            error = s3_error(exc, bucket, key)
        if isinstance(error, MediaNotFound):
            missing = self._missing(bucket, key, error)
            if missing is error:  # the bucket is there: the object is not
                return None
            error = missing
        raise error

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
        raise InvalidReference(f"unsupported object URI {quoted(uri)}")

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
    def resolve_reference(self, ref: str, internal_ok: bool = True) -> str:
        """A user's media reference -> URI. Paths must stay under the media root; s3:// objects must
        be in a bucket S3_ANALYZE_BUCKETS allows, and, unless `internal_ok`, outside what the store
        itself writes there (a tenant reads its uploads by upload:<id>, not by another's key)."""
        if ref.startswith("s3://"):
            bucket, _, key = ref[5:].partition("/")
            if not bucket or not key:
                raise InvalidReference(f"{quoted(ref)} is not s3://bucket/key")
            allowed = self.analyze_buckets()
            # INVALID_ARGUMENT (not PERMISSION_DENIED), as for a path outside the media root: the list
            # is this deployment's, the same for every caller; no other key would be let in.
            if allowed is not None and bucket not in allowed:
                raise InvalidReference(f"EmoPulse does not read bucket {quoted(bucket)}: Analyze reads s3:// media "
                                       "only in the buckets its operator allows (EMOPULSE_S3_ANALYZE_BUCKETS); "
                                       "upload the file instead")
            if not internal_ok and self.is_internal(bucket, key):
                raise InvalidReference(f"{quoted(ref)} is in EmoPulse's own storage: analyse a direct upload by "
                                       "its upload:<id> reference, an ended stream by stream:<id>")
            try:
                self.s3.head_object(Bucket=bucket, Key=key)
            except Exception as exc:
                error = s3_error(exc, bucket, key)
                if isinstance(error, MediaNotFound):  # a missing object, or its whole bucket?
                    error = self._missing(bucket, key, error)
                raise error from None
            return ref
        if "://" in ref:
            raise InvalidReference(f"unsupported scheme in {quoted(ref)}: give a path under the media root or s3://bucket/key")
        if not self.settings.media_root:
            raise InvalidReference("this gateway has no media root (EMOPULSE_MEDIA_ROOT): upload the file instead")
        root = Path(self.settings.media_root).resolve()
        try:
            path = (root / ref).resolve()
            inside, found = path.is_relative_to(root), path.is_file()
        except (OSError, ValueError):  # a NUL byte, a name too long for the file system
            raise InvalidReference(f"{quoted(ref)} is not a usable path") from None
        if not inside:
            raise InvalidReference(f"{quoted(ref)} is outside the media root")
        if not found:
            raise MediaNotFound(f"{quoted(ref)} does not exist under the media root")
        return path.as_uri()

    def _missing(self, bucket: str, key: str, error: Exception) -> Exception:
        """A HEAD answers 404 with no body for a missing key and a missing bucket alike: ask the bucket."""
        try:
            self.s3.head_bucket(Bucket=bucket)
        except Exception as exc:
            bucket_error = s3_error(exc, bucket)
            if isinstance(bucket_error, MediaNotFound):
                return MediaNotFound(f"no bucket {quoted(bucket)} in the S3 storage")
        return error

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
        raise InvalidReference(f"unsupported media URI {quoted(uri)}")


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

