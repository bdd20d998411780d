"""The pulse and alerts end to end: scripted espeak speech pushed live through the whole stack
(the real text model on Triton), alerts in Subscribe and on webhooks on loopback."""
from __future__ import annotations

import contextlib
import http.server
import json
import threading
import time

import grpc
import pytest
from google.protobuf import json_format

from emopulse.client import file_chunks
from emopulse.runtime import webhooks
from emopulse.v1 import api_pb2
from emopulse.v1 import results_pb2 as pb
from tests.live_sources import make_scripted_clip

pytestmark = pytest.mark.slow

POSITIVE = [
    "Thank you so much, this is wonderful news.",
    "I love this, it is amazing and beautiful.",
    "What a great day, I am so happy for you.",
    "This is excellent work, I really enjoyed it.",
    "Wonderful, everyone loved the new design.",
    "Thank you, that was a lovely surprise.",
]
NEGATIVE = [
    "This is terrible, I hate this so much.",
    "It is awful and everything went wrong.",
    "I am furious, this is the worst product ever.",
    "This is horrible, nobody wants this garbage.",
    "I hate it, what a disgusting failure.",
    "Terrible, it broke again and I am angry.",
]
SECRET = "test-secret"
CHAT = 20  # audience messages beside the steady stream after the first six (the limit: tests/e2e/test_history.py)


class Receiver(http.server.ThreadingHTTPServer):
    """A webhook receiver on loopback that answers 500 to the first `fail_first` tries of each alert."""

    def __init__(self, fail_first: int = 0):
        self.fail_first, self.tries, self.received = fail_first, {}, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                alert_id = self.headers[webhooks.ALERT_ID_HEADER]
                outer.tries[alert_id] = outer.tries.get(alert_id, 0) + 1
                ok = outer.tries[alert_id] > outer.fail_first
                if ok:
                    outer.received.append((dict(self.headers), body))
                self.send_response(200 if ok else 500)
                self.end_headers()

            def log_message(self, *args):
                pass
        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


def push_and_watch(client, path, name, hooks, then=None):
    """Push a clip live; set the stream's webhooks as soon as it has an id (and start then(id));
    return every event."""
    ids, events = [], []

    def started(stream_id):
        ids.append(stream_id)
        client.set_alert_rules(stream_id, webhooks=hooks)
        if then:
            threading.Thread(target=then, args=(stream_id,), daemon=True).start()

    pusher = threading.Thread(target=lambda: client.push_stream(file_chunks(path), name=name, language="en",
                                                                on_start=started))
    pusher.start()
    deadline = time.time() + 30
    while not ids and time.time() < deadline:
        time.sleep(0.1)
    assert ids, "no stream id"
    events.extend(client.subscribe(ids[0], timeout=240))
    pusher.join(60)
    return ids[0], events


def of(events, kind):
    return [getattr(e, kind) for e in events if (e.WhichOneof("event") or e.WhichOneof("live")) == kind]


@pytest.fixture(scope="module")
def clips(media_dir):
    turning, steady = media_dir / "turning.mp4", media_dir / "steady.mp4"
    return ((turning, make_scripted_clip(turning, POSITIVE + NEGATIVE, gap_s=1.5, lead_s=1.0, tail_s=3.0)),
            (steady, make_scripted_clip(steady, POSITIVE + POSITIVE[:4], gap_s=1.5, lead_s=1.0, tail_s=3.0)))


