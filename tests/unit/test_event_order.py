"""The order Subscribe gives a job's events in, and sequence numbers as resume points."""
from __future__ import annotations

from emopulse.processing.ordering import EventOrder
from emopulse.v1 import results_pb2 as pb


def result(i: int) -> pb.JobEvent:
    return pb.JobEvent(job_id="j", result=pb.UtteranceResult(index=i))


def progress(n: int) -> pb.JobEvent:
    return pb.JobEvent(job_id="j", progress=pb.Progress(utterances_fused=n))


SUMMARY = pb.JobEvent(job_id="j", summary=pb.Summary(utterance_count=3))
# As fusion may publish them: 1 before 0, a repeat of 1, progress in between, then the summary.
BUS = [result(1), progress(1), result(0), result(1), progress(2), result(2), progress(3), SUMMARY]


def give(order: EventOrder, messages=BUS) -> list[pb.JobEvent]:
    out = []
    for seq, message in enumerate(messages, 1):
        event = pb.JobEvent()
        event.CopyFrom(message)
        out += order.add(event, seq)
    return out


def describe(events):
    return [(e.sequence, e.WhichOneof("event"), e.result.index if e.HasField("result") else None) for e in events]


def test_results_in_utterance_order_each_once_numbered():
    assert describe(give(EventOrder())) == [
        (1, "progress", None), (2, "result", 0), (3, "result", 1), (4, "progress", None),
        (5, "result", 2), (6, "progress", None), (7, "summary", None)]


def test_after_a_sequence_number_gives_exactly_the_rest():
    everything = describe(give(EventOrder()))
    for k in range(len(everything) + 1):
        assert describe(give(EventOrder(after=k))) == everything[k:]


def test_from_now_gives_only_new_events_and_always_the_last():
    assert describe(give(EventOrder(quiet_until_seq=5))) == [(5, "result", 2), (6, "progress", None), (7, "summary", None)]
    assert describe(give(EventOrder(quiet_until_seq=len(BUS)))) == [(7, "summary", None)]


def test_a_lost_last_event_ends_with_the_job():
    order = EventOrder()
    given = give(order, BUS[:2])  # result 1 waits for 0, which never comes
    ended = order.end(pb.Job(id="j", state=pb.FAILED, reason="stalled"))
    assert describe(given + ended) == [(1, "progress", None), (2, "result", 1), (3, "ended", None)]
    assert order.ended and order.add(result(0), 99) == []


def test_a_live_streams_summary_waits_for_its_final_pulse_and_last_alerts():
    pulse = lambda t, final=False: pb.JobEvent(job_id="j", pulse=pb.Pulse(media_s=t, final=final))  # noqa: E731
    alert = pb.JobEvent(job_id="j", alert=pb.Alert(id="j.spike.1"))
    bus = [result(0), pulse(5), result(1), SUMMARY, alert, pulse(7, final=True), pulse(7, final=True)]
    kinds = [(e.sequence, e.WhichOneof("event") or e.WhichOneof("live")) for e in give(EventOrder(live=True), bus)]
    assert kinds == [(1, "result"), (2, "pulse"), (3, "result"), (4, "alert"), (5, "pulse"), (6, "summary")]
    order = EventOrder(live=True)  # the pulse service never answers: the job's end releases the summary
    given = give(order, bus[:4])
    assert [e.WhichOneof("event") for e in given + order.end(pb.Job(id="j", state=pb.SUCCEEDED))][-1] == "summary"
