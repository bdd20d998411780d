"""Face detectors behind one small interface, chosen by the ``face_detector`` setting.

A detector is a callable ``detector(frame) -> [(x, y, w, h), ...]``: ``frame`` is a uint8 grey [H, W]
or BGR [H, W, 3] image, the boxes are ints inside the image, largest first.

- ``haar``: OpenCV's frontal-face Haar cascade (``vision.detect_faces``, unchanged). Fast (a few ms a
  frame), misses faces under ~40 px (its minimum size) and faces turned or tilted much.
- ``mtcnn``: MTCNN (P-Net/R-Net/O-Net) with the weights shipped in the facenet-pytorch 2.6.0 wheel
  (MIT; installed ``--no-deps``), run on CPU torch. Finds smaller and tilted faces; tens of ms a frame.
  facenet-pytorch's own detection code is used; its only torchvision needs (``batched_nms`` and
  ``to_tensor``) are given pure-torch stand-ins while it is imported, so torchvision is never loaded.

``bench/faces.py`` measures both (recall, false positives, ms per frame) on real photos.
"""
from __future__ import annotations

import functools
import sys
import types
from typing import Callable

import numpy as np

__all__ = ["Box", "Detector", "NAMES", "haar", "mtcnn", "get"]

Box = tuple[int, int, int, int]
Detector = Callable[[np.ndarray], list[Box]]
NAMES = ("haar", "mtcnn")


def _gray(frame: np.ndarray) -> np.ndarray:
    # the same conversion vision.faces_in has always made
    frame = np.asarray(frame)
    return frame if frame.ndim == 2 else frame.mean(axis=2).astype(np.uint8)


def haar(min_size: int | None = None, scale_factor: float = 1.1, min_neighbors: int = 6) -> Detector:
    """The Haar cascade as used by vision.faces_in (minimum face ``vision.MIN_FACE_PX`` by default)."""
    from emopulse.processing import vision

    size = vision.MIN_FACE_PX if min_size is None else int(min_size)

    def detect(frame: np.ndarray) -> list[Box]:
        return vision.detect_faces(_gray(frame), size, scale_factor, min_neighbors)

    detect.name = "haar"
    return detect


# ---- MTCNN ------------------------------------------------------------------------------------
def _nms(boxes, scores, iou_threshold: float):
    """Greedy non-maximum suppression (torchvision.ops.nms semantics): kept indices, best first."""
    import torch

    order = torch.argsort(scores, descending=True)
    x1, y1, x2, y2 = boxes.unbind(1)
    area = (x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0)
    keep = []
    while order.numel():
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = (torch.minimum(x2[i], x2[rest]) - torch.maximum(x1[i], x1[rest])).clamp(min=0)
        h = (torch.minimum(y2[i], y2[rest]) - torch.maximum(y1[i], y1[rest])).clamp(min=0)
        inter = w * h
        iou = inter / (area[i] + area[rest] - inter)
        order = rest[iou <= iou_threshold]
    return torch.stack(keep) if keep else torch.zeros(0, dtype=torch.long)


def _batched_nms(boxes, scores, idxs, iou_threshold: float):
    """torchvision.ops.boxes.batched_nms: NMS within each ``idxs`` group (boxes offset apart)."""
    import torch

    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    offsets = idxs.to(boxes) * (boxes.max() + 1)
    return _nms(boxes + offsets[:, None], scores, iou_threshold)


def _to_tensor(pic):
    """torchvision.transforms.functional.to_tensor for HWC arrays (uint8 scaled to [0, 1])."""
    import torch

    a = np.asarray(pic)
    if a.ndim == 2:
        a = a[:, :, None]
    t = torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))
    return t.float().div(255) if t.dtype == torch.uint8 else t


@functools.lru_cache(maxsize=1)
def _facenet_mtcnn_class():
    """facenet_pytorch.MTCNN, imported with stand-ins for the two torchvision functions it uses."""
    stubs = {
        "torchvision": types.ModuleType("torchvision"),
        "torchvision.ops": types.ModuleType("torchvision.ops"),
        "torchvision.ops.boxes": types.ModuleType("torchvision.ops.boxes"),
        "torchvision.transforms": types.ModuleType("torchvision.transforms"),
        "torchvision.transforms.functional": types.ModuleType("torchvision.transforms.functional"),
    }
    stubs["torchvision.ops.boxes"].batched_nms = _batched_nms
    stubs["torchvision.transforms.functional"].to_tensor = _to_tensor
    stubs["torchvision"].ops, stubs["torchvision"].transforms = stubs["torchvision.ops"], stubs["torchvision.transforms"]
    stubs["torchvision.ops"].boxes = stubs["torchvision.ops.boxes"]
    stubs["torchvision.transforms"].functional = stubs["torchvision.transforms.functional"]
    saved = {name: sys.modules.get(name) for name in stubs}
    sys.modules.update(stubs)
    try:
        from facenet_pytorch.models.mtcnn import MTCNN
    except ImportError as e:
        raise RuntimeError("the mtcnn face detector needs facenet-pytorch==2.6.0 (pip install --no-deps)") from e
    finally:
        # only facenet's modules keep the stand-ins; a real torchvision stays importable for others
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return MTCNN


@functools.lru_cache(maxsize=4)
def _mtcnn_model(min_size: int):
    import torch

    model = _facenet_mtcnn_class()(keep_all=True, min_face_size=int(min_size), device=torch.device("cpu"))
    return model.eval()


def mtcnn(min_size: int = 20, min_prob: float = 0.9) -> Detector:
    """MTCNN on CPU (weights from the facenet-pytorch wheel, loaded once per process): faces at least
    ``min_size`` px, O-Net probability at least ``min_prob``. Grey frames are given as three equal
    channels; BGR frames are turned into RGB."""
    def detect(frame: np.ndarray) -> list[Box]:
        a = np.asarray(frame)
        if a.dtype != np.uint8:
            a = np.clip(a, 0, 255).astype(np.uint8)
        if a.size == 0:
            return []
        rgb = np.repeat(a[:, :, None], 3, axis=2) if a.ndim == 2 else np.ascontiguousarray(a[:, :, 2::-1])
        boxes, probs = _mtcnn_model(min_size).detect(rgb)
        if boxes is None:
            return []
        h, w = a.shape[:2]
        out = []
        for (x1, y1, x2, y2), p in zip(boxes, probs):
            if p is None or p < min_prob:
                continue
            x0, y0 = max(0, int(round(x1))), max(0, int(round(y1)))
            x1_, y1_ = min(w, int(round(x2))), min(h, int(round(y2)))
            if x1_ - x0 >= 2 and y1_ - y0 >= 2:
                out.append((x0, y0, x1_ - x0, y1_ - y0))
        return sorted(out, key=lambda b: b[2] * b[3], reverse=True)

    detect.name = "mtcnn"
    return detect


def get(name: str) -> Detector:
    """The detector called ``name`` ("haar" or "mtcnn") with its production parameters."""
    key = (name or "").strip().lower()
    if key == "haar":
        return haar()
    if key == "mtcnn":
        return mtcnn()
    raise ValueError(f"unknown face detector {name!r}: choose one of {', '.join(NAMES)}")
