"""Which device a Triton model instance runs on: its config's instance_group kind decides."""
from __future__ import annotations


def instance_device(args: dict) -> str:
    """'cuda:<id>' for a KIND_GPU instance, else 'cpu' (args: what Triton passes to initialize)."""
    if args.get("model_instance_kind") == "GPU":
        return f"cuda:{int(args.get('model_instance_device_id') or 0)}"
    return "cpu"
