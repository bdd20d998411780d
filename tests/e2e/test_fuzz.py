"""Fuzzing the public API: more than a thousand generated malformed or hostile requests (random
protobuf fields, huge strings, odd ids, raw bytes that are not protobuf, upload and push streams of
the wrong shape) against the whole stack.

Every answer must be a response or a proper gRPC status (a client error, never UNKNOWN, INTERNAL or
UNAVAILABLE); no error may echo a long input back (a 10,000-character id in the details overflows
gRPC's 8 KiB metadata limit, and the client then sees only "Stream removed"); the services stay up,
and good jobs, one submitted before the fuzzing and one after it, still succeed.

Generation is deterministic (Hypothesis, derandomized). Calls are not asserted one by one: every
unexpected answer is collected, grouped by RPC and problem with its smallest inputs, and the tests
at the end list them all (EMOPULSE_FUZZ_REPORT=path also writes them as JSON).
"""
from __future__ import annotations

import json
import os
import string
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import grpc
import pytest

if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    # Hypothesis caches what it learns under ./.hypothesis; keep the work tree clean.
    from hypothesis.configuration import set_hypothesis_home_dir
    set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "emopulse-hypothesis"))

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message_factory import GetMessageClass
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from emopulse.stack import grpc_serving
from emopulse.v1 import api_pb2, api_pb2_grpc
from emopulse.v1 import results_pb2 as pb

pytestmark = [pytest.mark.slow,
              # the strategies hold 10,000-character examples; Hypothesis warns when it describes them
              pytest.mark.filterwarnings("ignore:Generating overly large repr")]

SERVICE = api_pb2.DESCRIPTOR.services_by_name["EmoPulse"]
METHODS = {m.name: m for m in SERVICE.methods}
UNARY = [m.name for m in SERVICE.methods if not m.client_streaming and not m.server_streaming]
C = grpc.StatusCode
# What a well-behaved API answers to a bad request. DEADLINE_EXCEEDED only where a stream is
# legitimately open (Subscribe to a job or stream that exists, SubscribeAlerts).
PROPER = {C.INVALID_ARGUMENT, C.NOT_FOUND, C.FAILED_PRECONDITION, C.RESOURCE_EXHAUSTED, C.OUT_OF_RANGE,
          C.ALREADY_EXISTS, C.UNAUTHENTICATED, C.PERMISSION_DENIED}
CALL_TIMEOUT_S = 15.0     # a unary call; only a stuck gateway takes this long
OPEN_STREAM_S = 1.0       # Subscribe / SubscribeAlerts are read this long, then left
ECHO_LIMIT = 300          # no error may repeat more of one input than this
DETAILS_LIMIT = 1000      # nor be longer than this
MIN_REQUESTS = 1000
WINDOWS = [10.0, 60.0, 300.0]  # EMOPULSE_PULSE_WINDOWS_S's default
FUZZ = settings(derandomize=True, database=None, deadline=None, phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck), print_blob=False)
# Examples per generated family (each one request); the hand-written hostile cases come on top.
EXAMPLES = {"unary": 520, "streams": 280, "raw": 300}


# ---- strategies ----------------------------------------------------------------------------------
SPECIAL_TEXT = [
    "", " ", "\x00", "\x00" * 8, "a\x00b", "\n", "\r\n", "\t", "../../../etc/passwd", "/etc/passwd", "..", ".",
    "s3://", "s3://media/", "stream:", "%s%s%s%n", "{}", "{0!r}", "'; DROP TABLE events; --", "' OR '1'='1",
    "$KV.jobs.>", "*", ">", "a.b.c", "jobs.*", "\u202egnp.exe", "\ufeff", "\U0001f600" * 10, "é", "²", "٣",
    "Ω", "日本語", "null", "None", "-1", "NaN", "1e309", "\\", '"', "'", "<script>alert(1)</script>",
    "${jndi:ldap://127.0.0.1:9/a}", "\x7f", "\u0000\uffff", "a" * 300, "a" * 10_000,
]


