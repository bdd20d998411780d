"""Media storage against a real S3 server process (moto_server) and the local directory."""
from __future__ import annotations

import hashlib

import pytest

from emopulse.runtime.settings import Settings
from emopulse.runtime.storage import InvalidReference, MediaNotFound, MediaStore, UploadTooLarge


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
