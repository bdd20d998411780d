"""Media storage against a real S3 server process (moto_server) and the local directory."""
from __future__ import annotations

import hashlib

import pytest

from emopulse.runtime.settings import Settings
from emopulse.runtime.storage import (InvalidReference, MediaNotFound, MediaStore, StorageRefused, StorageUnavailable,
                                      UploadTooLarge, s3_error, safe_filename)


def store_with(tmp_path, **kw) -> MediaStore:
    return MediaStore(Settings(data_dir=str(tmp_path / "data"), **kw))


def upload(store: MediaStore, data: bytes, name="clip.mp4"):
    u = store.new_upload()
    u.write(data)
    return u.finish(name)


def test_s3_upload_is_stored_under_its_hash_and_read_back(tmp_path, s3_server):
    store = store_with(tmp_path, storage="s3", s3_bucket="media", s3_endpoint_url=s3_server)
    data = b"some media bytes" * 1000
    uri, sha = upload(store, data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert uri == f"s3://media/media/{sha[:2]}/{sha}.mp4"
    assert store.local_path(uri).read_bytes() == data
    # a fresh store (another worker) downloads it from S3, not from the first one's disk
    assert store_with(tmp_path / "other", storage="s3", s3_endpoint_url=s3_server).local_path(uri).read_bytes() == data
    assert store.resolve_reference(uri) == uri
    with pytest.raises(MediaNotFound):
        store.resolve_reference("s3://media/absent.mp4")


def test_local_upload_limit_and_references(tmp_path):
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a" / "x.mp4").write_bytes(b"x")
    store = store_with(tmp_path, media_root=str(root), upload_limit_bytes=10)
    uri, sha = upload(store, b"0123456789")
    assert store.local_path(uri).read_bytes() == b"0123456789" and sha in uri
    with pytest.raises(UploadTooLarge):
        upload(store, b"01234567890")
    assert store.resolve_reference("a/x.mp4") == (root / "a" / "x.mp4").resolve().as_uri()
    for bad in ("../x.mp4", "/etc/passwd", "a/../../x.mp4", "ftp://host/x.mp4"):
        with pytest.raises(InvalidReference):
            store.resolve_reference(bad)
    with pytest.raises(MediaNotFound):
        store.resolve_reference("a/missing.mp4")


def test_symlink_escaping_the_root_is_refused(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.mp4").write_bytes(b"s")
    (root / "link.mp4").symlink_to(tmp_path / "secret.mp4")
    with pytest.raises(InvalidReference):
        store_with(tmp_path, media_root=str(root)).resolve_reference("link.mp4")


def test_s3_cache_keeps_to_its_limit_least_recently_used_first(tmp_path, s3_server):
    store = store_with(tmp_path, storage="s3", s3_bucket="media", s3_endpoint_url=s3_server,
                       s3_cache_limit_bytes=2500)
    uris = [upload(store, bytes([i]) * 1000, f"clip{i}.mp4")[0] for i in range(4)]
    first = store.local_path(uris[0])
    store.local_path(uris[1])
    store.local_path(uris[0])  # used again: now the most recent but one
    store.local_path(uris[2])  # over the limit: the least recently used (uris[1]) goes
    cached = sorted(p.stat().st_size for p in store.cache_dir.iterdir())
    assert sum(cached) <= 2500 and first.exists()
    assert store.local_path(uris[1]).read_bytes() == bytes([1]) * 1000  # evicted media is fetched again


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_utterance_audio_by_reference(tmp_path, s3_server, kind):
    store = store_with(tmp_path, storage=kind, s3_bucket="media", s3_endpoint_url=s3_server)
    uri = store.put_span("job1", 3, b"\x01\x02" * 100)
    assert store.read_object(uri) == b"\x01\x02" * 100
    store.delete_spans("job1")
    with pytest.raises(Exception):
        store.read_object(uri)


# ---- S3 errors as plain messages, the Analyze allow-list, direct uploads ---------------------------

def s3_store(tmp_path, endpoint, **kw) -> MediaStore:
    return store_with(tmp_path, storage="s3", s3_bucket="media", s3_endpoint_url=endpoint, **kw)


def raw_botocore(message: str) -> bool:
    """Whether botocore's own text leaked into a message."""
    return any(s in message for s in ("An error occurred", "HeadObject", "operation", "Could not connect"))


def test_missing_objects_and_buckets_are_named_plainly(tmp_path, s3_server):
    store = s3_store(tmp_path, s3_server, s3_analyze_buckets="media,gone-bucket")
    with pytest.raises(MediaNotFound) as missing:
        store.resolve_reference("s3://media/absent.mp4")
    assert str(missing.value) == "no object at 's3://media/absent.mp4'"
    with pytest.raises(MediaNotFound) as no_bucket:
        store.resolve_reference("s3://gone-bucket/x.mp4")
    assert str(no_bucket.value) == "no bucket 'gone-bucket' in the S3 storage"
    assert store.object_size("media", "absent.mp4") is None  # nothing there (yet)
    with pytest.raises(MediaNotFound, match="no bucket"):
        store.object_size("gone-bucket", "x.mp4")


@pytest.fixture(scope="module")
def s3_with_iam():
    """A second moto_server that checks credentials: (endpoint, key id, secret) of a user with no
    policy at all, and a bucket "media" holding "in/talk.mp4"."""
    import boto3
    from tests.stack_fixtures import moto_server
    # The first four calls (bucket, object, user, key) are made before credentials are checked.
    with moto_server({"INITIAL_NO_AUTH_ACTION_COUNT": "4", "AWS_ACCESS_KEY_ID": "test",
                      "AWS_SECRET_ACCESS_KEY": "test"}) as endpoint:
        admin = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                     aws_secret_access_key="test")
        s3 = boto3.client("s3", **admin)
        s3.create_bucket(Bucket="media")
        s3.put_object(Bucket="media", Key="in/talk.mp4", Body=b"media")
        iam = boto3.client("iam", **admin)
        iam.create_user(UserName="nobody")
        key = iam.create_access_key(UserName="nobody")["AccessKey"]
        yield endpoint, key["AccessKeyId"], key["SecretAccessKey"]


def test_access_denied_says_emopulse_may_not_read_it(tmp_path, s3_with_iam, monkeypatch):
    endpoint, key_id, secret = s3_with_iam
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    store = s3_store(tmp_path, endpoint)
    with pytest.raises(StorageRefused) as refused:
        store.resolve_reference("s3://media/in/talk.mp4")  # the object is there; this user may not read it
    message = str(refused.value)
    assert message.startswith("EmoPulse may not read 's3://media/in/talk.mp4'") and "s3:GetObject" in message
    assert not raw_botocore(message)
    # unknown credentials are refused the same way (403), not reported as a missing object
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWN000000000")
    with pytest.raises(StorageRefused):
        s3_store(tmp_path / "other", endpoint).resolve_reference("s3://media/in/talk.mp4")


def test_an_unreachable_endpoint_is_unavailable_not_missing(tmp_path):
    from emopulse.stack import free_port
    store = s3_store(tmp_path, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    for call in (lambda: store.resolve_reference("s3://media/in/talk.mp4"), lambda: store.object_size("media", "k")):
        with pytest.raises(StorageUnavailable) as down:
            call()
        assert str(down.value) == "the S3 storage could not be reached: try again later"


@pytest.mark.parametrize("code, status, kind, words", [
    ("NoSuchKey", 404, MediaNotFound, "no object at 's3://b/k'"),
    ("NoSuchBucket", 404, MediaNotFound, "no bucket 'b'"),
    ("AccessDenied", 403, StorageRefused, "EmoPulse may not read 's3://b/k'"),
    ("SlowDown", 503, StorageUnavailable, "the S3 storage is unavailable (SlowDown)"),
    ("InternalError", 500, StorageUnavailable, "the S3 storage is unavailable"),
    ("PermanentRedirect", 301, StorageRefused, "the S3 storage answered PermanentRedirect (HTTP 301)"),
])
def test_storage_answers_map_to_plain_errors(code, status, kind, words):
    from botocore.exceptions import ClientError
    raw = ClientError({"Error": {"Code": code, "Message": "secret-endpoint.internal said no"},
                       "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject")
    error = s3_error(raw, "b", "k")
    assert type(error) is kind and words in str(error) and "secret-endpoint" not in str(error)


def test_analyze_reads_only_the_allowed_buckets(tmp_path, s3_server):
    import boto3
    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    s3.put_object(Bucket="media", Key="in/a.mp4", Body=b"a")
    s3.create_bucket(Bucket="elsewhere")
    s3.put_object(Bucket="elsewhere", Key="in/b.mp4", Body=b"b")
    own = s3_store(tmp_path, s3_server)  # S3_ANALYZE_BUCKETS empty: the store's own bucket only
    assert own.resolve_reference("s3://media/in/a.mp4") == "s3://media/in/a.mp4"
    for ref in ("s3://elsewhere/in/b.mp4", "s3://" + "x" * 5000 + "/k"):
        with pytest.raises(InvalidReference) as outside:
            own.resolve_reference(ref)
        assert "EMOPULSE_S3_ANALYZE_BUCKETS" in str(outside.value) and len(str(outside.value)) < 300
    local = store_with(tmp_path / "local", s3_endpoint_url=s3_server)  # no bucket of its own: none allowed
    with pytest.raises(InvalidReference):
        local.resolve_reference("s3://media/in/a.mp4")
    listed = store_with(tmp_path / "listed", s3_endpoint_url=s3_server, s3_analyze_buckets=" elsewhere , other")
    assert listed.resolve_reference("s3://elsewhere/in/b.mp4") == "s3://elsewhere/in/b.mp4"
    with pytest.raises(InvalidReference):
        listed.resolve_reference("s3://media/in/a.mp4")
    anywhere = store_with(tmp_path / "any", s3_endpoint_url=s3_server, s3_analyze_buckets="*")
    assert anywhere.resolve_reference("s3://elsewhere/in/b.mp4") == "s3://elsewhere/in/b.mp4"
    # what the store writes in its own bucket (other tenants' files) is for admins only, by s3://
    for ref in ("s3://media/uploads/x/a.mp4", "s3://media/media/ab/abc.mp4", "s3://media/streams/s/recording.mkv"):
        with pytest.raises(InvalidReference, match="EmoPulse's own storage"):
            own.resolve_reference(ref, internal_ok=False)
    assert own.resolve_reference("s3://media/in/a.mp4", internal_ok=False) == "s3://media/in/a.mp4"


def test_presigned_put_uploads_one_object_with_its_signed_headers(tmp_path, s3_server):
    import urllib.request
    from urllib.parse import parse_qs, urlparse
    store = s3_store(tmp_path, s3_server)
    key = store.upload_key("0123abcd" * 4, "../My talk (final).MP4")
    assert key == "uploads/0123abcd0123abcd0123abcd0123abcd/My_talk_final_.MP4"
    assert store.object_size("media", key) is None
    data = b"\x00media bytes" * 100
    url, headers = store.presigned_put(key, 60, "video/mp4", len(data))
    assert headers == {"Content-Type": "video/mp4", "Content-Length": str(len(data))}
    query = parse_qs(urlparse(url).query)
    assert url.startswith(s3_server + "/media/uploads/") and query["X-Amz-Expires"] == ["60"]
    assert set(query["X-Amz-SignedHeaders"][0].split(";")) == {"content-length", "content-type", "host"}
    request = urllib.request.Request(url, data=data, method="PUT", headers=headers)
    assert urllib.request.urlopen(request, timeout=10).status == 200
    assert store.object_size("media", key) == len(data)
    assert store.local_path(f"s3://media/{key}").read_bytes() == data  # what a worker reads
    # clients may be sent to another address than the one the services use
    public = s3_store(tmp_path / "p", s3_server, s3_presign_endpoint_url="https://s3.example.com")
    assert public.presigned_put(key, 60)[0].startswith("https://s3.example.com/media/uploads/")


@pytest.mark.parametrize("given, stored", [
    ("talk.mp4", "talk.mp4"), ("C:\\Users\\me\\talk.mov", "talk.mov"), ("", "upload"), ("..", "upload"),
    (".hidden.mp4", "hidden.mp4"), ("a b/c d.webm", "c_d.webm"), ("x" * 300 + ".mkv", "x" * 96 + ".mkv"),
    ("дом.mp4", "_.mp4"),
])
def test_safe_filename(given, stored):
    assert safe_filename(given) == stored
