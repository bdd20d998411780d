"""The pulse and its alert rules: pure functions over event-time series."""
import numpy as np
import pytest

from emopulse.processing import pulse
from emopulse.v1 import events_pb2 as ev
from emopulse.v1 import results_pb2 as pb

WINDOWS = [10.0, 60.0, 300.0]
POS, NEU, NEG = [0.8, 0.15, 0.05], [0.1, 0.8, 0.1], [0.05, 0.15, 0.8]


def result(i, start, end, sentiment, emotion=None, text=""):
    emotion = emotion or [0, 0, 0, 0, 1, 0, 0]
    return pb.UtteranceResult(job_id="s", index=i, start_s=start, end_s=end, sentiment=sentiment, emotion=emotion,
                              text=text or f"utterance {i}")


def run(results, clocks, rules=None, every=5.0):
    """Feed results and clocks in media order; returns the state and every event it decided."""
    state, out = ev.PulseState(), []
    rules = rules or pulse.default_rules()
    for item in _merge(results, clocks):
        if isinstance(item, pb.UtteranceResult):
            pulse.add_result(state, item)
        else:
            pulse.add_clock(state, item, every)
        pulse.decide(state, "s", "", rules, WINDOWS, now=0.0)
        out += list(state.outbox)
        del state.outbox[:]
    return state, out


def _merge(results, clocks):
    """Results and clocks in media order, the way they reach the service."""
    items = [(r.end_s + 0.5, 0, r) for r in results] + [(c.media_s, 1, c) for c in clocks]
    return [x for _, _, x in sorted(items, key=lambda t: (t[0], t[1]))]


def clocks_for(results, until, step=1.5):
    """A clock every step seconds: utterances ended by then are cut (ingest's promise)."""
    out, t = [], 0.0
    while t <= until:
        cut = sum(1 for r in results if r.end_s <= t)
        settled = min([t] + [r.start_s for r in results if r.start_s <= t < r.end_s])
        out.append(ev.StreamClock(stream_id="s", media_s=settled, cut_index=cut))
        t += step
    return out


def alerts(events, kind=None):
    return [e.alert for e in events if e.HasField("alert") and (kind is None or e.alert.rule.kind == kind)]


def test_window_weights_by_duration_and_counts_the_overlap():
    points = [pulse.point(result(0, 0, 6, POS)), pulse.point(result(1, 6, 8, NEG))]
    win, inside = pulse.window(points, end_s=10, length_s=10)
    assert win.utterances == 2 and len(inside) == 2
    assert win.sentiment == pytest.approx((6 * 0.75 + 2 * -0.75) / 8)
    assert win.negative_share == pytest.approx(2 / 8)
    assert win.speaking_ratio == pytest.approx(8 / 10)
    half, _ = pulse.window(points, end_s=10, length_s=3)  # [7, 10]: half of utterance 1 only
    assert half.utterances == 1 and half.negative_share == 1.0 and half.speaking_ratio == pytest.approx(1 / 3)
    empty, _ = pulse.window(points, end_s=100, length_s=10)
    assert empty.utterances == 0 and empty.speaking_ratio == 0 and not len(empty.emotion)


def test_a_pulse_waits_for_the_results_of_utterances_cut_before_it():
    state = ev.PulseState()
    pulse.add_clock(state, ev.StreamClock(stream_id="s", media_s=0.2, cut_index=0), 5)
    pulse.add_clock(state, ev.StreamClock(stream_id="s", media_s=5.1, cut_index=1), 5)  # utterance 0 was cut
    assert not pulse.decide(state, "s", "", [], WINDOWS, 0) and not state.outbox
    pulse.add_result(state, result(0, 1, 4, NEG))
    assert pulse.decide(state, "s", "", [], WINDOWS, 0)
    (event,) = state.outbox
    assert event.pulse.media_s == 5 and event.pulse.windows[0].utterances == 1


def test_events_seen_twice_count_once():
    state = ev.PulseState()
    assert pulse.add_result(state, result(0, 0, 2, POS))
    assert not pulse.add_result(state, result(0, 0, 2, POS))
    pulse.add_clock(state, ev.StreamClock(stream_id="s", media_s=0.0), 5)
    clock = ev.StreamClock(stream_id="s", media_s=5.5, cut_index=1)
    assert pulse.add_clock(state, clock, 5) and not pulse.add_clock(state, clock, 5)
    pulse.decide(state, "s", "", [], WINDOWS, 0)
    assert len(state.outbox) == 1 and not pulse.decide(state, "s", "", [], WINDOWS, 0)


def test_a_stationary_series_of_500_utterances_raises_no_alarm():
    rng = np.random.default_rng(7)
    results = []
    for i in range(500):
        p = float(np.clip(0.6 + rng.normal(0, 0.12), 0.3, 0.9))
        results.append(result(i, 3 * i + 0.5, 3 * i + 3.0, [p, 0.95 - p, 0.05]))
    _, events = run(results, clocks_for(results, 1502))
    assert sum(1 for e in events if e.HasField("pulse")) >= 290
    assert alerts(events) == []