def _repeat(piece: str, n: int) -> str:
    return (piece * (n // len(piece) + 1))[:n]


# Huge strings: a short random piece repeated to 300 .. 20,000 characters (cheap to generate).
huge_text = st.builds(_repeat, st.text(min_size=1, max_size=8), st.integers(300, 20_000))
hostile_text = st.one_of(st.text(max_size=40), st.sampled_from(SPECIAL_TEXT), huge_text,
                         st.binary(max_size=60).map(lambda b: b.decode("latin-1")))
id_like = st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=1, max_size=64)
int32 = st.one_of(st.sampled_from([0, 1, 2, -1, 2**31 - 1, -2**31]), st.integers(-5, 25),
                  st.integers(-2**31, 2**31 - 1))
int64 = st.one_of(st.sampled_from([0, 1, -1, 2**63 - 1, -2**63]), st.integers(-5, 100),
                  st.integers(-2**63, 2**63 - 1))
doubles = st.one_of(st.sampled_from([0.0, -0.0, -1.0, 1e9, 1e308, float("inf"), float("-inf"), float("nan")]),
                    st.floats(allow_nan=True, allow_infinity=True))


def _odd_ids(known: list[str]) -> list[str]:
    """Ids that look almost right, or not at all."""
    base = known[0]
    return ["", " ", "0" * 32, uuid.uuid4().hex, base + "x", base.upper(), base[:-1], "../" + base, base + "\x00",
            base + ".", "." + base, base + " ", base + "/x", f"{base}.{base}", "*", ">", "$KV.jobs.>", "a.b", "a b",
            "é", "²", "٣", "日本語", "Ω" * 64, "-1", "null", "stream:" + base, "a" * 300, "a" * 10_000,
            "é" * 10_000, "0" * 299 + "\x00"]


def ids(known: list[str]):
    """An id: one that exists, an odd one, a plausible unknown one, or anything."""
    return st.one_of(st.sampled_from(known), st.sampled_from(_odd_ids(known)), id_like, hostile_text)


def _scalar(fd: FieldDescriptor):
    t = fd.type
    if t == FieldDescriptor.TYPE_STRING:
        return hostile_text
    if t == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=512)
    if t == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if t == FieldDescriptor.TYPE_DOUBLE:
        return doubles
    if t == FieldDescriptor.TYPE_FLOAT:
        return st.floats(width=32, allow_nan=True, allow_infinity=True)
    if t == FieldDescriptor.TYPE_ENUM:  # open enums: unknown numbers are allowed on the wire
        return st.one_of(st.sampled_from([v.number for v in fd.enum_type.values]), int32)
    if fd.cpp_type == FieldDescriptor.CPPTYPE_INT32:
        return int32
    if fd.cpp_type == FieldDescriptor.CPPTYPE_INT64:
        return int64
    if fd.cpp_type == FieldDescriptor.CPPTYPE_UINT32:
        return st.integers(0, 2**32 - 1)
    if fd.cpp_type == FieldDescriptor.CPPTYPE_UINT64:
        return st.integers(0, 2**64 - 1)
    raise AssertionError(f"no strategy for {fd.full_name}")


def message_of(cls, overrides: dict | None = None, depth: int = 0):
    """Any message of this class: every field random (strings hostile), some left unset."""
    overrides = overrides or {}
    fields = {}
    for fd in cls.DESCRIPTOR.fields:
        if fd.name in overrides:
            fields[fd.name] = overrides[fd.name]
            continue
        if fd.type == FieldDescriptor.TYPE_MESSAGE:
            if depth >= 2 or fd.message_type.GetOptions().map_entry:
                continue
            one = message_of(GetMessageClass(fd.message_type), depth=depth + 1)
        else:
            one = _scalar(fd)
        fields[fd.name] = st.lists(one, max_size=4) if fd.is_repeated else one
    return st.fixed_dictionaries({}, optional=fields).map(lambda values: _build(cls, values))


def _build(cls, values: dict):
    msg = cls()
    for name, value in values.items():
        fd = cls.DESCRIPTOR.fields_by_name[name]
        if fd.is_repeated:
            getattr(msg, name).extend(value)
        elif fd.type == FieldDescriptor.TYPE_MESSAGE:
            getattr(msg, name).CopyFrom(value)
        else:
            setattr(msg, name, value)
    return msg


speakers = st.one_of(message_of(api_pb2.Speakers),
                     st.tuples(st.integers(0, 20), st.integers(0, 20)).map(
                         lambda t: api_pb2.Speakers(min_speakers=min(t), max_speakers=max(t))))


def urls(schemes: list[str]):
    """Garbage, or a well-formed URL that leads nowhere (port 9 on loopback refuses at once)."""
    return st.one_of(hostile_text,
                     st.sampled_from(["http://[", "http://[::1", "rtsp://", "http://127.0.0.1:99999/a",
                                      "http://127.0.0.1:-1/", "http://user:pw@127.0.0.1:9/", "ftp://127.0.0.1:9/",
                                      "file:///etc/passwd", "rtsp:127.0.0.1", "//127.0.0.1:9/", "srt://127.0.0.1:9",
                                      "http://" + "a" * 20_000, "rtsp://127.0.0.1:9/" + "\x00" * 10]),
                     st.builds(lambda s, p: f"{s}://127.0.0.1:9/{p}", st.sampled_from(schemes), hostile_text))


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _wire(fields) -> bytes:
    """Protobuf-ish bytes: any field number with any wire type (invalid ones too) and any payload."""
    out = b""
    for number, wire_type, payload, n in fields:
        out += _varint((number << 3) | wire_type)
        if wire_type == 0:
            out += _varint(n)
        elif wire_type == 1:
            out += payload[:8].ljust(8, b"\0")
        elif wire_type == 2:
            out += _varint(len(payload) + (n % 3 == 0)) + payload  # a third of them claim a byte too many
        elif wire_type == 5:
            out += payload[:4].ljust(4, b"\0")
        else:  # 3, 4: groups; 6, 7: no such wire type
            out += payload
    return out


wire_fields = st.lists(st.tuples(st.integers(1, 20), st.integers(0, 7), st.binary(max_size=40),
                                 st.integers(0, 2**64 - 1)), max_size=6).map(_wire)


