import cv2
import numpy as np
import pytest

from emopulse.processing.media import MediaError
from emopulse.processing.vision import (
    aggregate_expressions,
    detect_faces,
    face_crop,
    read_frames,
    sample_times,
)
from tests import media


# ---------------------------------------------------------------- sample_times


@pytest.mark.parametrize(
    "start,end,fps,max_frames",
    [(0, 10, 10, 8), (2.5, 3.0, 10, 8), (1, 1.05, 10, 8), (0, 100, 25, 16), (3, 4, 2, 16), (0, 5, 0, 4)],
)
def test_sample_times_properties(start, end, fps, max_frames):
    ts = sample_times(start, end, fps, max_frames)
    assert 1 <= len(ts) <= max_frames
    if fps:
        assert len(ts) <= max(1, int((end - start) * fps))
    assert all(start < t < end for t in ts)
    assert ts == sorted(ts) and len(set(ts)) == len(ts)
    steps = np.diff([start, *ts, end])
    # evenly spread: equal steps inside, half steps at both ends (centred)
    if len(ts) > 1:
        assert np.allclose(steps[1:-1], steps[1])
    assert steps[0] == pytest.approx(steps[-1])


def test_sample_times_short_span_is_centred():
    assert sample_times(2.0, 2.04, 10, 8) == [pytest.approx(2.02)]


def test_sample_times_empty_and_invalid():
    assert sample_times(3, 3, 10, 8) == []
    assert sample_times(4, 3, 10, 8) == []
    with pytest.raises(ValueError):
        sample_times(0, 1, 10, 0)


# ---------------------------------------------------------------- faces


@pytest.fixture(scope="module")
def astronaut_gray():
    return cv2.cvtColor(media.face_frame(), cv2.COLOR_RGB2GRAY)


def test_detect_one_face_in_astronaut(astronaut_gray):
    faces = detect_faces(astronaut_gray, min_size=40)
    assert len(faces) == 1
    x, y, w, h = faces[0]
    # the crop places her face in the middle of the frame
    cx, cy = x + w / 2, y + h / 2
    assert 120 < cx < 200 and 60 < cy < 140 and w > 60


def test_detect_face_in_full_photo_bgr():
    import skimage.data

    bgr = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    faces = detect_faces(bgr, min_size=40)  # colour input accepted
    assert len(faces) == 1


@pytest.mark.parametrize("seed", range(3))
def test_no_face_in_noise(seed):
    noise = np.random.default_rng(seed).integers(0, 256, (240, 320), dtype=np.uint8)
    assert detect_faces(noise, min_size=40) == []


def test_no_face_in_grey():
    assert detect_faces(np.full((240, 320), 128, np.uint8), min_size=40) == []
    assert detect_faces(np.zeros((0, 0), np.uint8)) == []


def test_face_crop_shape_and_range(astronaut_gray):
    box = detect_faces(astronaut_gray)[0]
    crop = face_crop(astronaut_gray, box)
    assert crop.shape == (64, 64) and crop.dtype == np.float32
    assert crop.min() >= -1.0 and crop.max() <= 1.0
    assert crop.max() - crop.min() > 1.0  # a real picture, not flat
    # x = (g/255 - 0.5) * 2
    assert face_crop(np.zeros((50, 50), np.uint8), (10, 10, 20, 20)).max() == pytest.approx(-1.0)
    assert face_crop(np.full((50, 50), 255, np.uint8), (10, 10, 20, 20)).min() == pytest.approx(1.0)


def test_face_crop_near_border_is_clipped(astronaut_gray):
    crop = face_crop(astronaut_gray, (-10, -10, 50, 50), size=32, margin=0.3)
    assert crop.shape == (32, 32)
    with pytest.raises(ValueError):
        face_crop(astronaut_gray, (1000, 1000, 10, 10))


def test_aggregate_expressions():
    p = np.array([[1, 0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0, 0]], np.float32)
    agg = aggregate_expressions(p)
    assert agg.shape == (7,) and agg.sum() == pytest.approx(1.0)
    assert agg[0] == pytest.approx(0.5) and agg[3] == pytest.approx(0.5)
    unnorm = aggregate_expressions(np.array([[2, 2, 0, 0, 0, 0, 0]], np.float32))
    assert unnorm[0] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        aggregate_expressions(np.zeros((0, 7)))


# ---------------------------------------------------------------- read_frames


def test_read_frames_at_requested_times(talking_clip):
    path, times = talking_clip
    want = sample_times(times[1][0], times[1][1], media.FPS, 6)
    frames = read_frames(path, want)
    assert len(frames) == len(want)
    for t, (ft, img) in zip(want, frames):
        assert abs(ft - t) <= 0.5 / media.FPS + 1e-6
        assert img.shape == (media.SIZE[1], media.SIZE[0]) and img.dtype == np.uint8
    assert len(detect_faces(frames[0][1])) == 1


def test_read_frames_bgr_and_unsorted(talking_clip):
    path, _ = talking_clip
    frames = read_frames(path, [2.0, 0.3], gray=False)
    assert [round(t, 2) for t, _ in frames] == [0.3, 2.0]
    assert frames[0][1].shape == (media.SIZE[1], media.SIZE[0], 3)


def test_read_frames_far_apart_times_reseek(talking_clip):
    path, _ = talking_clip
    frames = read_frames(path, [0.0, 7.0], reseek_after_s=1.0)
    assert [round(t, 2) for t, _ in frames] == [0.0, 7.0]


def test_read_frames_past_the_end(talking_clip):
    path, times = talking_clip
    end = times[-1][1] + 0.5
    frames = read_frames(path, [end - 0.02, end + 5, end + 60])
    assert len(frames) == 1  # the last frame; times far beyond the end are dropped
    assert frames[0][0] <= end
    assert read_frames(path, [end + 30]) == []
    assert read_frames(path, []) == []


def test_read_frames_faceless_clip(faceless_clip):
    path, times = faceless_clip
    frames = read_frames(path, sample_times(*times[0], media.FPS, 4))
    assert len(frames) == 4
    assert all(detect_faces(img) == [] for _, img in frames)


def test_read_frames_errors(tmp_path):
    with pytest.raises(MediaError, match="no video track"):
        read_frames(media.make_audio_only(tmp_path), [0.5])
    with pytest.raises(MediaError, match="the file is empty"):
        read_frames(media.make_zero_byte(tmp_path), [0.5])
