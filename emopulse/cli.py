"""`emopulse` command line: run the embedded stack and analyse videos with it."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import grpc
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError

from emopulse.client import Client, speaker_bounds
from emopulse.labels import EMOTIONS, MODALITIES, SENTIMENTS
from emopulse.v1 import api_pb2
from emopulse.v1 import results_pb2 as pb

CLI_RECONNECT_S = 10.0  # how long a command waits for a restarting gateway before saying it is unreachable


class UserError(Exception):
    """A problem the user can fix: printed as one sentence, exit code 2."""


def data_dir(args) -> Path:
    return Path(args.data_dir or os.environ.get("EMOPULSE_DATA_DIR") or Path.home() / ".local/share/emopulse")


def running_stack(args):
    from emopulse.stack import Stack
    stack = Stack.load(data_dir(args))
    return stack if stack and stack.status().get("gateway") == "serving" else None


def cmd_up(args) -> int:
    from emopulse import weights
    from emopulse.stack import Stack, parse_workers
    if running_stack(args):
        raise UserError(f"a stack is already running from {data_dir(args)}: `emopulse down` first, or use another --data-dir")
    weights.prepare_whisper_base(progress=lambda msg: print(msg, file=sys.stderr))
    try:
        workers = parse_workers(getattr(args, "workers", "") or os.environ.get("EMOPULSE_STACK_WORKERS", ""))
    except ValueError as exc:
        raise UserError(f"--workers {exc}") from None
    stack = Stack.new(data_dir(args), gateway_port=args.port, model_repository=getattr(args, "models", None),
                      workers=workers)
    try:
        stack.start(progress=lambda msg: print(f"… {msg}", file=sys.stderr))
    except RuntimeError as exc:
        stack.stop()
        raise UserError(f"the stack did not start: {exc}") from None
    print(f"EmoPulse is up: gateway {stack.gateway} (logs in {stack.data_dir / 'logs'}, metrics:"
          f" {', '.join(f'{k}={v}' for k, v in stack.scrape_targets().items())})")
    return 0


def recorded_stack(args):
    """The stack `up` recorded in the data dir, or None (said on stdout)."""
    from emopulse.stack import Stack
    stack = Stack.load(data_dir(args))
    if stack is None:
        print(f"no stack recorded in {data_dir(args)}")
    return stack


def cmd_down(args) -> int:
    stack = recorded_stack(args)
    if stack:
        stack.stop()
        print("stopped")
    return 0


def cmd_status(args) -> int:
    stack = recorded_stack(args)
    if stack is None:
        return 1
    states = stack.status()
    for name, state in states.items():
        print(f"{name:12s} {state}")
    print(f"gateway      {stack.gateway}")
    return 0 if all(s in ("ready", "serving") for s in states.values()) else 1


def format_result(r: pb.UtteranceResult) -> str:
    emotion = max(range(len(EMOTIONS)), key=lambda i: r.emotion[i])
    sentiment = max(range(len(SENTIMENTS)), key=lambda i: r.sentiment[i])
    used = [m for m, entry in zip(MODALITIES, r.modalities) if entry.present]
    late = f"; timed out: {', '.join(r.timed_out)}" if r.timed_out else ""
    return (f"[{r.start_s:7.2f}s – {r.end_s:7.2f}s] {r.speaker or '-':3s} {EMOTIONS[emotion]:8s} {r.emotion[emotion]:.2f}  "
            f"{SENTIMENTS[sentiment]:8s} {r.sentiment[sentiment]:.2f}  ({'+'.join(used)}{late})  {r.text}")


def format_summary(s: pb.Summary) -> str:
    def dist(d):
        return ", ".join(f"{k} {v:.0%}" for k, v in sorted(d.items(), key=lambda kv: -kv[1]) if v > 0)
    lines = [f"{s.utterance_count} utterances in {s.duration_s:.1f}s" + (f" ({s.note})" if s.note else "")]
    if s.utterance_count:
        lines += [f"emotions:   {dist(s.emotion_distribution)}", f"sentiment:  {dist(s.sentiment_distribution)}"]
    for p in s.speakers:
        top = max(EMOTIONS, key=lambda e: p.emotion_distribution.get(e, 0.0)) if p.emotion_distribution else "-"
        lines.append(f"{p.speaker:3s} {p.utterance_count:3d} utterances, {p.talk_time_s:6.1f}s talk ({p.talk_share:.0%}), "
                     f"sentiment {p.sentiment:+.2f}, mostly {top}")
    if s.reaction_count:  # faces read while nobody spoke
        lines.append(f"reactions:  {s.reaction_count}, faces showing {dist(s.reaction_expression)}")
    return "\n".join(lines)


def format_state(status: pb.StreamStatus) -> str:
    state = pb.StreamState.Name(status.state).removeprefix("STREAM_")
    return f"stream {state}" + (f": {status.detail}" if status.detail else "")


class LiveLine:
    """The interim transcript on one line that each newer partial rewrites (on a terminal only)."""

    def __init__(self):
        self.shown = sys.stdout.isatty()
        self.state, self.text = "", ""

    def clear(self) -> None:
        if self.shown and self.text:
            print("\r\033[K", end="", flush=True)
            self.text = ""

    def partial(self, partial: pb.Partial, lag_s: float) -> None:
        if self.shown:
            self.text = partial.text
            print(f"\r\033[K… {partial.text}  [{self.state or 'LIVE'}, lag {lag_s:.1f} s]"[:200], end="", flush=True)


def follow(client: Client, job_id: str, as_json: bool, report: str | None = None, after: int = 0) -> int:
    code, results, summary = 0, [], None
    line, lag_s = LiveLine(), 0.0
    for event in client.subscribe(job_id, after=after):
        kind = event.WhichOneof("event") or event.WhichOneof("live")
        if kind == "result":
            results.append(event.result)
        elif kind == "summary":
            summary = event.summary
        elif kind == "ended":
            code = 1
        if as_json:
            print(json.dumps({"event": kind, "sequence": event.sequence, **MessageToDict(getattr(event, kind))}),
                  flush=True)
        elif kind == "partial":
            line.partial(event.partial, lag_s)
        elif kind in ("pulse", "audience", "reaction"):
            pass  # a terminal shows utterances (reactions in the summary); these are in --json and the pulse
        else:
            line.clear()
            if kind == "stream_state":
                line.state = pb.StreamState.Name(event.stream_state.state).removeprefix("STREAM_")
                lag_s = event.stream_state.lag_s
                print(format_state(event.stream_state), file=sys.stderr, flush=True)
            elif kind == "result":
                print(format_result(event.result), flush=True)
            elif kind == "alert":
                print(format_alert(event.alert), file=sys.stderr, flush=True)
            elif kind == "summary":
                print(format_summary(event.summary))
            elif kind == "ended":
                print(f"job {pb.JobState.Name(event.ended.state)}: {event.ended.reason}", file=sys.stderr)
    if report:
        from emopulse.report import render
        Path(report).write_text(render(client.get_job(job_id), results, summary))
        print(f"report written to {report}", file=sys.stderr)
    return code


def gateway_for(args) -> tuple[str, object]:
    """The gateway to use, and a stack this command started (to stop afterwards)."""
    if args.gateway:
        return args.gateway, None
    stack = running_stack(args)
    if stack:
        return stack.gateway, None
    if not getattr(args, "up", False):
        raise UserError("no EmoPulse stack is running: start one with `emopulse up`, pass --up, or give --gateway HOST:PORT")
    cmd_up(args)
    stack = running_stack(args)
    return stack.gateway, stack


def connect(args, address: str) -> Client:
    """A client of the gateway: TLS per --tls/--ca/--cert/--key, the API key from EMOPULSE_API_KEY."""
    try:
        return Client(address, reconnect_s=CLI_RECONNECT_S, tls=args.tls, ca=args.ca, cert=args.cert, key=args.key)
    except (OSError, ValueError) as exc:
        raise UserError(f"TLS: {exc}") from None


def add_speaker_options(parser) -> None:
    parser.add_argument("--min-speakers", type=int, default=0, help="at least this many people speak (default: estimate)")
    parser.add_argument("--max-speakers", type=int, default=0, help="at most this many people speak (default: estimate)")


def speakers_of(args):
    return speaker_bounds(args.min_speakers, args.max_speakers)


def cmd_analyze(args) -> int:
    path = Path(args.video)
    if not path.is_file():
        raise UserError(f"{args.video}: no such file")
    address, started = gateway_for(args)
    try:
        with connect(args, address) as client:
            def progress(sent, total):
                if not args.json and sys.stderr.isatty():
                    print(f"\ruploading {path.name}: {sent / max(total, 1):4.0%}", end="", file=sys.stderr, flush=True)
            job = client.upload(path, language=args.language, progress=progress, speakers=speakers_of(args))
            if not args.json:
                print(f"\njob {job.id}", file=sys.stderr)
            return follow(client, job.id, args.json, args.report)
    finally:
        if started:
            started.stop()


def with_client(args, action) -> int:
    address, _ = gateway_for(args)
    with connect(args, address) as client:
        return action(client)


def cmd_jobs(args) -> int:
    def show(client):
        for job in client.list_jobs():
            print(f"{job.id}  {pb.JobState.Name(job.state):9s}  {job.utterances_total:3d} utt  {job.filename}  {job.reason}")
        return 0
    return with_client(args, show)


def cmd_watch(args) -> int:
    return with_client(args, lambda client: follow(client, args.job_id, args.json, args.report, args.after))


def cmd_live(args) -> int:
    if bool(args.url) == bool(args.file):
        raise UserError("give a stream URL (rtsp://, rtmp://, srt://, http(s)://…m3u8 or .ts) or --file VIDEO")
    if args.file and not Path(args.file).is_file():
        raise UserError(f"{args.file}: no such file")
    address, started = gateway_for(args)
    try:
        with connect(args, address) as client:
            stream_id = push_file(client, args) if args.file else \
                client.start_stream(args.url, name=args.name, language=args.language, speakers=speakers_of(args)).id
            if not args.json:
                print(f"stream {stream_id}", file=sys.stderr)
            try:
                code = follow(client, stream_id, args.json, args.report)
            except KeyboardInterrupt:
                if args.stop_on_exit:
                    client.stop_stream(stream_id)
                    print(f"\nstream {stream_id} stopped", file=sys.stderr)
                else:
                    print(f"\nstill running: `emopulse stop {stream_id}` ends it", file=sys.stderr)
                return 130
            stream = client.get_stream(stream_id)
            if stream.state == pb.STREAM_FAILED:
                print(f"stream FAILED: {stream.reason}", file=sys.stderr)
                return 1
            return code
    finally:
        if started:
            started.stop()


def push_file(client: Client, args) -> str:
    """Play a local video into a pushed stream in real time (in the background); its id."""
    import threading
    from emopulse.client import file_chunks
    started, failed = threading.Event(), []
    ids: list[str] = []

    def on_start(stream_id: str) -> None:
        ids.append(stream_id)
        started.set()

    def push() -> None:
        try:
            client.push_stream(file_chunks(args.file, loop=args.loop), name=args.name or Path(args.file).name,
                               language=args.language, on_start=on_start, speakers=speakers_of(args))
        except grpc.RpcError as exc:
            failed.append(exc)
            started.set()
    threading.Thread(target=push, daemon=True).start()
    started.wait()
    if failed:
        raise failed[0]
    return ids[0]


def cmd_streams(args) -> int:
    def show(client):
        for s in client.list_streams():
            state = pb.StreamState.Name(s.state).removeprefix("STREAM_")
            print(f"{s.id}  {state:12s}  {s.media_seconds:7.1f}s  {s.utterances:3d} utt  lag {s.lag_s:4.1f}s  "
                  f"{s.name or s.url}  {s.reason or s.detail}")
        return 0
    return with_client(args, show)


def cmd_stop(args) -> int:
    def stop(client):
        stream = client.stop_stream(args.stream_id)
        print(f"stream {stream.id} stopping: it ends once the speech in progress is analysed")
        return 0
    return with_client(args, stop)


def format_alert(alert: pb.Alert) -> str:
    severity = pb.Severity.Name(alert.rule.severity)
    quote = f'  "{alert.quotes[-1]}"' if alert.quotes else ""
    return f"ALERT {severity} {alert.rule.name} at {alert.media_s:.0f} s: {alert.message}{quote}"


def rules_from(path: str) -> list[pb.AlertRule]:
    """Rules from a JSON file: a list of AlertRule objects (the form `emopulse alerts ID --json` prints)."""
    try:
        data = json.loads(Path(path).read_text())
        return [ParseDict(rule, pb.AlertRule()) for rule in (data.get("rules", []) if isinstance(data, dict) else data)]
    except (OSError, ValueError, ParseError) as exc:
        raise UserError(f"{path}: not a list of alert rules: {exc}") from None


def cmd_alerts(args) -> int:
    def alerts(client):
        if args.watch:
            for alert in client.subscribe_alerts(stream_ids=args.stream_id):
                print(json.dumps(MessageToDict(alert)) if args.json else format_alert(alert), flush=True)
            return 0
        if len(args.stream_id) != 1:
            raise UserError("give one stream id (several only with --watch)")
        stream_id = args.stream_id[0]
        if args.log:
            for d in client.webhook_deliveries(stream_id):
                outcome = "delivered" if d.delivered else f"failed: {d.error}"
                print(json.dumps(MessageToDict(d)) if args.json else
                      f"{d.alert_id}  attempt {d.attempt}  {d.url}  HTTP {d.status or '-'}  {outcome}")
            return 0
        if args.rules or args.webhook or args.defaults:
            hooks = [api_pb2.Webhook(url=url, secret=args.secret or "") for url in args.webhook]
            current = client.get_alert_rules(stream_id)
            rules = rules_from(args.rules) if args.rules else ([] if args.defaults else list(current.rules))
            if not args.webhook and not args.defaults and current.webhooks:
                raise UserError("the stream has webhooks: give them again with --webhook URL --secret S "
                                "(secrets are never read back)")
            shown = client.set_alert_rules(stream_id, rules, hooks, use_defaults=not rules)
        else:
            shown = client.get_alert_rules(stream_id)
        if args.json:
            print(json.dumps(MessageToDict(shown), indent=2))
        else:
            print(f"stream {stream_id}: {'default rules' if shown.defaults else 'its own rules'}")
            for r in shown.rules:
                print(f"  {r.name:18s} {pb.AlertKind.Name(r.kind):16s} threshold {r.threshold:g}  window {r.window_s:g} s  "
                      f"for {r.for_s:g} s  clear {r.clear:g}  min {r.min_count}  cooldown {r.cooldown_s:g} s  "
                      f"{pb.Severity.Name(r.severity)}{'  ' + r.emotion if r.emotion else ''}")
            for h in shown.webhooks:
                print(f"  webhook {h.url}")
        return 0
    return with_client(args, alerts)


def cmd_audience(args) -> int:
    """Audience messages from stdin, one JSON object a line: {"id", "text", "author", "time_s"}."""
    def lines():
        for n, line in enumerate(sys.stdin, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError:
                    raise UserError(f"line {n} of the input is not JSON") from None

    def post(client):
        done = client.post_audience(args.stream_id, lines())
        print(f"{done.accepted} messages accepted, {done.duplicates} already there")
        return 0
    return with_client(args, post)


def format_event(e: api_pb2.EventRecord) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.ended_at)) if e.ended_at else "-"
    return (f"{e.id}  {'live' if e.live else 'file'}  {when}  {e.duration_s:7.1f} s  {e.utterances:4d} utt  "
            f"sentiment {e.mean_sentiment:+.2f}  negative {e.negative_share:4.0%}  engagement {e.speaking_ratio:4.0%}  "
            f"audience {e.audience_messages} ({e.audience_sentiment:+.2f})  reactions {e.reactions}  "
            f"alerts {e.alerts}  {e.name}")


def cmd_history(args) -> int:
    def show(client):
        for e in client.list_events(args.limit, args.name, args.live):
            print(json.dumps(MessageToDict(e)) if args.json else format_event(e))
        return 0
    return with_client(args, show)


ENDED = (pb.SUCCEEDED, pb.FAILED, pb.CANCELLED)


def cmd_report(args) -> int:
    """The event's page: from its own events while they are kept (the figures computed as the history
    computes them), else from the history; --compare adds ended events from the history."""
    from emopulse.processing import history
    from emopulse.report import render_event
    from emopulse.runtime.settings import Settings

    def missing(exc: grpc.RpcError) -> bool:
        return exc.code() == grpc.StatusCode.NOT_FOUND

    def report(client):
        try:
            job = client.get_job(args.id)
        except grpc.RpcError as exc:
            if not missing(exc):
                raise
            job = None
        events = []
        if job is not None:
            try:  # an event in progress: what has happened so far
                events = list(client.subscribe(args.id, timeout=None if job.state in ENDED else args.wait))
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise
        stored = []
        try:
            stored = client.compare_events([args.id])
        except grpc.RpcError as exc:
            if not missing(exc) or job is None:
                raise
        if stored:
            main = stored[0]
        else:  # not in the history yet (in progress, or just ended): summarised here the same way
            s = Settings.from_env()
            main = history.record(job, events, s.history_window_s, s.pulse_every_s)
        compare = client.compare_events(args.compare) if args.compare else []
        live = [e for e in events if e.WhichOneof("live")]
        page = render_event(main, [e.result for e in events if e.HasField("result")],
                            [e.audience for e in live if e.HasField("audience")],
                            [e.reaction for e in live if e.HasField("reaction")], compare)
        Path(args.out).write_text(page)
        print(f"report written to {args.out}", file=sys.stderr)
        return 0
    return with_client(args, report)


def cmd_cancel(args) -> int:
    def cancel(client):
        job = client.cancel(args.job_id)
        print(f"job {job.id} {pb.JobState.Name(job.state)}")
        return 0
    return with_client(args, cancel)


def cmd_keys(args) -> int:
    """API keys, straight in the key store on NATS: the embedded stack's (data dir) or --nats URL's."""
    import asyncio

    import nats

    from emopulse.runtime.auth import KeyStore
    from emopulse.runtime.usage import UsageStore
    from emopulse.runtime.settings import Settings
    from emopulse.stack import Stack

    stack = None if args.nats else Stack.load(data_dir(args))
    url = args.nats or (stack.nats_url if stack else os.environ.get("EMOPULSE_NATS_URL", ""))
    if not url:
        raise UserError(f"no stack recorded in {data_dir(args)}: give the deployment's NATS with --nats URL")

    def when(t: float) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.gmtime(t)) if t else "-"

    async def run() -> int:
        try:
            nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=1)
        except Exception as exc:
            raise UserError(f"cannot reach NATS for the keys: {exc}") from None
        try:
            settings = Settings.from_env()
            keys = await KeyStore.open(nc.jetstream(), settings)
            if args.action == "create":
                limits = {}
                for item in args.quota or []:
                    name, _, value = item.partition("=")
                    limits[name.strip()] = value
                record, key = await keys.create(args.name or "", args.tenant or "", args.admin, limits)
                print(key)
                print(f"key {record.id} ({record.name}, tenant {record.tenant}{', admin' if record.admin else ''}): "
                      "shown this once; only a hash of it is kept", file=sys.stderr)
            elif args.action == "list":
                usage = await UsageStore.open(nc.jetstream(), settings.stream_replicas, settings.stream_max_age_s)
                print(f"{'ID':16s}  {'NAME':20s}  {'TENANT':16s}  ROLE   CREATED           LAST USED         "
                      f"REVOKED           TENANT'S USE THIS MONTH")
                for r in await keys.all():
                    used = await usage.get(r.tenant, time.time())
                    print(f"{r.id:16s}  {r.name[:20]:20s}  {r.tenant[:16]:16s}  {'admin' if r.admin else 'user ':5s}  "
                          f"{when(r.created_at):16s}  {when(r.last_used_at):16s}  {when(r.revoked_at):16s}  "
                          f"{used['media_s'] / 60:.1f} min, {used['jobs']} jobs, {used['streams']} streams")
            else:
                record = await keys.revoke(args.key_id or "")
                print(f"key {record.id} ({record.name}) revoked: refused within {keys.cache_s:g} s on every gateway")
            return 0
        except (ValueError, KeyError) as exc:
            raise UserError(str(exc.args[0] if exc.args else exc)) from None
        finally:
            await nc.close()
    return asyncio.run(run())


def cmd_usage(args) -> int:
    def show(client):
        u = client.get_usage(args.tenant or "")
        limits = dict(u.limits)

        def of(name: str, unit: str = "") -> str:
            return f" of {limits[name]:g}{unit}" if limits.get(name) else " (no limit)"
        print(f"tenant {u.tenant}, {u.month} (resets {u.resets_at})")
        print(f"media minutes   {u.media_minutes:.1f}{of('media_minutes_per_month')}")
        print(f"jobs            {u.jobs} this month, {u.running_jobs} running{of('concurrent_jobs')} at once")
        print(f"streams         {u.streams} this month, {u.running_streams} running{of('concurrent_streams')} at once")
        print(f"uploaded        {u.upload_bytes / 1024**2:.1f} MiB (per upload{of('upload_bytes', ' bytes')})")
        print(f"requests        {limits.get('requests_per_second', 0):g}/s, burst {limits.get('burst', 0):g}; "
              f"audience {limits.get('audience_per_minute', 0):g}/min")
        return 0
    return with_client(args, show)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="emopulse", description="Per-utterance emotion and sentiment from video.")
    p.add_argument("--data-dir", help="embedded stack's data dir (default $EMOPULSE_DATA_DIR or ~/.local/share/emopulse)")
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the embedded stack in the background")
    up.add_argument("--port", type=int, default=int(os.environ.get("EMOPULSE_GRPC_PORT", 50051)), help="gateway port")
    up.add_argument("--models", help="Triton model repository to serve (default: the repository's models/)")
    up.add_argument("--workers", help="processes per worker, e.g. vision=2,audiotext=2 (default 1 each; "
                                      "env EMOPULSE_STACK_WORKERS)")
    up.set_defaults(run=cmd_up)
    sub.add_parser("down", help="stop the embedded stack").set_defaults(run=cmd_down)
    keys = sub.add_parser("keys", help="API keys (EMOPULSE_AUTH=on): create, list, revoke")
    keys.add_argument("action", choices=("create", "list", "revoke"))
    keys.add_argument("key_id", nargs="?", help="revoke: the key's id (from `keys list`)")
    keys.add_argument("--name", help="create: what the key is for")
    keys.add_argument("--tenant", help="create: the tenant its jobs belong to (default: a tenant of its own)")
    keys.add_argument("--admin", action="store_true", help="create: the key sees every tenant")
    keys.add_argument("--quota", action="append", metavar="NAME=VALUE",
                      help="create: a quota of its own, e.g. media_minutes_per_month=60 or requests_per_second=5 "
                           "(repeatable; 0 = unlimited)")
    keys.add_argument("--nats", help="a deployment's NATS URL (default: the embedded stack in the data dir)")
    keys.set_defaults(run=cmd_keys)
    usage = sub.add_parser("usage", help="this month's usage of your API key's tenant, against its quotas")
    usage.add_argument("--tenant", help="another tenant's (admin keys only)")
    usage.set_defaults(run=cmd_usage)
    sub.add_parser("status", help="health of each component").set_defaults(run=cmd_status)
    analyze = sub.add_parser("analyze", help="upload a video and print each utterance as it is analysed")
    analyze.add_argument("video")
    analyze.add_argument("--language", default="", help="spoken language (ISO code); default: detect")
    add_speaker_options(analyze)
    analyze.add_argument("--up", action="store_true", help="start the embedded stack for this run if none is running")
    analyze.add_argument("--port", type=int, default=50051, help=argparse.SUPPRESS)
    analyze.set_defaults(run=cmd_analyze)
    sub.add_parser("jobs", help="list jobs").set_defaults(run=cmd_jobs)
    watch = sub.add_parser("watch", help="print a job's results from the start (or after an event)")
    watch.add_argument("job_id")
    watch.add_argument("--after", type=int, default=0, metavar="SEQUENCE",
                       help="only the events after this sequence number (the `sequence` of --json lines)")
    watch.set_defaults(run=cmd_watch)
    cancel = sub.add_parser("cancel", help="cancel a job")
    cancel.add_argument("job_id")
    cancel.set_defaults(run=cmd_cancel)
    live = sub.add_parser("live", help="analyse a live stream and print each utterance as it is analysed")
    live.add_argument("url", nargs="?", help="rtsp://, rtmp://, srt://, or http(s):// (HLS .m3u8 or MPEG-TS)")
    live.add_argument("--file", help="play a local video as a live source in real time instead")
    live.add_argument("--loop", action="store_true", help="with --file: play it again and again")
    live.add_argument("--name", default="", help="a label for the stream")
    live.add_argument("--language", default="", help="spoken language (ISO code); default: detect")
    live.add_argument("--stop-on-exit", action="store_true", help="Ctrl-C also stops the stream (default: it keeps running)")
    add_speaker_options(live)
    live.add_argument("--up", action="store_true", help="start the embedded stack for this run if none is running")
    live.add_argument("--port", type=int, default=50051, help=argparse.SUPPRESS)
    live.set_defaults(run=cmd_live)
    sub.add_parser("streams", help="list live streams").set_defaults(run=cmd_streams)
    stop = sub.add_parser("stop", help="end a live stream")
    stop.add_argument("stream_id")
    stop.set_defaults(run=cmd_stop)
    alerts = sub.add_parser("alerts", help="show or set a live stream's alert rules and webhooks, or watch alerts")
    alerts.add_argument("stream_id", nargs="*", help="the stream (with --watch: any number, none = all)")
    alerts.add_argument("--rules", metavar="RULES.json", help="replace the rules with these (a JSON list of rules)")
    alerts.add_argument("--defaults", action="store_true", help="go back to the default rules")
    alerts.add_argument("--webhook", action="append", default=[], metavar="URL", help="POST each alert here (repeatable)")
    alerts.add_argument("--secret", help="the webhooks' signing secret (HMAC-SHA256)")
    alerts.add_argument("--log", action="store_true", help="the webhook delivery log")
    alerts.add_argument("--watch", action="store_true", help="print alerts as they fire, across streams")
    alerts.add_argument("--json", action="store_true", help="JSON output")
    alerts.set_defaults(run=cmd_alerts)
    audience = sub.add_parser("audience", help="post audience messages (JSON lines on stdin) beside a live stream")
    audience.add_argument("stream_id")
    audience.set_defaults(run=cmd_audience)
    hist = sub.add_parser("history", help="ended jobs and streams, newest first, with their figures")
    hist.add_argument("--name", default="", help="only events whose name contains this")
    hist.add_argument("--live", action="store_true", help="only live streams")
    hist.add_argument("--limit", type=int, default=50)
    hist.add_argument("--json", action="store_true", help="one JSON object per line")
    hist.set_defaults(run=cmd_history)
    report = sub.add_parser("report", help="write a job's or stream's report page (sentiment, emotions, alerts, "
                                           "top moments, audience, reactions), optionally beside other events")
    report.add_argument("id", help="a job or stream id")
    report.add_argument("--out", required=True, metavar="REPORT.html")
    report.add_argument("--compare", nargs="+", default=[], metavar="ID", help="ended events to show side by side")
    report.add_argument("--wait", type=float, default=5.0, help="a stream in progress: seconds to read its events")
    report.set_defaults(run=cmd_report)
    from emopulse.training.cli import add_commands
    add_commands(sub)
    for command in (analyze, sub.choices["jobs"], watch, cancel, live, sub.choices["streams"], stop, alerts, audience,
                    hist, report, usage):
        command.add_argument("--gateway", help="HOST:PORT of a running gateway")
        command.add_argument("--tls", action="store_true", help="talk TLS to the gateway (the system's CAs)")
        command.add_argument("--ca", metavar="CA.pem", help="TLS, trusting this CA (implies --tls)")
        command.add_argument("--cert", metavar="CERT.pem", help="a client certificate, for a gateway that asks (mTLS)")
        command.add_argument("--key", metavar="KEY.pem", help="the client certificate's private key")
    for command in (analyze, watch, live):
        command.add_argument("--json", action="store_true", help="one JSON object per line")
        command.add_argument("--report", metavar="OUT.html", help="also write a self-contained HTML report")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except UserError as exc:
        print(f"emopulse: {exc}", file=sys.stderr)
        return 2
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.UNAVAILABLE:
            print("emopulse: the gateway is unreachable: is the stack running (`emopulse status`)?", file=sys.stderr)
        else:
            print(f"emopulse: {exc.details()} ({exc.code().name})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