def raw_bytes(cls):
    """Bytes sent as a serialized `cls`: random, wire-level junk, or a real one cut or with a byte changed."""
    def mutate(args):
        data, at, value, cut = args
        data = data.SerializeToString()
        if not data:
            return bytes([value])
        at %= len(data)
        return data[:at] if cut else data[:at] + bytes([value]) + data[at + 1:]
    return st.one_of(st.binary(max_size=300), wire_fields,
                     st.tuples(message_of(cls), st.integers(0, 10_000), st.integers(0, 255), st.booleans()).map(mutate))


# ---- the record of answers -------------------------------------------------------------------------
def _abbr(value) -> str:
    if isinstance(value, (str, bytes)) and len(value) > 48:
        unit = "chars" if isinstance(value, str) else "bytes"
        return f"{value[:16]!r}...({len(value)} {unit})"
    return repr(value)


def describe(request) -> str:
    """A request (a message, a list of them, or raw bytes) in a line, long values shortened."""
    if isinstance(request, (bytes, bytearray)):
        return f"raw {_abbr(bytes(request))}"
    if isinstance(request, list):
        return "[" + ", ".join(describe(r) for r in request) + "]"
    parts = []
    for fd, value in request.ListFields():
        if fd.is_repeated:
            items = [describe(v) if fd.type == FieldDescriptor.TYPE_MESSAGE else _abbr(v) for v in value]
            parts.append(f"{fd.name}=[{', '.join(items)}]")
        elif fd.type == FieldDescriptor.TYPE_MESSAGE:
            parts.append(f"{fd.name}={describe(value)}")
        else:
            parts.append(f"{fd.name}={_abbr(value)}")
    return f"{type(request).__name__}({', '.join(parts)})"


def sent_strings(request, path: str = "") -> list[tuple[str, str]]:
    """Every string field of the request(s): (field path, value)."""
    if isinstance(request, (bytes, bytearray)):
        return []
    if isinstance(request, list):
        return [s for r in request for s in sent_strings(r, path)]
    out = []
    for fd, value in request.ListFields():
        name = f"{path}{fd.name}"
        values = list(value) if fd.is_repeated else [value]
        for v in values:
            if fd.type == FieldDescriptor.TYPE_MESSAGE:
                out += sent_strings(v, name + ".")
            elif fd.type == FieldDescriptor.TYPE_STRING:
                out.append((name, v))
    return out


def echoes(details: str, value: str) -> bool:
    """The details hold the first ECHO_LIMIT + 1 characters of value, as they are or as Python's
    repr writes them (an id cut to 64 characters is not an echo, however long its escapes)."""
    head = value[:ECHO_LIMIT + 1]
    return head in details or repr(head)[1:-1] in details


def _details(details: str) -> str:
    return f"{details[:240]!r}" + (f"...({len(details)} chars)" if len(details) > 240 else "")


@dataclass
class Anomaly:
    count: int = 0
    examples: list = field(default_factory=list)  # the smallest few: (input, code, details)


@dataclass
class Ledger:
    requests: int = 0
    answers: Counter = field(default_factory=Counter)          # (rpc, code name) -> count
    status: dict = field(default_factory=lambda: defaultdict(Anomaly))  # (rpc, problem): improper statuses
    echo: dict = field(default_factory=lambda: defaultdict(Anomaly))    # (rpc, problem): long inputs echoed
    created: list = field(default_factory=list)                # ids of jobs and streams the fuzz made
    tracing: bool = False                                      # while set, every answer goes to `traced`
    traced: list = field(default_factory=list)                 # (rpc, input, code, details): the hostile cases

    def call(self, rpc: str, request, invoke, may_wait: bool = False, parse=None):
        """invoke() once: the answer is counted, and judged. Returns the response (None on an error)."""
        self.requests += 1
        try:
            response = invoke()
        except grpc.RpcError as exc:
            self.judge(rpc, request, exc.code(), exc.details() or "", may_wait)
            if self.tracing:
                self.traced.append((rpc, describe(request), exc.code().name, _details(exc.details() or "")))
            return None
        if self.tracing:
            self.traced.append((rpc, describe(request), "OK", ""))
        if parse is not None:  # a raw call: the answer must be a real response
            try:
                response = parse(response)
            except Exception as exc:
                self.note(self.status, rpc, "answered OK with bytes that are not a response", request, C.OK, repr(exc))
                return None
        self.answers[(rpc, "OK")] += 1
        new_id = getattr(response, "id", "")
        if new_id and rpc in ("Upload", "Analyze", "StartStream", "PushStream"):
            self.created.append(new_id)
        return response

    def judge(self, rpc, request, code, details: str, may_wait: bool) -> None:
        self.answers[(rpc, code.name)] += 1
        if code not in PROPER and not (may_wait and code == C.DEADLINE_EXCEEDED):
            self.note(self.status, rpc, f"answered {code.name}", request, code, details)
        if "metadata size exceeds" in details:
            self.note(self.echo, rpc, "the error exceeded gRPC's metadata limit (the client saw only "
                                      "'Stream removed')", request, code, details)
            return
        found = [(path, value) for path, value in sent_strings(request)
                 if len(value) > ECHO_LIMIT and echoes(details, value)]
        # a field is not named for another's echo (two fields of one repeated character, say)
        echoed = sorted({p for p, v in found if not any(q != p and v[:ECHO_LIMIT + 1] in w for q, w in found)}
                        or {p for p, _ in found})
        if echoed:
            self.note(self.echo, rpc, f"echoes {' and '.join(echoed)} in full", request, code, details)
        elif len(details) > DETAILS_LIMIT:
            self.note(self.echo, rpc, f"details longer than {DETAILS_LIMIT} characters", request, code, details)

    @staticmethod
    def note(table, rpc, problem, request, code, details) -> None:
        entry = table[(rpc, problem)]
        entry.count += 1
        shown = describe(request)
        if any(e[0] == shown for e in entry.examples):
            return
        entry.examples.append((shown, code.name, _details(details)))
        entry.examples = sorted(entry.examples, key=lambda e: len(e[0]))[:4]

    @staticmethod
    def report(table) -> str:
        lines = []
        for (rpc, problem), entry in sorted(table.items()):
            lines.append(f"{rpc}: {problem} ({entry.count} requests), e.g.")
            lines += [f"    {shown}\n      -> {code} {details}" for shown, code, details in entry.examples]
        return "\n".join(lines)

    def as_json(self) -> dict:
        def rows(table):
            return [{"rpc": rpc, "problem": problem, "count": e.count,
                     "examples": [{"input": s, "code": c, "details": d} for s, c, d in e.examples]}
                    for (rpc, problem), e in sorted(table.items())]
        return {"requests": self.requests, "answers": {f"{r} {c}": n for (r, c), n in sorted(self.answers.items())},
                "status": rows(self.status), "echo": rows(self.echo), "created": self.created,
                "hostile_cases": [{"rpc": r, "input": i, "code": c, "details": d} for r, i, c, d in self.traced]}


