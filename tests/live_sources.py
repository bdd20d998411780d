"""Real live sources on loopback for tests: a clip served as RTSP, HLS or HTTP MPEG-TS.

    spoken = make_scripted_clip(tmp / "clip.mp4", ["Hello there.", "I am so angry."], loops=3)
    with RtspSource(tmp / "clip.mp4", loop=True) as src:      # rtsp://127.0.0.1:PORT/live
        ...pull src.url; at wall time w the source plays clip time src.position(w)...

Timing (measured with PyAV 18 as the client, see tests/integration/test_live_sources.py):

* ``RtspSource`` is a live camera. A feeder pipeline plays the clip in real time from ``started_at``
  (the server's own clock reading, a few ms before ``start()`` returns) whether or not anyone watches;
  clients join it where it is: a client connecting at wall time w first decodes clip time
  ``position(w)`` minus 0.1-0.3 s (the server's audio buffering). PyAV's ``frame.time`` starts at 0
  at each client's first packet, and ``av.open`` takes about 3 s (stream probing, in real time).
  ``restart()`` plays from clip 0 again.
* ``HlsSource``: ffmpeg paces the clip from ``started_at`` (set as it is spawned; ``start()`` returns
  once the first 1 s segment exists, about 2.8 s later). ``frame.time - HLS_OFFSET_S`` is the clip
  time (plus the clip's duration per completed loop). PyAV joins an unfinished playlist 3 segments
  from its end (3-4 s behind the live edge), a finished one at its start.
* ``TsHttpSource``: one client only; clip time 0 is when that client connects, and
  ``frame.time - TS_OFFSET_S`` is the clip time. ffmpeg exits when the clip ends or the client leaves.

SRT is not offered: the PyAV wheel's FFmpeg is built without libsrt (``av.open("srt://...")`` raises
ProtocolNotFoundError).
"""

from __future__ import annotations

import atexit
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from emopulse.stack import free_port
from tests.media import FPS, SAMPLE_RATE, face_frame, speech_track, write_mp4

HLS_OFFSET_S = 0.064  # AAC priming: ffmpeg shifts both streams so the audio starts at 0
TS_OFFSET_S = 1.6  # mpegts mux delay (1.4 s) + the clip's B-frame delay (0.2 s)


@dataclass(frozen=True)
class Spoken:
    """One sentence of a scripted clip and its true speech span in the clip, in seconds."""

    text: str
    start_s: float
    end_s: float


