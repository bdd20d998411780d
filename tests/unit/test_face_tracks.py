"""Face tracks and the likely speaker on real images: drawn faces, and a real photo through the Haar
detector."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from emopulse.processing import vision
from emopulse.processing.face_tracks import (
    LARGEST_FACE,
    MOUTH_MOVEMENT,
    appearance,
    likely_speaker,
    link_tracks,
)

DATA = Path(__file__).resolve().parents[1] / "data"


def face_a(size: int, mouth_open: float = 3.0) -> np.ndarray:
    """A light oval face: two eyes, a nose, and a mouth ``mouth_open`` px tall (at a 100 px face)."""
    s = size / 100.0
    img = np.full((size, size), 70, np.uint8)
    c = (size // 2, size // 2)
    cv2.ellipse(img, c, (int(42 * s), int(50 * s)), 0, 0, 360, 200, -1)
    for ex in (32, 68):
        cv2.ellipse(img, (int(ex * s), int(38 * s)), (int(9 * s), int(5 * s)), 0, 0, 360, 40, -1)
    cv2.line(img, (int(50 * s), int(45 * s)), (int(47 * s), int(62 * s)), 120, max(1, int(3 * s)))
    cv2.ellipse(img, (int(50 * s), int(80 * s)), (int(15 * s), max(1, int(mouth_open * s / 2))), 0, 0, 360, 30, -1)
    return img


def face_b(size: int) -> np.ndarray:
    """A different look: dark hair over a wide forehead, heavy glasses, a beard."""
    s = size / 100.0
    img = np.full((size, size), 160, np.uint8)
    cv2.rectangle(img, (0, 0), (size, int(28 * s)), 20, -1)
    cv2.rectangle(img, (int(15 * s), int(35 * s)), (int(45 * s), int(52 * s)), 10, -1)
    cv2.rectangle(img, (int(55 * s), int(35 * s)), (int(85 * s), int(52 * s)), 10, -1)
    cv2.ellipse(img, (size // 2, int(85 * s)), (int(40 * s), int(22 * s)), 0, 0, 360, 50, -1)
    return img


def scene(faces, shape=(300, 640), seed=0) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A grey noisy frame with each (image, x, y) pasted in; the face boxes, largest first."""
    rng = np.random.default_rng(seed)
    frame = np.clip(rng.normal(100, 6, shape), 0, 255).astype(np.uint8)
    boxes = []
    for img, x, y in faces:
        h, w = img.shape
        frame[y:y + h, x:x + w] = img
        boxes.append((x, y, w, h))
    order = sorted(range(len(boxes)), key=lambda i: boxes[i][2] * boxes[i][3], reverse=True)
    return frame, [boxes[i] for i in order]


def detections(frames_faces):
    """Per frame, the faces to paste -> (found, crops) as vision.faces_in gives them (known boxes)."""
    found, crops = [], []
    for t, faces in enumerate(frames_faces):
        frame, boxes = scene(faces, seed=t)
        for box in boxes:
            found.append((t * 0.5, box))
            crops.append(vision.face_crop(frame, box))
    return found, np.stack(crops) if crops else np.zeros((0, 64, 64), np.float32)


def per_frame(found, tracks):
    frames = {}
    for (t, _), k in zip(found, tracks):
        frames.setdefault(t, []).append(k)
    return frames


def test_the_drawn_faces_look_alike_to_themselves_and_not_to_each_other():
    a, a_small, b = (appearance(vision.face_crop(img, (0, 0, *img.shape[::-1])))
                     for img in (face_a(100), face_a(80), face_b(100)))
    assert a @ a_small > 0.95
    assert a @ b < 0.5


def test_two_faces_moving_slowly_keep_two_tracks():
    # the same look on both: only where they are tells them apart
    found, crops = detections([[(face_a(100), 40 + 6 * t, 60 + 2 * t), (face_a(90), 420 - 6 * t, 80)]
                               for t in range(5)])
    tracks = link_tracks(found, crops)
    assert tracks == [1, 2] * 5


def test_a_face_that_jumps_keeps_its_track_by_its_look():
    frames = [[(face_a(100), 40, 40), (face_b(110), 450, 100)]] * 2
    frames += [[(face_a(120), 250, 150), (face_b(110), 450, 100)]] * 2  # a cut: elsewhere, larger
    found, crops = detections(frames)
    tracks = link_tracks(found, crops)
    by_box = {(t, box[0]): k for (t, box), k in zip(found, tracks)}
    a_track = {by_box[(0.0, 40)], by_box[(0.5, 40)], by_box[(1.0, 250)], by_box[(1.5, 250)]}
    b_track = {by_box[(t, 450)] for t in (0.0, 0.5, 1.0, 1.5)}
    assert len(a_track) == 1 and len(b_track) == 1 and a_track != b_track
    assert sorted(set(tracks)) == [1, 2]


