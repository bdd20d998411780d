"""Shared pytest fixtures. Media fixtures: generated once per session into a temp directory."""

from __future__ import annotations

import pytest

from tests import media

pytest_plugins = ["tests.stack_fixtures"]


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory):
    """A session-wide directory for generated media."""
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def talking_clip(media_dir):
    """(path, placed (start, end) per sentence) of a 3-sentence clip over the astronaut's face."""
    return media.make_talking_clip(media_dir / "talking.mp4", media.SHORT_SENTENCES)


@pytest.fixture(scope="session")
def faceless_clip(media_dir):
    """(path, placed times) of a 3-sentence clip over plain grey frames (vision absent)."""
    return media.clip_without_face(media_dir / "faceless.mp4", media.SHORT_SENTENCES)


@pytest.fixture(scope="session")
def long_clip(media_dir):
    """An 8-sentence talking clip (about 40 s): long enough to kill things in the middle of it."""
    path, _ = media.make_talking_clip(media_dir / "long.mp4", media.SAMPLE_SENTENCES + media.SHORT_SENTENCES)
    return path


_FAULT_ROWS: list[dict] = []


@pytest.fixture(scope="session")
def fault_report():
    """Rows of the fault matrix (test_reliability.py), printed after the run."""
    return _FAULT_ROWS


def pytest_terminal_summary(terminalreporter):
    if not _FAULT_ROWS:
        return
    import json
    import os
    terminalreporter.section("fault matrix")
    for row in _FAULT_ROWS:
        terminalreporter.write_line(json.dumps(row))
    if os.environ.get("EMOPULSE_FAULT_REPORT"):
        with open(os.environ["EMOPULSE_FAULT_REPORT"], "w") as f:
            json.dump(_FAULT_ROWS, f, indent=1)