def make_scripted_clip(
    path: str | Path,
    sentences: list[str],
    gap_s: float = 1.2,
    lead_s: float = 1.0,
    tail_s: float = 2.0,
    loops: int = 1,
) -> list[Spoken]:
    """Write an mp4 (H.264 with a keyframe every second + AAC 16 kHz mono, 320x240 at FPS) of the
    astronaut's face: ``lead_s`` of silence, the sentences ``loops`` times over with ``gap_s`` between
    them, then at least ``tail_s`` of silence, padded to a whole 1.6 s so that the audio (1024-sample
    AAC frames) and video tracks end together and a looped clip has no seam. Times are the sentences'
    true speech (espeak's near-silence, |x| <= 0.01, trimmed), not their slots."""
    texts = list(sentences) * loops
    audio, times = speech_track(texts, gap_s, lead_s, tail_s=tail_s)
    audio = np.pad(audio, (0, -len(audio) % math.lcm(1024, SAMPLE_RATE // FPS)))
    write_mp4(path, audio, face_frame(), len(audio) / SAMPLE_RATE, FPS)
    return [Spoken(t, s, e) for t, (s, e) in zip(texts, times)]


def clip_duration(path: str | Path) -> float:
    """The clip's duration in seconds (one loop of a looping source)."""
    with av.open(str(path)) as c:
        return c.duration / 1e6


# Run by Debian's /usr/bin/python3 (GStreamer bindings are not in the venv). A feeder pipeline decodes
# the clip in real time into inter* channels (looping by segment seeks); the RTSP media, shared by all
# clients, re-encodes from those live channels, so clients join a stream that runs on without them.
_RTSP_SERVER = r"""
import os, sys, time
import gi
gi.require_version("Gst", "1.0"); gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer
clip, port, loop = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
Gst.init(None)
main, medias = GLib.MainLoop(), []
feeder = Gst.parse_launch(
    f'filesrc location="{clip}" ! qtdemux name=d '
    'd.video_0 ! queue ! avdec_h264 ! videoconvert ! intervideosink channel=v '
    'd.audio_0 ! queue ! avdec_aac ! audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=16000,channels=1 '
    '! interaudiosink channel=a')
def on_message(bus, msg):
    if msg.type == Gst.MessageType.SEGMENT_DONE:
        feeder.seek_simple(Gst.Format.TIME, Gst.SeekFlags.SEGMENT, 0)
    elif msg.type == Gst.MessageType.EOS:  # not looping: end every client's stream, then go away
        for m in medias:
            m.get_element().send_event(Gst.Event.new_eos())
        GLib.timeout_add(1000, main.quit)
    elif msg.type == Gst.MessageType.ERROR:
        print("feeder error:", msg.parse_error(), flush=True); os._exit(1)
    return True
def settle():
    if feeder.get_state(5 * Gst.SECOND)[0] != Gst.StateChangeReturn.SUCCESS:
        sys.exit(f"cannot play {clip} (it needs an H.264 and an AAC track)")
feeder.get_bus().add_watch(GLib.PRIORITY_DEFAULT, on_message)
feeder.set_state(Gst.State.PAUSED); settle()
if loop:
    feeder.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.SEGMENT, 0); settle()
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    '( intervideosrc channel=v ! queue ! video/x-raw,width=320,height=240,framerate=10/1 ! videoconvert '
    '! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 ! rtph264pay name=pay0 pt=96 config-interval=1 '
    'interaudiosrc channel=a buffer-time=200000000 ! queue ! audioconvert ! audioresample '
    '! audio/x-raw,rate=16000,channels=1 ! avenc_aac ! rtpmp4apay name=pay1 pt=97 )')
factory.set_shared(True)
factory.connect("media-configure", lambda f, m: medias.append(m))
server = GstRtspServer.RTSPServer(); server.set_address("127.0.0.1"); server.set_service(port)
server.get_mount_points().add_factory("/live", factory)
server.attach(None)
feeder.set_state(Gst.State.PLAYING)
print(f"PLAYING {time.time():.3f}", flush=True)
main.run()
"""

_RUNNING: set[_Source] = set()
atexit.register(lambda: [s.stop() for s in list(_RUNNING)])


def _listening(port: int) -> bool:
    """Whether something listens on 127.0.0.1:port (read from /proc, so nothing connects to it)."""
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        return any(r[1] == want and r[3] == "0A" for r in (line.split() for line in list(f)[1:]))


class _Source:
    """Processes serving ``clip`` on a free loopback port, each in its own session, logged to ``log``."""

    def __init__(self, clip: str | Path, loop: bool = False) -> None:
        self.clip, self.loop = Path(clip).resolve(), loop
        self.period_s = clip_duration(self.clip)
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="emopulse-live-"))
        self.log = self.dir / "log.txt"
        self.started_at: float | None = None  # wall time (time.time()) of clip time 0
        self._procs: list[subprocess.Popen] = []

    def _spawn(self, *argv: str) -> None:
        with open(self.log, "a") as log:
            self._procs.append(subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        _RUNNING.add(self)

    def _wait(self, ready, what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline or any(p.poll() is not None for p in self._procs):
                tail = self.log.read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"{type(self).__name__}: no {what} (log {self.log}):\n{tail}")
            time.sleep(0.05)

    def position(self, wall: float | None = None) -> float:
        """The clip time the source plays at wall time ``wall`` (default now), per ``started_at``."""
        t = (time.time() if wall is None else wall) - self.started_at
        return t % self.period_s if self.loop else t

    def start(self):
        raise NotImplementedError

    def stop(self) -> None:
        """Kill every process of the source (the URL stops answering)."""
        for p in self._procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        self._procs.clear()
        _RUNNING.discard(self)

    def restart(self):
        """Stop, then serve again on the same port and URL, from clip time 0."""
        self.stop()
        return self.start()

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class RtspSource(_Source):
    """``rtsp://127.0.0.1:PORT/live`` (H.264 + AAC over RTP; pull with ``rtsp_transport=tcp``), served
    by Debian's GStreamer RTSP server like a camera: the clip (shown at 320x240, 10 fps) plays from
    ``started_at`` on whether or not clients are connected. ``loop=False``: when the clip ends, clients
    get end-of-stream (PyAV's decode loop just ends) and the server exits."""

    def __init__(self, clip: str | Path, loop: bool = True) -> None:
        super().__init__(clip, loop)

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/live"

    def start(self) -> RtspSource:
        script = self.dir / "rtsp_server.py"
        script.write_text(_RTSP_SERVER)
        self._spawn("/usr/bin/python3", str(script), str(self.clip), str(self.port), "1" if self.loop else "0")
        self._wait(lambda: "PLAYING " in self.log.read_text() and _listening(self.port), "RTSP server")
        self.started_at = float(self.log.read_text().rsplit("PLAYING ", 1)[1].split()[0])
        return self


class HlsSource(_Source):
    """``http://127.0.0.1:PORT/live.m3u8``: ffmpeg encodes the clip in real time (``-re``) into 1 s
    segments (H.264 keyframe each second + AAC) served by ``http.server``. ``list_size`` 0 keeps every
    segment in the playlist, n keeps a sliding window of n. Without ``loop`` the playlist gets
    ``#EXT-X-ENDLIST`` (a finished stream) when the clip ends; the files stay served."""

    def __init__(self, clip: str | Path, loop: bool = False, list_size: int = 0) -> None:
        super().__init__(clip, loop)
        self.list_size = list_size
        self.www = self.dir / "www"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/live.m3u8"

    def start(self) -> HlsSource:
        shutil.rmtree(self.www, ignore_errors=True)
        self.www.mkdir()
        self._spawn(sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(self.port),
                    "--directory", str(self.www))
        self.started_at = time.time()
        self._spawn(
            "ffmpeg", "-nostdin", "-v", "warning", "-re", *(["-stream_loop", "-1"] if self.loop else []),
            "-i", str(self.clip), "-c:v", "libx264", "-preset", "veryfast", "-g", str(FPS), "-bf", "0",
            "-c:a", "aac", "-muxdelay", "0", "-muxpreload", "0", "-f", "hls", "-hls_time", "1",
            "-hls_list_size", str(self.list_size), *(["-hls_flags", "delete_segments"] if self.list_size else []),
            str(self.www / "live.m3u8"))
        playlist = self.www / "live.m3u8"
        self._wait(lambda: playlist.exists() and ".ts" in playlist.read_text() and _listening(self.port),
                   "HLS segment")
        return self

    def finished(self) -> bool:
        """Whether ffmpeg has ended the playlist (``#EXT-X-ENDLIST``)."""
        playlist = self.www / "live.m3u8"
        return playlist.exists() and "#EXT-X-ENDLIST" in playlist.read_text()


class TsHttpSource(_Source):
    """``http://127.0.0.1:PORT/s.ts``: ffmpeg's own one-client HTTP server streams the clip as MPEG-TS
    (stream copy) in real time from the moment a client connects (``started_at`` stays None)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/s.ts"

    def start(self) -> TsHttpSource:
        self._spawn(
            "ffmpeg", "-nostdin", "-v", "warning", "-re", *(["-stream_loop", "-1"] if self.loop else []),
            "-i", str(self.clip), "-c", "copy", "-f", "mpegts", "-listen", "1", self.url)
        self._wait(lambda: _listening(self.port), "listening ffmpeg")
        return self