def test_two_different_faces_swapping_places_are_not_merged():
    # side by side (a gap, so neither crop holds the other's face), then each where the other was
    frames = [[(face_a(100), 100, 60), (face_b(100), 230, 60)]] * 2
    frames += [[(face_b(100), 100, 60), (face_a(100), 230, 60)]] * 2
    found, crops = detections(frames)
    tracks = link_tracks(found, crops)
    for ks in per_frame(found, tracks).values():
        assert len(ks) == len(set(ks)), "two faces of one frame never share a track"
    # and each track keeps its own look across the swap
    looks = [appearance(c) for c in crops]
    for k in set(tracks):
        idx = [i for i, t in enumerate(tracks) if t == k]
        assert all(looks[idx[0]] @ looks[i] > 0.9 for i in idx)
    assert sorted(set(tracks)) == [1, 2]


def test_a_different_face_in_the_place_of_one_that_left_starts_its_own_track():
    # B leaves; a face that looks nothing like B stands about where B was: overlap alone is no link
    frames = [[(face_a(100), 100, 60), (face_b(100), 230, 60)]] * 2
    frames += [[(face_a(100), 100, 60), (face_a(100), 220, 60)]] * 2
    found, crops = detections(frames)
    tracks = link_tracks(found, crops)
    assert tracks == [1, 2, 1, 2, 1, 3, 1, 3]


def test_the_face_whose_mouth_moves_is_the_likely_speaker():
    openings = [2, 16, 4, 14, 3, 18]
    jitter = [(0, 0), (2, -1), (-1, 2), (1, 1), (-2, 0), (0, -2)]
    frames = [[(face_a(100, mouth_open=m), 60 + dx, 60 + dy), (face_a(130, mouth_open=3), 380 - dy, 50 + dx)]
              for m, (dx, dy) in zip(openings, jitter)]
    found, crops = detections(frames)
    tracks = link_tracks(found, crops)
    talking = {k for (_, box), k in zip(found, tracks) if box[2] == 100}
    assert len(talking) == 1 and len(set(tracks)) == 2
    assert likely_speaker(found, crops, tracks) == (talking.pop(), MOUTH_MOVEMENT)


def test_still_faces_fall_back_to_the_largest_face():
    jitter = [(0, 0), (2, -1), (-1, 2), (1, 1), (-2, 0)]
    frames = [[(face_a(100), 60 + dx, 60 + dy), (face_b(130), 380 - dy, 50 + dx)] for dx, dy in jitter]
    found, crops = detections(frames)
    tracks = link_tracks(found, crops)
    largest = {k for (_, box), k in zip(found, tracks) if box[2] == 130}
    assert len(largest) == 1
    assert likely_speaker(found, crops, tracks) == (largest.pop(), LARGEST_FACE)


def test_one_frame_cannot_show_movement_so_the_largest_face_is_named():
    found, crops = detections([[(face_a(100, mouth_open=16), 60, 60), (face_b(130), 380, 50)]])
    tracks = link_tracks(found, crops)
    assert tracks == [1, 2]  # a single frame: 1..n, largest first
    assert likely_speaker(found, crops, tracks) == (1, LARGEST_FACE)


def test_no_faces():
    empty = np.zeros((0, 64, 64), np.float32)
    assert link_tracks([], empty) == []
    assert likely_speaker([], empty, []) == (0, "")


def test_a_real_photo_twice_through_the_haar_detector_gives_two_tracks():
    photo = cv2.imread(str(DATA / "crying_face.jpg"))
    assert photo is not None
    h, w = photo.shape[:2]
    frames = []
    for t in range(3):
        canvas = np.full((h + 40, 2 * w + 120, 3), 90, np.uint8)
        for x in (10 + 12 * t, w + 100 - 12 * t):
            canvas[20 + 2 * t:20 + 2 * t + h, x:x + w] = photo
        frames.append((t * 0.5, canvas))
    found, crops, n = vision.faces_in(frames)
    assert n == 3
    tracks = link_tracks(found, crops)
    assert sorted(tracks) == [1, 1, 1, 2, 2, 2]
    for ks in per_frame(found, tracks).values():
        assert sorted(ks) == [1, 2]
    # each track stays on its own side of the canvas
    for k in (1, 2):
        xs = [box[0] for (_, box), kk in zip(found, tracks) if kk == k]
        assert max(xs) < w + 50 or min(xs) > w + 50
    track, basis = likely_speaker(found, crops, tracks)
    assert basis == LARGEST_FACE and track in (1, 2)  # a still photo does not talk
