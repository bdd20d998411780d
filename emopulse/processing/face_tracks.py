"""Face tracks and the likely speaker, within the frames of one utterance (or one reaction).

Pure functions over what ``vision.faces_in`` returns: ``found`` = [(time_s, (x, y, w, h))] in time
order (faces of a frame largest first) and ``crops`` = float32 [N, 64, 64] grey crops in [-1, 1].

``link_tracks`` says which faces are the same person across those frames (ids 1, 2, ... in order of
first appearance). It is not face recognition: ids are per utterance and say nothing about who the
person is, nor that track 1 of one utterance is track 1 of the next.

``likely_speaker`` names the track that is probably speaking and on what basis: "mouth movement" when
one track's mouth visibly moves more than the others', or else, named as the fallback it is, the
"largest face" (the nearest to the camera is often, not always, the one talking).
"""
from __future__ import annotations

import numpy as np

__all__ = ["link_tracks", "likely_speaker", "appearance", "mouth_movement",
           "IOU_MIN", "APPEARANCE_MIN", "SAME_PLACE_APPEARANCE_MIN", "MOUTH_MIN_FACES",
           "MOUTH_RATIO", "MOUTH_MOVEMENT_MIN", "MOUTH_MOVEMENT", "LARGEST_FACE"]

# Frames are sampled about 0.5 s apart (vision_fps 2): a face that moved a little still overlaps its
# last box by well over 0.3, and two people side by side overlap each other's boxes by far less.
IOU_MIN = 0.3
# Linking on looks alone (after a cut or a quick move) needs near-identical crops: the same face under
# a few pixels of box jitter measures 0.93-0.99 on the descriptor below, two different real faces
# 0.4 (tests/data/crying_face.jpg vs the astronaut), so 0.88 links the first and not the second.
APPEARANCE_MIN = 0.88
# Even where the boxes overlap, a crop that looks clearly different is taken as another person
# (two people swapping nearby places), not as the track's own face: well under the 0.9+ of the same
# face, at about the 0.4 of two different ones. The cost is a split track, never a merged one.
SAME_PLACE_APPEARANCE_MIN = 0.5

# Movement needs at least two frame-to-frame changes to mean anything.
MOUTH_MIN_FACES = 3
# The chosen track's mouth must move clearly more than the runner-up's ...
MOUTH_RATIO = 1.5
# ... and clearly at all: the excess of mouth change over upper-face change, in units of the crop's
# own contrast (std). Box jitter and head motion alone give about 0 or less (the upper face changes
# as much as the mouth); a mouth opening and closing gives several tenths.
MOUTH_MOVEMENT_MIN = 0.08

MOUTH_MOVEMENT = "mouth movement"
LARGEST_FACE = "largest face"

_DESCRIPTOR_SIZE = 16
# Lower third of the crop, central half width: the mouth (the crop has a 10 % margin round the box).
_MOUTH = (slice(43, 64), slice(16, 48))
# Forehead to nose, same width: what moves with the head and the box, not with speech.
_UPPER = (slice(8, 40), slice(16, 48))


def _iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return float(inter / union) if union > 0 else 0.0


def appearance(crop: np.ndarray) -> np.ndarray:
    """A unit-length look descriptor of one 64x64 crop."""
    import cv2

    # A 16x16 area-averaged, mean-removed crop: cheap, blind to brightness/contrast (the cosine of
    # two is their correlation) and to a few pixels of box jitter, yet it tells two faces apart.
    d = cv2.resize(np.asarray(crop, np.float32), (_DESCRIPTOR_SIZE, _DESCRIPTOR_SIZE),
                   interpolation=cv2.INTER_AREA).ravel().astype(np.float64)
    d -= d.mean()
    n = np.linalg.norm(d)
    return d / n if n > 1e-9 else d


