"""The post-event report in a real browser: headless Chromium (Debian's, which `make deps` installs)
draws the page to a PNG that is not blank and shows the charts' colours, and the DOM it builds holds
every SVG chart and section heading, with the quotes as text (no script came to life)."""
from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from emopulse.report import EMOTION_COLOURS, SENTIMENT_COLOURS, render_event
from tests.unit.test_report import SECTIONS, audience_messages, event_history, reactions_list, result

WIDTH, HEIGHT = 1280, 6000


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The report of a 5-minute event compared with two others, written to a file."""
    others = [event_history("ev2", name="Town hall", swing=0.5, created_at=1_740_000_000.0),
              event_history("ev3", name="Earnings call", swing=-1.0, created_at=1_745_000_000.0)]
    results = [result(0, 3, 0, "Great <news>!"), result(1, 0, 2, "I hate it."), result(2, 5, 2, "So sad.")]
    path = tmp_path_factory.mktemp("report") / "event.html"
    path.write_text(render_event(event_history(), results, audience_messages(), reactions_list(), compare=others))
    return path


def chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("chromium is not installed: `make deps` installs Debian's chromium package", pytrace=False)
    return subprocess.run(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
         "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True, text=True, timeout=120, check=True)


def near(pixels: np.ndarray, hex_colour: str, alpha: float = 1.0, tolerance: int = 10) -> int:
    """Pixels within `tolerance` of the colour, drawn at `alpha` over white."""
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], float)
    target = 255 - alpha * (255 - rgb)
    return int((np.abs(pixels - target).max(axis=-1) <= tolerance).sum())


def test_screenshot_shows_the_charts(page, tmp_path):
    shot = tmp_path / "event.png"
    chromium(tmp_path, f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={shot}", page.as_uri())
    print(f"screenshot: {shot}")
    assert shot.exists() and shot.stat().st_size > 50_000
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.shape == (HEIGHT, WIDTH, 3)
    colours = np.unique(pixels[..., 0] << 16 | pixels[..., 1] << 8 | pixels[..., 2])
    assert len(colours) > 500  # text, charts and their anti-aliasing: not blank
    # the speakers' sentiment shaded green then red (alpha 0.3), the emotion stack's solid bands
    assert near(pixels, SENTIMENT_COLOURS["positive"], alpha=0.3) > 5_000
    assert near(pixels, SENTIMENT_COLOURS["negative"], alpha=0.3) > 5_000
    assert near(pixels, EMOTION_COLOURS["joy"]) > 20_000 and near(pixels, EMOTION_COLOURS["anger"]) > 20_000
    assert near(pixels, SENTIMENT_COLOURS["positive"]) > 50  # the audience table's positive scores
    # the whole page fits: its last drawn row is above the window's bottom
    drawn = np.where((pixels < 250).any(axis=(1, 2)))[0]
    assert 2_000 < drawn.max() < HEIGHT - 50


def test_dom_has_every_chart_and_heading(page, tmp_path):
    dom = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert re.findall(r"<h2>(.*?)</h2>", dom) == [*SECTIONS[:-1], "Compare events", "Utterances"]
    svgs = re.findall(r"<svg\b.*?</svg>", dom, re.S)
    assert len(svgs) == 5 and all(svg.count("<path") > 20 for svg in svgs)
    assert "<script" not in dom and "alert('x')" in dom and "Launch &lt;live&gt; &amp; Q&amp;A" in dom