# ---- calls ---------------------------------------------------------------------------------------
class Fuzzer:
    """Sends requests on its own channel (no retries, short deadlines) and records every answer."""

    def __init__(self, address: str, ledger: Ledger, waitable: set[str]):
        self.channel = grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 64 << 20),
                                                               ("grpc.enable_retries", 0)])
        self.stub = api_pb2_grpc.EmoPulseStub(self.channel)
        self.ledger = ledger
        self.waitable = waitable  # jobs and streams that exist: a Subscribe to them stays open

    def close(self) -> None:
        self.channel.close()

    def unary(self, rpc: str, request):
        return self.ledger.call(rpc, request, lambda: getattr(self.stub, rpc)(request, timeout=CALL_TIMEOUT_S))

    def client_stream(self, rpc: str, messages: list):
        call = getattr(self.stub, rpc)
        return self.ledger.call(rpc, messages, lambda: call(iter(messages), timeout=CALL_TIMEOUT_S))

    def _read(self, call, limit: int = 200) -> list:
        events = []
        for event in call:
            events.append(event)
            if len(events) >= limit:
                call.cancel()
                break
        return events

    def subscribe(self, request: api_pb2.SubscribeRequest):
        bad_after = request.start == api_pb2.SubscribeRequest.AFTER and request.after < 0
        may_wait = request.job_id in self.waitable and not bad_after
        return self.ledger.call("Subscribe", request,
                                lambda: self._read(self.stub.Subscribe(request, timeout=OPEN_STREAM_S)), may_wait)

    def subscribe_alerts(self, request: api_pb2.SubscribeAlertsRequest):
        return self.ledger.call("SubscribeAlerts", request,
                                lambda: self._read(self.stub.SubscribeAlerts(request, timeout=OPEN_STREAM_S / 3)),
                                may_wait=True)

    def raw(self, rpc: str, payload):
        """Bytes as the serialized request(s): the server must parse them itself."""
        method = METHODS[rpc]
        path = f"/{SERVICE.full_name}/{rpc}"
        response_cls = GetMessageClass(method.output_type)
        request_cls = GetMessageClass(method.input_type)
        if method.client_streaming:
            call = self.channel.stream_unary(path)
            return self.ledger.call(rpc, payload, lambda: call(iter(payload), timeout=CALL_TIMEOUT_S),
                                    parse=response_cls.FromString)
        if method.server_streaming:
            try:
                parsed = request_cls.FromString(payload)
                may_wait = rpc == "SubscribeAlerts" or (parsed.job_id in self.waitable and not (
                    parsed.start == api_pb2.SubscribeRequest.AFTER and parsed.after < 0))
            except Exception:
                may_wait = False
            call = self.channel.unary_stream(path)
            return self.ledger.call(rpc, payload, lambda: self._read(call(payload, timeout=OPEN_STREAM_S)), may_wait,
                                    parse=lambda events: [response_cls.FromString(e) for e in events])
        call = self.channel.unary_unary(path)
        return self.ledger.call(rpc, payload, lambda: call(payload, timeout=CALL_TIMEOUT_S),
                                parse=response_cls.FromString)


# ---- the campaign --------------------------------------------------------------------------------
def silence(stop: threading.Event):
    """A pushed live stream of silence in real time, until stop is set."""
    while not stop.is_set():
        yield b"\0\0" * 1600
        time.sleep(0.1)


