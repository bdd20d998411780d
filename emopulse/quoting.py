"""How error messages quote what a caller sent."""
from __future__ import annotations


def quoted(value: str, keep: int = 64) -> str:
    """``value`` as an error message quotes it: a hostile 10,000-character id or URL is cut, so an
    error's details stay small (gRPC metadata has a size limit) and do not echo whatever was sent."""
    return repr(value if len(value) <= keep else value[:keep] + "…")