@pytest.mark.parametrize("direction", [-1, 1])
def test_a_change_point_is_found_within_three_utterances_and_only_once(direction):
    rng = np.random.default_rng(3)
    results = []
    for i in range(80):
        level = 0.0 if i < 40 else 0.7 * direction
        s = float(np.clip(level + rng.normal(0, 0.1), -0.95, 0.95))
        sentiment = [max(s, 0) + 0.025, 1 - abs(s) - 0.05, max(-s, 0) + 0.025]
        results.append(result(i, 3 * i + 0.5, 3 * i + 3.0, sentiment))
    rules = [r for r in pulse.default_rules() if r.kind == pb.SENTIMENT_SHIFT]
    _, events = run(results, clocks_for(results, 245), rules=rules)
    (alert,) = alerts(events)
    assert alert.utterances and 40 <= max(alert.utterances) <= 42
    assert (alert.value < alert.baseline) == (direction < 0)
    assert "shifted " + ("down" if direction < 0 else "up") in alert.message


def test_negative_spike_fires_once_then_clears_and_cools_down():
    seq = [POS] * 6 + [NEG] * 8 + [POS] * 8 + [NEG] * 8
    results = [result(i, 3 * i + 0.5, 3 * i + 3.0, s) for i, s in enumerate(seq)]
    rules = [r for r in pulse.default_rules() if r.kind == pb.NEGATIVE_SPIKE]
    rules[0].cooldown_s = 0
    _, events = run(results, clocks_for(results, 95), rules=rules)
    spikes = alerts(events)
    assert len(spikes) == 2  # one per negative stretch: it stays quiet until the share came down
    assert 18 <= spikes[0].media_s <= 18 + 10 and 66 <= spikes[1].media_s <= 66 + 10
    assert spikes[0].id == "s.negative-spike.1" and spikes[1].id == "s.negative-spike.2"
    assert all(q for q in spikes[0].quotes) and spikes[0].window.negative_share > 0.6
    rules[0].cooldown_s = 600  # the second stretch falls inside the cooldown
    _, events = run(results, clocks_for(results, 95), rules=rules)
    assert len(alerts(events)) == 1


def test_silence_and_the_source_going_away():
    results = [result(0, 0.5, 3, POS)]
    rules = [r for r in pulse.default_rules() if r.kind in (pb.STREAM_SILENT, pb.STREAM_DOWN)]
    clocks = clocks_for(results, 45)
    _, events = run(results, clocks, rules=rules)
    (silent,) = alerts(events, pb.STREAM_SILENT)
    assert silent.media_s >= 33 and alerts(events, pb.STREAM_DOWN) == []
    # The source goes away at 12 s: media time stands still while it reconnects, then goes on.
    away = [ev.StreamClock(stream_id="s", media_s=12.0, cut_index=1, down=True) for _ in range(5)]
    later = [ev.StreamClock(stream_id="s", media_s=c.media_s + 12.0, cut_index=1) for c in clocks_for([], 20)]
    state, events = run(results, clocks_for(results, 12) + away + later, rules=rules)
    (down,) = alerts(events, pb.STREAM_DOWN)
    assert down.media_s == 12.0 and down.rule.severity == pb.CRITICAL
    assert not pulse.rule_state(state, rules[1]).firing  # cleared once media came again


def test_engagement_drop_against_the_streams_own_speaking_time():
    busy = [result(i, 3 * i + 0.2, 3 * i + 3.0, NEU) for i in range(40)]  # 93 % speech for 120 s
    sparse = [result(40 + i, 120 + 12 * i, 120 + 12 * i + 2.0, NEU) for i in range(15)]  # then 17 %
    rules = [r for r in pulse.default_rules() if r.kind == pb.ENGAGEMENT_DROP]
    _, events = run(busy + sparse, clocks_for(busy + sparse, 300), rules=rules)
    (drop,) = alerts(events)
    assert drop.baseline > 0.8 and drop.value < drop.baseline * 0.7 and 120 < drop.media_s < 200


def test_rules_are_checked():
    pulse.check_rules(pulse.default_rules(), WINDOWS)
    bad = [pb.AlertRule(name="x", kind=pb.NEGATIVE_SPIKE, window_s=7, threshold=0.5),
           pb.AlertRule(name="", kind=pb.NEGATIVE_SPIKE, window_s=10),
           pb.AlertRule(name="x", kind=pb.EMOTION_SURGE, window_s=10, emotion="boredom"),
           pb.AlertRule(name="x", kind=pb.NEGATIVE_SPIKE, window_s=10, threshold=3)]
    for rule in bad:
        with pytest.raises(ValueError):
            pulse.check_rules([rule], WINDOWS)
    with pytest.raises(ValueError, match="unique"):
        pulse.check_rules([bad[0], bad[0]], [7.0])