def hostile_cases(good: str, live: str, pull: str) -> list[tuple[str, str, object]]:
    """Hand-written (kind, rpc, request) cases: the shapes the issue names, and the inputs most likely
    to hurt (long ids, paths the OS refuses, payloads over NATS's 1 MB limit)."""
    A = api_pb2
    long_ids = ["a" * 10_000, "é" * 10_000, "0" * 20_000, "..." * 3000, good * 300]
    cases: list[tuple[str, str, object]] = []
    for i in long_ids + ["é", "²", "日本語", "a.b", "*", "$KV.jobs.>", good + "\x00"]:
        cases += [("unary", "GetJob", A.GetJobRequest(job_id=i)), ("unary", "CancelJob", A.CancelJobRequest(job_id=i)),
                  ("unary", "GetStream", A.GetStreamRequest(stream_id=i)),
                  ("unary", "StopStream", A.StopStreamRequest(stream_id=i)),
                  ("unary", "GetAlertRules", A.GetAlertRulesRequest(stream_id=i)),
                  ("unary", "SetAlertRules", A.SetAlertRulesRequest(stream_id=i)),
                  ("unary", "ListWebhookDeliveries", A.ListWebhookDeliveriesRequest(stream_id=i)),
                  ("unary", "CompareEvents", A.CompareEventsRequest(ids=[i])),
                  ("unary", "Analyze", A.AnalyzeRequest(media="stream:" + i)),
                  ("subscribe", "Subscribe", A.SubscribeRequest(job_id=i)),
                  ("client", "PostAudience", [pb.AudienceMessage(stream_id=i, message_id="m1", text="hi")])]
    cases += [
        ("unary", "CompareEvents", A.CompareEventsRequest(ids=["x" * 10_000] * 10)),
        ("unary", "CompareEvents", A.CompareEventsRequest(ids=[good] * 11)),
        ("unary", "ListJobs", A.ListJobsRequest(limit=-1)),
        ("unary", "ListJobs", A.ListJobsRequest(limit=2**31 - 1)),
        *[("unary", "ListJobs", A.ListJobsRequest(page_token=t))
          for t in ["nan:x", "inf:", "-inf:zz", ":", "1e309:a", "x" * 20_000, "1:" + "a" * 20_000, "\x00:\x00"]],
        ("unary", "ListEvents", A.ListEventsRequest(limit=-1)),
        ("unary", "ListEvents", A.ListEventsRequest(limit=2**31 - 1, name="\x00" * 20_000, live_only=True)),
        *[("unary", "Analyze", A.AnalyzeRequest(media=m))
          for m in ["a" * 300, "a" * 20_000, "a/" * 5000, "a\x00b.mp4", "\x00", "s3://" + "b" * 20_000 + "/k",
                    "s3://Bad_Bucket!/k", "s3://media/" + "k" * 20_000, "http://" + "h" * 20_000, "stream:",
                    "stream:" + live, "stream:" + pull, "stream:" + good]],
        ("unary", "Analyze", A.AnalyzeRequest(media="missing.mp4", speakers=A.Speakers(min_speakers=-1))),
        ("unary", "Analyze", A.AnalyzeRequest(media="missing.mp4", request_id="r" * 1_500_000)),
        *[("unary", "StartStream", A.StartStreamRequest(url=u))
          for u in ["", "rtsp://", "http://[", "rtsp://" + "h" * 20_000, "nope://" + "x" * 20_000, "\x00" * 20_000]],
        ("unary", "StartStream", A.StartStreamRequest(url="rtsp://127.0.0.1:9/fuzz", name="n" * 1_500_000)),
        # alert rules: many rules of huge unchecked strings are over NATS's 1 MB payload limit
        ("unary", "SetAlertRules", A.SetAlertRulesRequest(stream_id=live, rules=[
            pb.AlertRule(name=f"r{n}", kind=pb.NEGATIVE_SPIKE, window_s=10, threshold=0.5, measure="m" * 20_000)
            for n in range(60)])),
        ("unary", "SetAlertRules", A.SetAlertRulesRequest(stream_id=live, webhooks=[
            A.Webhook(url="http://127.0.0.1:9/" + "p" * 20_000, secret="s")])),
        ("unary", "SetAlertRules", A.SetAlertRulesRequest(stream_id=live, webhooks=[A.Webhook(url="http://127.0.0.1:9/")])),
        ("unary", "SetAlertRules", A.SetAlertRulesRequest(stream_id=live, rules=[pb.AlertRule(name="x" * 20_000)])),
        ("unary", "SetAlertRules", A.SetAlertRulesRequest(stream_id=live, use_defaults=True, rules=[
            pb.AlertRule(name="r", kind=pb.STREAM_DOWN)])),
        # Upload: every wrong shape
        ("client", "Upload", []),
        ("client", "Upload", [A.UploadChunk(data=b"x" * 100)]),
        ("client", "Upload", [A.UploadChunk(data=b"x"), A.UploadChunk(info=A.UploadInfo(filename="a.mp4"))]),
        ("client", "Upload", [A.UploadChunk(info=A.UploadInfo(filename="a.mp4")),
                              A.UploadChunk(info=A.UploadInfo(filename="b.mp4")), A.UploadChunk(data=b"x")]),
        ("client", "Upload", [A.UploadChunk(info=A.UploadInfo(filename="a.mp4"))]),
        ("client", "Upload", [A.UploadChunk(info=A.UploadInfo(filename="f" * 20_000)), A.UploadChunk()]),
        ("client", "Upload", [A.UploadChunk(info=A.UploadInfo(filename="a.mp4", speakers=A.Speakers(
            min_speakers=5, max_speakers=2))), A.UploadChunk(data=b"x")]),
        # a job record over NATS's 1 MB payload limit
        ("client", "Upload", [A.UploadChunk(info=A.UploadInfo(filename="f" * 1_500_000)), A.UploadChunk(data=b"x")]),
        # PushStream: wrong shapes and formats
        ("client", "PushStream", []),
        ("client", "PushStream", [A.PushChunk(media=b"\0" * 100)]),
        ("client", "PushStream", [A.PushChunk(info=A.PushInfo(format="no-such-format"))]),
        ("client", "PushStream", [A.PushChunk(info=A.PushInfo(format="f" * 20_000))]),
        ("client", "PushStream", [A.PushChunk(info=A.PushInfo(format="mpegts\x00"))]),
        ("client", "PushStream", [A.PushChunk(info=A.PushInfo(format="pcm16")), A.PushChunk(media=b"\0" * 3200),
                                  A.PushChunk(info=A.PushInfo(format="pcm16"))]),
        # PostAudience: garbage
        ("client", "PostAudience", []),
        ("client", "PostAudience", [pb.AudienceMessage(stream_id=live, message_id="", text="x")]),
        ("client", "PostAudience", [pb.AudienceMessage(stream_id=live, message_id="m" * 20_000, text="x")]),
        ("client", "PostAudience", [pb.AudienceMessage(stream_id=live, message_id="fuzz-big", text="t" * 20_000)]),
        ("client", "PostAudience", [pb.AudienceMessage(stream_id=live, message_id="fuzz-nan", text="x",
                                                       time_s=float("nan"))]),
        ("client", "PostAudience", [pb.AudienceMessage(stream_id=live, message_id="fuzz-neg", text="x", time_s=-1)]),
        ("client", "PostAudience", [pb.AudienceMessage(stream_id=live, message_id="fuzz-ok", text="fine"),
                                    pb.AudienceMessage(stream_id="é" * 10_000, message_id="m2", text="x")]),
        # Subscribe: odd ids and negative `after`
        ("subscribe", "Subscribe", A.SubscribeRequest(job_id=good, start=A.SubscribeRequest.AFTER, after=-1)),
        ("subscribe", "Subscribe", A.SubscribeRequest(job_id=good, start=A.SubscribeRequest.AFTER, after=-2**63)),
        ("subscribe", "Subscribe", A.SubscribeRequest(job_id="", start=A.SubscribeRequest.AFTER, after=-1)),
        ("subscribe", "Subscribe", A.SubscribeRequest(job_id=pull, start=99, after=2**63 - 1)),
        ("subscribe", "Subscribe", A.SubscribeRequest(job_id=live, start=A.SubscribeRequest.NOW, after=-5)),
    ]
    # raw bytes the generated code cannot send: wrong wire types where the chunks' fields are
    cases += [
        ("raw", "Upload", [b"\x08\x01"]),                                     # info as a varint
        ("raw", "Upload", [b"\x0a\x03\x0a\x01\xff"]),                         # a filename that is not UTF-8
        ("raw", "Upload", [A.UploadChunk(info=A.UploadInfo(filename="a.mp4")).SerializeToString(),
                           b"\x15\x01\x02\x03\x04"]),                         # data as fixed32
        ("raw", "Upload", [A.UploadChunk(info=A.UploadInfo(filename="a.mp4")).SerializeToString(), b"\x12\x05ab"]),
        ("raw", "PushStream", [b"\x0a\x02\x22\x01"]),                          # a truncated format
        ("raw", "PostAudience", [b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"]),
        ("raw", "GetJob", b"\x0a\x05ab"), ("raw", "GetJob", b"\x0a\x02\xff\xfe"), ("raw", "GetJob", b"\x0f"),
        ("raw", "Subscribe", b"\x0a\x02\xff\xfe"), ("raw", "ListJobs", b"\x08"),
    ]
    return cases


@dataclass
class Campaign:
    ledger: Ledger
    seconds: float
    good_before: tuple
    good_after: tuple
    serving_before: dict
    serving_after: dict
    gateway_pid: tuple
    gateway_health: bool


@pytest.fixture(scope="module")
def campaign(stack, client, talking_clip):
    serving_before, pid_before = stack.status(), stack.pids.get("gateway")
    started = time.monotonic()
    # What exists while the fuzz runs: a good job (it must still succeed), a live pushed stream (so
    # audience messages and alert rules are judged, not refused as NOT_FOUND) and a pulled one.
    good = client.upload(talking_clip[0])
    stop, live_ids = threading.Event(), []
    pusher = threading.Thread(target=lambda: client.push_stream(silence(stop), name="fuzz-live",
                                                                on_start=live_ids.append), daemon=True)
    pusher.start()
    deadline = time.time() + 30
    while not live_ids and time.time() < deadline:
        time.sleep(0.05)
    assert live_ids, "the live stream did not start"
    live = live_ids[0]
    pull = client.start_stream("rtsp://127.0.0.1:9/fuzz-pull", name="fuzz-pull").id

    ledger = Ledger()
    fuzzer = Fuzzer(stack.gateway, ledger, waitable={good.id, live, pull})
    everyone = [good.id, live, pull]
    stoppable = [pull]  # the good job and the live stream must live through the fuzz
    try:
        run_hostile_cases(fuzzer, hostile_cases(good.id, live, pull))
        run_unary(fuzzer, everyone, stoppable, live)
        run_streams(fuzzer, everyone, live)
        run_raw(fuzzer)
        gateway_health = grpc_serving(stack.gateway, timeout=5)
    finally:
        stop.set()
        fuzzer.close()
        pusher.join(30)
    good_before = outcome(client, lambda: good)
    good_after = outcome(client, lambda: client.upload(talking_clip[0]))
    result = Campaign(ledger, time.monotonic() - started, good_before, good_after, serving_before, stack.status(),
                      (pid_before, stack.pids.get("gateway")), gateway_health)
    summary = Counter()
    for (rpc, code), n in ledger.answers.items():
        summary[code] += n
    print(f"\nfuzz: {ledger.requests} requests in {result.seconds:.0f} s; answers {dict(summary)}; "
          f"{len(ledger.created)} jobs and streams created")
    if os.environ.get("EMOPULSE_FUZZ_REPORT"):
        with open(os.environ["EMOPULSE_FUZZ_REPORT"], "w") as f:
            json.dump({**ledger.as_json(), "seconds": result.seconds}, f, indent=1)
    return result


def outcome(client, submit) -> tuple[list, object]:
    """A good job's (results, last event), or ([], the error) when it could not be followed."""
    try:
        return client.results(submit().id, timeout=300)
    except grpc.RpcError as exc:
        return [], exc


def run_hostile_cases(fuzzer: Fuzzer, cases) -> None:
    fuzzer.ledger.tracing = True
    for kind, rpc, request in cases:
        if kind == "unary":
            fuzzer.unary(rpc, request)
        elif kind == "client":
            fuzzer.client_stream(rpc, request)
        elif kind == "subscribe":
            fuzzer.subscribe(request)
        else:
            fuzzer.raw(rpc, request)
    fuzzer.ledger.tracing = False


def run_unary(fuzzer: Fuzzer, everyone: list[str], stoppable: list[str], live: str) -> None:
    """Every unary RPC with random fields; ids drawn from real, odd and random ones."""
    A = api_pb2
    any_id, stop_id = ids(everyone), ids(stoppable)
    rule = message_of(pb.AlertRule, {
        "name": st.one_of(id_like, hostile_text),
        "window_s": st.one_of(st.sampled_from(WINDOWS), doubles),
        "emotion": st.one_of(st.sampled_from(["anger", "joy", "", "ANGER"]), hostile_text),
        "measure": st.one_of(st.sampled_from(["speaking", "audience", ""]), hostile_text)})
    webhook = message_of(A.Webhook, {"url": urls(["http", "https"])})
    requests = {
        "GetJob": message_of(A.GetJobRequest, {"job_id": any_id}),
        "CancelJob": message_of(A.CancelJobRequest, {"job_id": stop_id}),
        "ListJobs": message_of(A.ListJobsRequest, {"page_token": st.one_of(
            hostile_text, st.builds(lambda f, t: f"{f}:{t}", doubles, hostile_text))}),
        "GetStream": message_of(A.GetStreamRequest, {"stream_id": any_id}),
        "StopStream": message_of(A.StopStreamRequest, {"stream_id": stop_id}),
        "ListStreams": message_of(A.ListStreamsRequest),
        "Analyze": message_of(A.AnalyzeRequest, {"speakers": speakers, "media": st.one_of(
            hostile_text, any_id.map(lambda i: "stream:" + i),
            st.builds(lambda b, k: f"s3://{b}/{k}", st.one_of(st.just("media"), hostile_text), hostile_text))}),
        "StartStream": message_of(A.StartStreamRequest, {"speakers": speakers, "url": urls(
            ["rtsp", "rtmp", "srt", "http", "https", "ftp", "file"])}),
        "SetAlertRules": message_of(A.SetAlertRulesRequest, {"stream_id": ids([live] + everyone),
                                                             "rules": st.lists(rule, max_size=4),
                                                             "webhooks": st.lists(webhook, max_size=3)}),
        "GetAlertRules": message_of(A.GetAlertRulesRequest, {"stream_id": any_id}),
        "ListWebhookDeliveries": message_of(A.ListWebhookDeliveriesRequest, {"stream_id": any_id}),
        "ListEvents": message_of(A.ListEventsRequest),
        "CompareEvents": message_of(A.CompareEventsRequest, {"ids": st.lists(any_id, max_size=12)}),
    }
    for name in UNARY:  # an RPC added later is fuzzed too, every field random
        requests.setdefault(name, message_of(GetMessageClass(METHODS[name].input_type)))
    every_unary = st.one_of([st.tuples(st.just(rpc), strategy) for rpc, strategy in requests.items()])

    @settings(FUZZ, max_examples=EXAMPLES["unary"])
    @given(every_unary)
    def fuzz_unary(case):
        rpc, request = case
        fuzzer.unary(rpc, request)

    fuzz_unary()


def run_streams(fuzzer: Fuzzer, everyone: list[str], live: str) -> None:
    """The streaming RPCs: chunks in any order and shape, odd ids, negative `after`."""
    A = api_pb2
    info = message_of(A.UploadInfo, {"speakers": speakers})
    upload_chunk = st.one_of(info.map(lambda i: A.UploadChunk(info=i)),
                             st.binary(max_size=2048).map(lambda b: A.UploadChunk(data=b)), st.just(A.UploadChunk()))
    push_info = message_of(A.PushInfo, {"speakers": speakers, "format": st.one_of(
        st.sampled_from(["pcm16", "mpegts", "webm", "matroska", "flv", "wav", "mp4", "", "PCM16", "image2", "lavfi"]),
        hostile_text)})
    push_chunk = st.one_of(push_info.map(lambda i: A.PushChunk(info=i)),
                           st.binary(max_size=4096).map(lambda b: A.PushChunk(media=b)),
                           message_of(pb.Frame).map(lambda f: A.PushChunk(frame=f)), st.just(A.PushChunk()))
    audience = message_of(pb.AudienceMessage, {"stream_id": ids([live] + everyone), "message_id": st.one_of(
        id_like, hostile_text), "text": st.one_of(st.text(max_size=80), hostile_text)})
    streams = st.one_of(
        st.tuples(st.just("Upload"), st.lists(upload_chunk, max_size=5)),
        st.tuples(st.just("PushStream"), st.lists(push_chunk, max_size=5)),
        st.tuples(st.just("PostAudience"), st.lists(audience, max_size=5)),
        st.tuples(st.just("Subscribe"), message_of(A.SubscribeRequest, {"job_id": ids(everyone)})),
        st.one_of(  # one branch: SubscribeAlerts always stays open, and so costs a deadline
            st.tuples(st.just("Subscribe"), message_of(A.SubscribeRequest, {"job_id": ids(everyone), "start": st.just(
                A.SubscribeRequest.AFTER), "after": st.integers(-2**63, -1)})),
            st.tuples(st.just("SubscribeAlerts"), message_of(A.SubscribeAlertsRequest, {"stream_ids": st.lists(
                ids(everyone), max_size=3)}))),
    )

    @settings(FUZZ, max_examples=EXAMPLES["streams"])
    @given(streams)
    def fuzz_streams(case):
        rpc, request = case
        if rpc == "Subscribe":
            fuzzer.subscribe(request)
        elif rpc == "SubscribeAlerts":
            fuzzer.subscribe_alerts(request)
        else:
            fuzzer.client_stream(rpc, request)

    fuzz_streams()


def run_raw(fuzzer: Fuzzer) -> None:
    """Bytes that are not (or not quite) the request's protobuf, for every RPC of the API."""
    def payload(name: str):
        method = METHODS[name]
        one = raw_bytes(GetMessageClass(method.input_type))
        return st.lists(one, min_size=1, max_size=3) if method.client_streaming else one
    every_rpc = st.one_of([st.tuples(st.just(name), payload(name)) for name in METHODS])

    @settings(FUZZ, max_examples=EXAMPLES["raw"])
    @given(every_rpc)
    def fuzz_raw(case):
        rpc, data = case
        fuzzer.raw(rpc, data)

    fuzz_raw()


# ---- the checks ----------------------------------------------------------------------------------
def test_the_fuzz_sends_over_a_thousand_requests(campaign):
    assert campaign.ledger.requests >= MIN_REQUESTS
    assert {rpc for rpc, _ in campaign.ledger.answers} == set(METHODS)  # every RPC of the API was hit
    codes = Counter(code for _, code in campaign.ledger.answers.elements())
    assert codes["OK"] and codes["NOT_FOUND"], f"the requests never got past the front door: {dict(codes)}"


def test_the_services_stay_up_and_good_jobs_succeed(campaign):
    assert campaign.gateway_health, "the gateway's health check was not SERVING after the fuzz"
    before, after = campaign.gateway_pid
    assert before == after, "the gateway restarted"
    up = {"serving", "ready"}
    went_down = {n: s for n, s in campaign.serving_after.items() if campaign.serving_before.get(n) in up and s not in up}
    assert not went_down, f"down after the fuzz: {went_down}"
    for name, (results, last) in (("submitted before the fuzz", campaign.good_before),
                                  ("submitted after the fuzz", campaign.good_after)):
        assert isinstance(last, pb.JobEvent) and last.HasField("summary"), f"the good job {name} failed: {last}"
        assert last.summary.utterance_count == 3 and len(results) == 3, name


def test_every_answer_is_a_proper_status(campaign):
    """Never UNKNOWN or INTERNAL (a crash inside the gateway), nor UNAVAILABLE (it went away)."""
    assert not campaign.ledger.status, "improper answers:\n" + Ledger.report(campaign.ledger.status)


def test_errors_do_not_echo_long_inputs(campaign):
    """An error names what was wrong in under DETAILS_LIMIT characters and repeats at most
    ECHO_LIMIT of any one input: a 10,000-character id is not sent back."""
    assert not campaign.ledger.echo, "long inputs echoed:\n" + Ledger.report(campaign.ledger.echo)
