"""The order in which Subscribe gives a job's events (pure: bus messages in, events out).

Fusion may finish utterance 3 before 2: a result waits until its predecessors came; progress (and a
live stream's partials and state changes) passes at once; the summary (or the end) comes last, after any result still waiting.
A live stream's summary also waits for the stream's final pulse (the pulse service decides it, and
the alerts of the stream's last seconds, once it has seen the summary), so Subscribe gives all of them. Given the same bus
messages in the same order, the same events come out in the same order, so each event's place in
that order (its sequence number, 1, 2, ...) is the same for every subscriber and is a resume point.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from emopulse.v1 import results_pb2 as pb


@dataclass
class EventOrder:
    after: int = 0               # give only events whose sequence number is above this
    quiet_until_seq: int = 0     # give only events that reached the bus after this message (start NOW)
    given: int = 0               # sequence number of the last event placed
    next_index: int = 0
    waiting: dict[int, tuple[pb.JobEvent, int]] = field(default_factory=dict)
    ended: bool = False
    live: bool = False           # a live stream: its summary waits for the final pulse
    held: tuple[pb.JobEvent, int] | None = None

    def add(self, event: pb.JobEvent, bus_seq: int) -> list[pb.JobEvent]:
        """One message from results.<job> (its stream sequence) -> the events to give now."""
        if self.ended:
            return []
        kind = event.WhichOneof("event")
        ready: list[tuple[pb.JobEvent, int]] = []
        if kind == "result":
            if event.result.index >= self.next_index and event.result.index not in self.waiting:
                self.waiting[event.result.index] = (event, bus_seq)
            while self.next_index in self.waiting:
                ready.append(self.waiting.pop(self.next_index))
                self.next_index += 1
        elif kind == "summary" and self.live:
            self.held = (event, bus_seq)
        elif kind in ("summary", "ended"):  # the last event of a job
            ready += self.flush_waiting()
            ready.append((event, bus_seq))
            self.ended = True
        else:  # progress, and a live stream's partials, state changes, pulses, alerts ...
            ready.append((event, bus_seq))
            if self.held and event.HasField("pulse") and event.pulse.final:
                ready += self.flush_waiting()
                ready.append(self.held)
                self.ended = True
        return self._number(ready, final=self.ended)

    def end(self, job: pb.Job) -> list[pb.JobEvent]:
        """The job ended but its last event never reached the bus: what is waiting, then `ended`."""
        if self.ended:
            return []
        self.ended = True
        last = self.held or (pb.JobEvent(job_id=job.id, ended=job), self.quiet_until_seq + 1)
        ready = self.flush_waiting() + [last]
        return self._number(ready, final=True)

    def flush_waiting(self) -> list[tuple[pb.JobEvent, int]]:
        return [self.waiting.pop(i) for i in sorted(self.waiting)]

    def _number(self, ready: list[tuple[pb.JobEvent, int]], final: bool) -> list[pb.JobEvent]:
        out = []
        for i, (event, bus_seq) in enumerate(ready):
            self.given += 1
            event.sequence = self.given
            last = final and i == len(ready) - 1  # a job's last event is given even when starting NOW
            if self.given > self.after and (bus_seq > self.quiet_until_seq or last):
                out.append(event)
        return out