def restart_pulse_at(stack, after_s: float, down_s: float = 4.0) -> threading.Thread:
    """SIGKILL the pulse service mid-stream and start it again: it must rebuild from JetStream."""
    def run():
        time.sleep(after_s)
        stack.kill("pulse")
        time.sleep(down_s)
        stack.start_component("pulse")
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_clip_that_turns_negative_fires_one_shift_and_one_spike_and_a_steady_one_none(client, stack, clips):
    """...with the pulse service killed (SIGKILL) just before the turn and started again."""
    (turning, spoken), (steady, _) = clips
    restart = restart_pulse_at(stack, after_s=spoken[len(POSITIVE)].start_s - 4)
    across = []  # SubscribeAlerts across every stream, WARNING and up

    def watch_alerts():
        with contextlib.suppress(grpc.RpcError):  # ends at its deadline
            across.extend(client.subscribe_alerts(min_severity=pb.WARNING, timeout=150))
    threading.Thread(target=watch_alerts, daemon=True).start()
    good, flaky = Receiver(), Receiver(fail_first=2)
    hooks = [api_pb2.Webhook(url=good.url, secret=SECRET), api_pb2.Webhook(url=flaky.url, secret=SECRET)]
    out = {}
    chat = {}

    def post_chat(stream_id):
        """The audience beside the steady stream: happy messages, one posted twice."""
        first = [{"id": f"m{i}", "author": f"viewer{i}", "text": "I love this, so great!", "time_s": 4 + i}
                 for i in range(6)]
        chat["first"] = client.post_audience(stream_id, first + [first[0]])
        rest = [{"id": f"r{i}", "text": "Wonderful, thank you!", "time_s": 10 + i / 4} for i in range(CHAT)]
        chat["rest"] = client.post_audience(stream_id, rest)
    steady_run = threading.Thread(target=lambda: out.setdefault(
        "steady", push_and_watch(client, steady, "steady", [], then=post_chat)))
    steady_run.start()
    stream_id, events = push_and_watch(client, turning, "turning", hooks)
    steady_run.join(240)
    restart.join(30)

    # Pulses every 5 s of media, with the three windows: none lost or doubled by the restart.
    pulses = of(events, "pulse")
    assert len(pulses) >= 8
    assert [len(p.windows) for p in pulses] == [3] * len(pulses)
    assert [p.final for p in pulses] == [False] * (len(pulses) - 1) + [True]  # the last one closes the stream
    regular = pulses if pulses[-1].media_s % 5 == 0 else pulses[:-1]  # it may close between ticks
    assert [p.media_s for p in regular] == [pulses[0].media_s + 5 * i for i in range(len(regular))]
    assert pulses[2].windows[0].sentiment > 0.3 and pulses[-1].windows[0].sentiment < -0.3

    turn = spoken[len(POSITIVE)].start_s  # the first negative sentence
    alerts = of(events, "alert")
    shifts = [a for a in alerts if a.rule.kind == pb.SENTIMENT_SHIFT]
    spikes = [a for a in alerts if a.rule.kind == pb.NEGATIVE_SPIKE]
    assert len(shifts) == 1 and len(spikes) == 1, [a.message for a in alerts]
    for alert in shifts + spikes:  # at the turn, give or take one window (10 s)
        assert turn <= alert.media_s <= turn + 2 * 10, (turn, alert.media_s)
        assert alert.quotes and any("terrible" in q.lower() or "awful" in q.lower() for q in alert.quotes)
    assert shifts[0].value < shifts[0].baseline and "down" in shifts[0].message

    steady_id, steady_events = out["steady"]
    # Audience: accepted once each, scored by the text model, in the pulse beside the speakers.
    assert (chat["first"].accepted, chat["first"].duplicates) == (6, 1)
    assert chat["rest"].accepted == CHAT
    heard = of(steady_events, "audience")
    assert sorted(m.message_id for m in heard) == sorted([f"m{i}" for i in range(6)] + [f"r{i}" for i in range(CHAT)])
    assert all(len(m.sentiment) == 3 and m.sentiment[0] > m.sentiment[2] and "text_classifier" in m.classifier for m in heard)
    with_chat = [w for p in of(steady_events, "pulse") for w in p.windows if w.audience_messages]
    assert with_chat and max(w.audience_messages for w in with_chat) == 6 + CHAT
    assert all(w.audience_sentiment > 0.3 and w.audience_per_minute > 0 for w in with_chat)
    warnings = [a.id for a in alerts if a.rule.severity >= pb.WARNING]
    seen = lambda: [a.id for a in across if a.stream_id in (stream_id, steady_id)]  # noqa: E731
    deadline = time.time() + 20
    while len(seen()) < len(warnings) and time.time() < deadline:
        time.sleep(0.2)
    assert seen() == warnings  # the steady stream has none to add

    assert len(of(steady_events, "pulse")) >= 8
    assert of(steady_events, "alert") == [], [a.message for a in of(steady_events, "alert")]

    # Webhooks: the signed alerts reached the receiver; the flaky one was retried, and the log says so.
    deadline = time.time() + 30
    while (len(good.received) < len(alerts) or len(flaky.received) < len(alerts)) and time.time() < deadline:
        time.sleep(0.2)
    assert len(good.received) == len(alerts) and len(flaky.received) == len(alerts)
    for headers, body in good.received:
        assert webhooks.verify(SECRET, headers[webhooks.TIMESTAMP_HEADER], body, headers[webhooks.SIGNATURE_HEADER])
        assert not webhooks.verify("wrong", headers[webhooks.TIMESTAMP_HEADER], body, headers[webhooks.SIGNATURE_HEADER])
    got = {json_format.ParseDict(json.loads(b), pb.Alert()).id for _, b in good.received}
    assert got == {a.id for a in alerts}
    log = client.webhook_deliveries(stream_id)
    flaky_log = [d for d in log if d.url == flaky.url and d.alert_id == alerts[0].id]
    assert [(d.attempt, d.delivered, d.status) for d in flaky_log] == [(1, False, 500), (2, False, 500), (3, True, 200)]
    assert all(d.delivered and d.attempt == 1 for d in log if d.url == good.url)
    assert not client.get_alert_rules(stream_id).webhooks[0].secret  # secrets are write-only

    # History: the turning stream's record holds its alerts and its peaks with their words.
    deadline = time.time() + 60
    while not (found := [e for e in client.list_events(live_only=True) if e.id == stream_id]) and time.time() < deadline:
        time.sleep(0.5)
    (record,) = found
    assert record.alerts == len(alerts) and record.utterances == len(POSITIVE + NEGATIVE)
    assert record.most_negative.sentiment < -0.3 and record.most_positive.sentiment > 0.3
    assert record.most_negative.start_s >= turn - 60 and any("terrible" in q.lower() or "hate" in q.lower()
                                                             for q in record.most_negative.quotes)
    (kept,) = client.compare_events([stream_id])
    assert sorted(a.id for a in kept.alerts) == sorted(a.id for a in alerts)


