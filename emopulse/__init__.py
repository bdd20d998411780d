"""EmoPulse: per-utterance emotion and sentiment from video."""

__all__ = ["Client", "AsyncClient"]


def __getattr__(name: str):
    # Lazy, so the Triton models that import emopulse.processing do not pull in gRPC.
    if name in __all__:
        from emopulse import client
        return getattr(client, name)
    raise AttributeError(name)
