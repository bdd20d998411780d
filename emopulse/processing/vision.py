"""Frames and faces: which frames to look at, decoding them, finding and cropping faces.

``face_crop`` produces the input the FER2013 mini-Xception expression model expects:
a 64×64 grey crop scaled as x = (g/255 − 0.5)·2.
"""

from __future__ import annotations

import functools
import math
import os

import numpy as np

from emopulse.processing.media import MediaError, _open

__all__ = ["sample_times", "read_frames", "detect_faces", "face_crop", "aggregate_expressions"]

FACE_SIZE = 64


def sample_times(start_s: float, end_s: float, fps: float, max_frames: int) -> list[float]:
    """Frame times evenly spread over [start_s, end_s): one per frame interval, at most
    ``max_frames``, each at the centre of its equal share of the span (a short span gets one frame in
    its middle). An empty or inverted span gives []."""
    if max_frames < 1:
        raise ValueError("max_frames must be at least 1")
    span = float(end_s) - float(start_s)
    if not span > 0:
        return []
    n = int(math.floor(span * fps)) if fps and fps > 0 else max_frames
    n = min(max(n, 1), max_frames)
    step = span / n
    return [float(start_s) + (i + 0.5) * step for i in range(n)]


def read_frames(
    path: str | os.PathLike, times: list[float], gray: bool = True, reseek_after_s: float = 3.0
) -> list[tuple[float, np.ndarray]]:
    """Decode the frames nearest to ``times`` (seconds) from a local video.

    Returns [(frame_time_s, image)] in ascending time order, one per requested time (two requested
    times may map to the same frame). Images are uint8 grey [H, W] (``gray``) or BGR [H, W, 3].
    It seeks to the keyframe before the first requested time and decodes forward from there,
    seeking again only when the next requested time is more than ``reseek_after_s`` ahead, so an
    utterance costs about one GOP plus its own span. Requested times past the end of the video are
    dropped (except within a couple of frame intervals of the last frame, which maps to it).
    Raises MediaError if the file has no video track or cannot be read.
    """
    import av

    targets = sorted(float(t) for t in times)
    if not targets:
        return []
    fmt = "gray" if gray else "bgr24"
    out: list[tuple[float, np.ndarray]] = []
    with _open(path) as c:
        if not c.streams.video:
            raise MediaError("the file has no video track")
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        tb = vs.time_base
        rate = vs.average_rate or vs.guessed_rate
        frame_dt = 1.0 / float(rate) if rate else 0.1
        tolerance = max(2 * frame_dt, 0.25)
        start_off = float(vs.start_time * tb) if vs.start_time is not None else 0.0
        if vs.duration is not None:
            length = float(vs.duration * tb)
        elif c.duration is not None:
            length = c.duration / 1_000_000
        else:
            length = math.inf
        # nothing to decode for times well past the end
        targets = [t for t in targets if t <= length + tolerance]

        i = 0
        seeked_for = -1
        while i < len(targets):
            seeked_for = i
            try:
                c.seek(max(0, int((targets[i] + start_off) / tb)), stream=vs, backward=True, any_frame=False)
            except av.error.FFmpegError:
                c.seek(0)
            prev: tuple[float, object] | None = None
            reseek = False
            try:
                for frame in c.decode(vs):
                    if frame.pts is None:
                        continue
                    ft = float(frame.pts * tb) - start_off
                    # resolve every target that lies before this frame
                    while i < len(targets) and targets[i] <= ft:
                        t = targets[i]
                        if prev is not None and (t - prev[0]) < (ft - t):
                            out.append((prev[0], prev[1].to_ndarray(format=fmt)))
                        else:
                            out.append((ft, frame.to_ndarray(format=fmt)))
                        i += 1
                    if i >= len(targets):
                        break
                    if targets[i] - ft > reseek_after_s and seeked_for != i:
                        reseek = True
                        break
                    prev = (ft, frame)
            except av.error.FFmpegError:
                # a damaged stream: keep what decoded, and treat the rest as past the end
                pass
            if reseek:
                continue
            # end of stream: targets past the last frame
            while i < len(targets):
                if prev is not None and targets[i] - prev[0] <= tolerance:
                    out.append((prev[0], prev[1].to_ndarray(format=fmt)))
                i += 1
    return out


