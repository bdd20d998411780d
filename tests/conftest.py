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