def link_tracks(found, crops, iou_min: float = IOU_MIN, appearance_min: float = APPEARANCE_MIN) -> list[int]:
    """A track id per face (1, 2, ... in order of first appearance).

    Frame by frame, each face may join a track last seen in an earlier frame, compared with that
    track's last box and look: when the boxes overlap (IoU >= ``iou_min``) and the look is not clearly
    different, or, where the boxes moved (a cut, a quick turn), when the look alone is near-identical
    (>= ``appearance_min``). Pairs are taken best first (IoU + look similarity), one face per track
    and one track per face in a frame; a face that joins none starts a new track.
    """
    n = len(found)
    if len(crops) != n:
        raise ValueError("need one crop per found face")
    looks = [appearance(c) for c in crops]
    ids = [0] * n
    last: list[tuple[tuple, np.ndarray]] = []  # per track (index = id - 1): last box, last look
    i = 0
    while i < n:
        j = i
        while j < n and found[j][0] == found[i][0]:
            j += 1
        frame = range(i, j)
        pairs = []
        for f in frame:
            for k, (box, look) in enumerate(last):
                iou = _iou(found[f][1], box)
                sim = float(looks[f] @ look)
                if (iou >= iou_min and sim >= SAME_PLACE_APPEARANCE_MIN) or sim >= appearance_min:
                    pairs.append((iou + sim, f, k))
        taken_faces, taken_tracks = set(), set()
        for _, f, k in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
            if f in taken_faces or k in taken_tracks:
                continue
            ids[f] = k + 1
            taken_faces.add(f)
            taken_tracks.add(k)
        for f in frame:  # largest first, so a new person's id follows the frame's order
            if not ids[f]:
                last.append((found[f][1], looks[f]))
                ids[f] = len(last)
            else:
                last[ids[f] - 1] = (found[f][1], looks[f])
        i = j
    return ids


def _normalised(crop: np.ndarray) -> np.ndarray:
    c = np.asarray(crop, np.float64)
    return (c - c.mean()) / (c.std() + 1e-6)


def mouth_movement(crops) -> float | None:
    """How much one track's mouth moves: over its successive crops (time order), the mean absolute
    change of the mouth region beyond that of the upper face, each crop brightness-normalised first
    (so a light change is not movement). Subtracting the upper face discounts box jitter and head
    motion, which move both alike. None with fewer than ``MOUTH_MIN_FACES`` crops."""
    if len(crops) < MOUTH_MIN_FACES:
        return None
    norm = [_normalised(c) for c in crops]
    excess = [float(np.abs(b[_MOUTH] - a[_MOUTH]).mean() - np.abs(b[_UPPER] - a[_UPPER]).mean())
              for a, b in zip(norm, norm[1:])]
    return max(0.0, float(np.mean(excess)))


def likely_speaker(found, crops, tracks) -> tuple[int, str]:
    """(track, basis) of the face that is likely speaking; (0, "") without faces.

    "mouth movement" when, among tracks seen in at least ``MOUTH_MIN_FACES`` frames, one's mouth
    moves at least ``MOUTH_MOVEMENT_MIN`` and ``MOUTH_RATIO`` times the runner-up's. Otherwise (one
    frame, still faces, or no clear winner) the track with the largest mean box area, as
    "largest face": a guess, and named as one.
    """
    if not found:
        return 0, ""
    if not (len(found) == len(crops) == len(tracks)):
        raise ValueError("need one crop and one track per found face")
    by_track: dict[int, list[int]] = {}
    for i, t in enumerate(tracks):
        by_track.setdefault(int(t), []).append(i)
    moves = {t: m for t, idx in by_track.items()
             if (m := mouth_movement([crops[i] for i in idx])) is not None}
    if moves:
        ranked = sorted(moves.items(), key=lambda tm: (-tm[1], tm[0]))
        best, top = ranked[0]
        runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
        if top >= MOUTH_MOVEMENT_MIN and top >= MOUTH_RATIO * runner_up:
            return best, MOUTH_MOVEMENT
    areas = {t: float(np.mean([found[i][1][2] * found[i][1][3] for i in idx])) for t, idx in by_track.items()}
    return max(areas.items(), key=lambda ta: (ta[1], -ta[0]))[0], LARGEST_FACE
