"""The swappable face detector: Haar (default) and MTCNN on a real photo, and the setting that picks one.
Figures behind the assertions: bench/faces.py (bench-results/faces.json)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from emopulse.processing import face_detectors, vision
from emopulse.runtime.settings import Settings, SettingsError

import importlib.util

# facenet-pytorch is installed --no-deps (make deps); importing it outright would need torchvision
if importlib.util.find_spec("facenet_pytorch") is None:
    pytest.fail("facenet-pytorch==2.6.0 is not installed: `make deps` installs it", pytrace=False)

ASTRONAUT_FACE = (175, 62, 95, 108)  # placed by hand on skimage.data.astronaut()


def iou(a, b) -> float:
    iw = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return iw * ih / (a[2] * a[3] + b[2] * b[3] - iw * ih)


@pytest.fixture(scope="module")
def astronaut():
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def small_face(img, width=32):
    """The photo scaled so the face is `width` px wide, on a 640x480 canvas of a real non-face photo."""
    from skimage import data

    s = width / ASTRONAUT_FACE[2]
    small = cv2.resize(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    canvas = cv2.resize(cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2GRAY), (640, 480), interpolation=cv2.INTER_AREA)
    canvas[100:100 + small.shape[0], 200:200 + small.shape[1]] = small
    x, y, w, h = ASTRONAUT_FACE
    return canvas, (200 + round(x * s), 100 + round(y * s), round(w * s), round(h * s))


@pytest.mark.parametrize("name", ["haar", "mtcnn"])
@pytest.mark.parametrize("grey", [False, True])
def test_both_find_the_astronaut(astronaut, name, grey):
    frame = cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY) if grey else astronaut
    boxes = face_detectors.get(name)(frame)
    assert len(boxes) == 1
    assert iou(boxes[0], ASTRONAUT_FACE) > 0.6
    assert all(isinstance(v, int) for v in boxes[0])


def test_mtcnn_finds_a_32px_face_haar_misses(astronaut):
    frame, face = small_face(astronaut, 32)
    assert not any(iou(b, face) >= 0.3 for b in face_detectors.get("haar")(frame))
    found = face_detectors.get("mtcnn")(frame)
    assert [b for b in found if iou(b, face) >= 0.5] and all(iou(b, face) >= 0.3 for b in found)


def test_haar_through_faces_in_is_unchanged(astronaut):
    frames = [(0.0, cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY)), (0.5, astronaut)]
    default = vision.faces_in(frames)
    explicit = vision.faces_in(frames, face_detectors.get("haar"))
    assert default[0] == explicit[0] and default[2] == explicit[2]
    np.testing.assert_array_equal(default[1], explicit[1])
    found, crops, n = vision.faces_in(frames, face_detectors.get("mtcnn"))
    assert len(found) == 2 and crops.shape == (2, 64, 64) and n == 2


def test_blank_frame_has_no_face():
    blank = np.full((240, 320), 128, np.uint8)
    assert face_detectors.get("mtcnn")(blank) == [] and face_detectors.get("haar")(blank) == []


def test_setting_selects_the_detector():
    assert Settings().face_detector == "haar"
    s = Settings.from_env({"EMOPULSE_FACE_DETECTOR": "mtcnn"})
    assert s.face_detector == "mtcnn" and face_detectors.get(s.face_detector).name == "mtcnn"
    assert face_detectors.get(Settings.from_env({}).face_detector).name == "haar"


def test_a_bad_detector_name_is_refused():
    with pytest.raises(SettingsError, match="EMOPULSE_FACE_DETECTOR"):
        Settings.from_env({"EMOPULSE_FACE_DETECTOR": "dlib"})
    with pytest.raises(ValueError, match="unknown face detector"):
        face_detectors.get("dlib")


def test_mtcnn_import_leaves_no_fake_torchvision():
    import sys

    face_detectors.get("mtcnn")(np.zeros((64, 64, 3), np.uint8))
    tv = sys.modules.get("torchvision")
    assert tv is None or getattr(tv, "__file__", None)