def test_alert_rules_through_the_api_and_the_cli(client, stack, capsys):
    stream = client.push_stream([b"\0\0" * 16_000])  # one second of silence: a stream to hang rules on
    rules = client.get_alert_rules(stream.id)
    assert rules.defaults and {r.kind for r in rules.rules} >= {pb.NEGATIVE_SPIKE, pb.SENTIMENT_SHIFT,
                                                                 pb.ENGAGEMENT_DROP, pb.STREAM_SILENT}
    mine = [pb.AlertRule(name="anger", kind=pb.EMOTION_SURGE, emotion="anger", threshold=0.4, window_s=60,
                         severity=pb.CRITICAL)]
    stored = client.set_alert_rules(stream.id, mine)
    assert not stored.defaults and [r.name for r in client.get_alert_rules(stream.id).rules] == ["anger"]
    for bad, words in [([pb.AlertRule(name="x", kind=pb.NEGATIVE_SPIKE, window_s=7)], "window_s"),
                       ([pb.AlertRule(name="x", kind=pb.EMOTION_SURGE, window_s=10, emotion="boredom")], "emotion")]:
        with pytest.raises(grpc.RpcError) as err:
            client.set_alert_rules(stream.id, bad)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and words in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        client.set_alert_rules(stream.id, webhooks=[api_pb2.Webhook(url="ftp://x", secret="s")])
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as err:
        client.get_alert_rules("no-such-stream")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND

    from emopulse.cli import main
    assert main(["alerts", stream.id, "--defaults", "--gateway", stack.gateway]) == 0
    assert "default rules" in capsys.readouterr().out
    assert client.get_alert_rules(stream.id).defaults