@functools.lru_cache(maxsize=1)
def _cascade():
    import cv2

    path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise RuntimeError(f"could not load the Haar cascade {path}")
    return cascade


def _to_gray(img: np.ndarray) -> np.ndarray:
    import cv2

    img = np.asarray(img)
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY if img.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    return img


def detect_faces(
    gray: np.ndarray, min_size: int = 40, scale_factor: float = 1.1, min_neighbors: int = 6
) -> list[tuple[int, int, int, int]]:
    """Frontal faces as (x, y, w, h) boxes, largest first (OpenCV Haar cascade, loaded once)."""
    g = _to_gray(gray)
    if g.size == 0:
        return []
    boxes = _cascade().detectMultiScale(
        g, scaleFactor=scale_factor, minNeighbors=min_neighbors, minSize=(int(min_size), int(min_size))
    )
    faces = [tuple(int(v) for v in b) for b in (boxes if len(boxes) else [])]
    return sorted(faces, key=lambda b: b[2] * b[3], reverse=True)


def face_crop(
    gray: np.ndarray, box: tuple[int, int, int, int], size: int = FACE_SIZE, margin: float = 0.1
) -> np.ndarray:
    """The face ``box`` widened by ``margin`` (fraction of its size each side, clipped to the image),
    resized to ``size``×``size`` and scaled to [-1, 1] as x = (g/255 − 0.5)·2 (float32)."""
    import cv2

    g = _to_gray(gray)
    x, y, w, h = (int(v) for v in box)
    mx, my = int(round(w * margin)), int(round(h * margin))
    x0, y0 = max(0, x - mx), max(0, y - my)
    x1, y1 = min(g.shape[1], x + w + mx), min(g.shape[0], y + h + my)
    if x1 <= x0 or y1 <= y0:
        raise ValueError("the face box lies outside the image")
    crop = cv2.resize(g[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA)
    return ((crop.astype(np.float32) / 255.0 - 0.5) * 2.0).astype(np.float32)


def aggregate_expressions(probs: np.ndarray) -> np.ndarray:
    """Mean of per-face expression probabilities [N, 7], renormalised to sum to 1 ([7] float32).
    N = 0 is an error: the caller decides what "no face" means."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim == 1:
        p = p[None, :]
    if p.ndim != 2 or p.shape[0] == 0:
        raise ValueError("need at least one row of expression probabilities")
    m = np.clip(p.mean(axis=0), 0.0, None)
    s = m.sum()
    m = m / s if s > 0 else np.full(p.shape[1], 1.0 / p.shape[1])
    return m.astype(np.float32)


MIN_FACE_PX = 40


def find_faces(path, times: list[float], detector=None) -> tuple[list[tuple[float, tuple[int, int, int, int]]], np.ndarray, int]:
    """Frames at `times` -> (time, box) per face, their 64x64 crops, and how many frames were read.
    ``detector``: a face_detectors detector (frame -> boxes); None = the Haar cascade."""
    return faces_in(read_frames(path, times), detector)


def decode_jpeg(data: bytes) -> np.ndarray:
    """A recorded JPEG picture -> grey image (MediaError when it is not one)."""
    import cv2

    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise MediaError("a recorded picture is not a readable JPEG")
    return image


def faces_in(frames: list[tuple[float, np.ndarray]], detector=None) -> tuple[list[tuple[float, tuple[int, int, int, int]]], np.ndarray, int]:
    """(time, image) frames -> (time, box) per face, their 64x64 crops, and how many frames there were.
    ``detector``: a face_detectors detector (frame -> boxes); None = the Haar cascade."""
    found, crops = [], []
    for t, frame in frames:
        gray = frame if frame.ndim == 2 else frame.mean(axis=2).astype(np.uint8)
        for box in (detect_faces(gray, MIN_FACE_PX) if detector is None else detector(frame)):
            found.append((t, tuple(int(v) for v in box)))
            crops.append(face_crop(gray, box))
    return found, np.stack(crops).astype(np.float32) if crops else np.zeros((0, 64, 64), np.float32), len(frames)
