"""Triton Python model: text_classifier version 2 (MiniLM-L6 fine-tuned on MELD). See MODEL_CARD.md beside this file."""

import os
import sys
from pathlib import Path

# tritonserver's Python stub runs an isolated interpreter that ignores PYTHONPATH: add its entries
# and the repo root (models/<name>/<version>/model.py -> three levels up) to sys.path ourselves.
for _p in [*os.environ.get("PYTHONPATH", "").split(os.pathsep), str(Path(__file__).resolve().parents[3])]:
    if _p and _p not in sys.path:
        sys.path.append(_p)

from emopulse.training.serving import TextClassifierModel as TritonPythonModel  # noqa: E402,F401