def test_the_audience_counts_in_its_windows_once():
    state = ev.PulseState()
    pulse.add_clock(state, ev.StreamClock(stream_id="s", media_s=0.0), 5)
    chat = [pb.AudienceMessage(message_id=f"m{i}", text="great", time_s=1 + i, sentiment=POS) for i in range(6)]
    chat.append(pb.AudienceMessage(message_id="bad", text="awful", time_s=7.5, sentiment=NEG))
    chat.append(pb.AudienceMessage(message_id="unscored", text="?", time_s=8))  # the model could not score it
    assert all(pulse.add_audience(state, m) for m in chat)
    assert not pulse.add_audience(state, chat[0])
    pulse.add_clock(state, ev.StreamClock(stream_id="s", media_s=10.0), 5)
    pulse.decide(state, "s", "", [], WINDOWS, 0)
    first, second = (e.pulse.windows[0] for e in state.outbox)
    assert first.audience_messages == 5 and first.audience_per_minute == pytest.approx(60)  # 1..5 in (0, 5]
    assert first.audience_sentiment == pytest.approx(0.75)
    assert second.audience_messages == 8 and second.audience_sentiment == pytest.approx((6 * 0.75 - 0.75) / 7)


@pytest.mark.parametrize("message,words", [
    (pb.AudienceMessage(message_id="", text="hi"), "message_id"),
    (pb.AudienceMessage(message_id="a.b", text="hi"), "message_id"),
    (pb.AudienceMessage(message_id="x" * 10_000, text="hi"), "message_id"),
    (pb.AudienceMessage(message_id="a", text="  "), "no text"),
    (pb.AudienceMessage(message_id="a", text="x" * 2001), "AUDIENCE_MAX_CHARS"),
    (pb.AudienceMessage(message_id="a", text="hi", time_s=-1), "time_s"),
])
def test_bad_audience_messages_are_named(message, words):
    problem = pulse.audience_problem(message, 2000)
    assert words in problem and len(problem) < 200  # a long id is never echoed in full
    assert pulse.audience_problem(pb.AudienceMessage(message_id="ok-1", text="hi"), 2000) == ""


def test_engagement_drop_on_the_audience_rate():
    state, events = ev.PulseState(), []
    rules = [r for r in pulse.default_rules() if r.name == "audience-drop"]
    pulse.add_clock(state, ev.StreamClock(stream_id="s", media_s=0.0), 5)
    busy = [pb.AudienceMessage(message_id=f"a{i}", text="go", time_s=0.5 * i + 0.1, sentiment=NEU) for i in range(360)]
    quiet = [pb.AudienceMessage(message_id=f"b{i}", text="go", time_s=180 + 4 * i + 0.1, sentiment=NEU) for i in range(30)]
    for t in range(1, 301):  # 120 a minute for 3 minutes, then 15 a minute
        for m in busy + quiet:
            if t - 1 < m.time_s <= t:
                pulse.add_audience(state, m)
        pulse.add_clock(state, ev.StreamClock(stream_id="s", media_s=float(t)), 5)
        pulse.decide(state, "s", "", rules, WINDOWS, 0)
        events += list(state.outbox)
        del state.outbox[:]
    (drop,) = alerts(events)
    assert drop.baseline == pytest.approx(120, rel=0.05) and drop.value < 0.7 * drop.baseline
    assert 180 < drop.media_s < 260 and "audience" in drop.message


def test_reactions_count_with_the_faces_of_their_windows():
    sad = [0, 0, 0, 0, 0.1, 0.9, 0]
    state = ev.PulseState()
    pulse.add_clock(state, ev.StreamClock(stream_id="s", media_s=0.0), 5)
    for i in range(4):  # nobody speaks; a crying face every 2 s
        reaction = pb.Reaction(index=i, time_s=1 + 2 * i, expression=sad,
                               faces=[pb.Face(time_s=1 + 2 * i, expression=sad)])
        assert pulse.add_reaction(state, reaction)
    assert not pulse.add_reaction(state, pb.Reaction(index=0, time_s=1))
    pulse.add_clock(state, ev.StreamClock(stream_id="s", media_s=10.0), 5)
    pulse.decide(state, "s", "", [], WINDOWS, 0)
    first, second = (e.pulse.windows[0] for e in state.outbox)
    assert first.reactions == 3 and second.reactions == 4 and second.utterances == 0 and second.faces == 1
    assert int(np.argmax(second.face_expression)) == 5  # sadness


def test_the_last_pulse_is_marked_final_once():
    state = ev.PulseState()
    pulse.add_clock(state, ev.StreamClock(stream_id="s", media_s=0.0), 5)
    pulse.add_clock(state, ev.StreamClock(stream_id="s", media_s=7.0, cut_index=1), 5)
    pulse.add_result(state, result(0, 1, 3, POS))
    pulse.decide(state, "s", "", [], WINDOWS, 0)
    assert [e.pulse.final for e in state.outbox] == [False]
    pulse.decide(state, "s", "", [], WINDOWS, 0, final=True)  # ended between ticks: one closing pulse
    pulse.decide(state, "s", "", [], WINDOWS, 0, final=True)
    assert [(e.pulse.media_s, e.pulse.final) for e in state.outbox] == [(5.0, False), (7.0, True)]
