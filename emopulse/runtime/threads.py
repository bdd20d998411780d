"""Blocking iterators (FFmpeg reads) consumed from asyncio without blocking the event loop."""
from __future__ import annotations

import asyncio
import threading
from typing import AsyncIterator, Callable, Iterator

_END = object()


async def in_thread(reader: Callable[[threading.Event], Iterator], name: str, buffered: int = 64) -> AsyncIterator:
    """Run reader(stop) in a thread and give its items here, in order; its exception is raised here.
    Leaving the loop (or being cancelled) sets `stop`, which the reader checks between items; a full
    buffer holds the reader back, so a slow consumer slows the read instead of filling memory."""
    loop = asyncio.get_running_loop()
    items: asyncio.Queue = asyncio.Queue(maxsize=buffered)
    stop = threading.Event()

    def hand_over(item) -> bool:
        while not stop.is_set():
            try:
                asyncio.run_coroutine_threadsafe(items.put(item), loop).result(timeout=1.0)
                return True
            except TimeoutError:
                continue
            except RuntimeError:  # the loop has gone
                return False
        return False

    def work() -> None:
        try:
            for item in reader(stop):
                if not hand_over(item):
                    return
            hand_over(_END)
        except BaseException as exc:  # noqa: BLE001 - raised in the consumer below
            hand_over(exc)

    threading.Thread(target=work, name=name, daemon=True).start()
    try:
        while (item := await items.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
