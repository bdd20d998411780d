"""Face detectors on real photos: what the Haar cascade misses against MTCNN.

Source photos (all real, all offline, with a hand-placed face box):
- ``astronaut``: skimage.data.astronaut() (Eileen Collins, NASA, public domain), frontal, smiling.
- ``crying``: tests/data/crying_face.jpg (Pexels licence, see tests/data/README.md), frontal, eyes shut.
- ``cameraman``: skimage.data.camera() (CC0, Lav Varshney), a face turned ~60 degrees (3/4 profile),
  looking into a camera: the one real turned face found in an installed package.

Conditions per photo: ``native``; ``w80``/``w48``/``w32``/``w24`` (the photo scaled so the face box is
that many px wide, pasted in the middle of a 640x480 canvas of a real non-face photo, skimage's
``coffee``, so false positives on texture count); ``rot±15/±30/±45`` (in-plane rotation about the face
centre); ``dark`` (x0.35 brightness, gamma 1.8) and ``lowcontrast`` (x0.25 contrast around mid grey).
Frames are given to the detectors in grey, as production reads them (read_frames(gray=True),
decode_jpeg grey).

Per detector and condition: recall (the face box matched by a detection at IoU >= 0.3), false
positives per image (detections matching no face box) and ms per frame (median of ``--repeat``
runs). Detectors: ``haar`` (production: minimum face 40 px), ``haar-min20`` (the same cascade allowed
down to 20 px, to tell the size floor from the cascade itself) and ``mtcnn`` (minimum 20 px, p >= 0.9).

    python -m bench.faces --out bench-results/faces.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from emopulse.processing import face_detectors

ROOT = Path(__file__).resolve().parents[1]
IOU = 0.3
CANVAS = (640, 480)
WIDTHS = (80, 48, 32, 24)
ANGLES = (-45, -30, -15, 15, 30, 45)


def photos() -> dict[str, tuple[np.ndarray, tuple[int, int, int, int]]]:
    """name -> (grey image, face box x, y, w, h) placed by hand on the original photo."""
    from skimage import data

    return {
        "astronaut": (cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY), (175, 62, 95, 108)),
        "crying": (cv2.imread(str(ROOT / "tests" / "data" / "crying_face.jpg"), cv2.IMREAD_GRAYSCALE),
                   (125, 35, 135, 170)),
        "cameraman": (data.camera(), (180, 105, 78, 95)),
    }


def background() -> np.ndarray:
    from skimage import data

    return cv2.resize(cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2GRAY), CANVAS, interpolation=cv2.INTER_AREA)


def scaled(img, box, width):
    s = width / box[2]
    small = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    canvas = background().copy()
    H, W = canvas.shape
    h, w = small.shape
    # the scaled photo centred; a photo larger than the canvas is cropped around its face
    fx, fy = (box[0] + box[2] / 2) * s, (box[1] + box[3] / 2) * s
    ox, oy = int(round(W / 2 - fx)), int(round(H / 2 - fy))
    x0, y0 = max(0, ox), max(0, oy)
    x1, y1 = min(W, ox + w), min(H, oy + h)
    canvas[y0:y1, x0:x1] = small[y0 - oy:y1 - oy, x0 - ox:x1 - ox]
    gt = (int(round(box[0] * s)) + ox, int(round(box[1] * s)) + oy, int(round(box[2] * s)), int(round(box[3] * s)))
    return canvas, gt


def rotated(img, box, angle):
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    m = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    out = cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out, box  # rotated about the face centre: same centre, about the same size


def conditions(img, box):
    yield "native", img, box
    for w in WIDTHS:
        yield (f"w{w}", *scaled(img, box, w))
    for a in ANGLES:
        yield (f"rot{a:+d}", *rotated(img, box, a))
    dark = (255 * (0.35 * img.astype(np.float32) / 255) ** 1.8).clip(0, 255).astype(np.uint8)
    yield "dark", dark, box
    low = (128 + 0.25 * (img.astype(np.float32) - 128)).clip(0, 255).astype(np.uint8)
    yield "lowcontrast", low, box


def iou(a, b) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0, min(ax1, bx1) - max(a[0], b[0]))
    ih = max(0, min(ay1, by1) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def detectors():
    return {"haar": face_detectors.haar(), "haar-min20": face_detectors.haar(min_size=20),
            "mtcnn": face_detectors.mtcnn()}


def run(repeat: int = 3) -> dict:
    dets = detectors()
    warm = photos()["astronaut"][0]
    for d in dets.values():
        d(warm)
    rows = []
    for photo, (img, box) in photos().items():
        for cond, frame, gt in conditions(img, box):
            for name, det in dets.items():
                times = []
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    found = det(frame)
                    times.append((time.perf_counter() - t0) * 1000)
                best = max((iou(gt, b) for b in found), default=0.0)
                rows.append({"photo": photo, "condition": cond, "detector": name, "hit": best >= IOU,
                             "iou": round(best, 3), "false_positives": sum(iou(gt, b) < IOU for b in found),
                             "ms": round(statistics.median(times), 2), "frame": list(frame.shape), "face": list(gt)})
    return summarise(rows, list(dets))


def summarise(rows, names) -> dict:
    def group(key):
        out = {}
        for r in rows:
            out.setdefault(key(r), {}).setdefault(r["detector"], []).append(r)
        return {k: {n: {"recall": round(sum(r["hit"] for r in rs) / len(rs), 3),
                        "false_positives_per_image": round(sum(r["false_positives"] for r in rs) / len(rs), 3),
                        "ms_per_frame": round(statistics.mean(r["ms"] for r in rs), 2), "images": len(rs)}
                    for n, rs in v.items()} for k, v in out.items()}

    import torch

    return {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()},
        "iou_threshold": IOU, "detectors": names,
        "by_condition": group(lambda r: r["condition"]),
        "by_photo": group(lambda r: r["photo"]),
        "overall": group(lambda r: "all")["all"],
        "rows": rows,
    }


def table(result) -> str:
    names = result["detectors"]
    head = f"{'condition':<12}" + "".join(f"{n + ' R/FP/ms':>26}" for n in names)
    lines = [head, "-" * len(head)]
    for cond, per in list(result["by_condition"].items()) + [("ALL", result["overall"])]:
        cells = "".join(f"{per[n]['recall']:>10.2f}{per[n]['false_positives_per_image']:>7.2f}{per[n]['ms_per_frame']:>9.1f}"
                        for n in names)
        lines.append(f"{cond:<12}{cells}")
    lines.append("")
    lines.append("per photo x condition (hit = IoU >= %.1f):" % result["iou_threshold"])
    by = {}
    for r in result["rows"]:
        by.setdefault((r["photo"], r["condition"]), {})[r["detector"]] = r
    for (photo, cond), per in by.items():
        lines.append(f"  {photo:<10}{cond:<12}" + "  ".join(
            f"{n}:{'hit' if per[n]['hit'] else 'MISS'}({per[n]['iou']:.2f},fp{per[n]['false_positives']})" for n in names))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench-results/faces.json")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    result = run(args.repeat)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(table(result))
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
