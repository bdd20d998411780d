"""The history store on a sqlite file: round trip of realistic event histories, upsert, filters and
ordering, limits, unknown ids, a restart, a writer and a reader (two stores, two processes) on one
file, and URLs it refuses. The check_* functions run against PostgreSQL too
(tests/integration/test_history_postgres.py)."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Callable

import pytest

from emopulse.labels import EMOTIONS
from emopulse.runtime.history_store import HistoryStore, HistoryUnavailable, open_store
from emopulse.v1 import api_pb2
from emopulse.v1 import results_pb2 as pb

T0 = 1_700_000_000.0


def window(i: int) -> pb.PulseWindow:
    neg = 0.1 + 0.05 * i
    return pb.PulseWindow(length_s=60, utterances=3 + i, sentiment=0.4 - 0.1 * i, negative_share=neg,
                          emotion=[0.05, 0.05, 0.1, 0.3 - 0.02 * i, 0.3, 0.1 + 0.02 * i, 0.1], speaking_ratio=0.75,
                          faces=2, face_expression=[0.1] * 7, audience_messages=4 * i, audience_per_minute=4.0 * i,
                          audience_sentiment=0.2, reactions=i)


def alert(stream: str, n: int, media_s: float) -> pb.Alert:
    rule = pb.AlertRule(name="spike", kind=pb.NEGATIVE_SPIKE, threshold=0.6, min_count=3, window_s=60,
                        severity=pb.WARNING)
    return pb.Alert(id=f"{stream}.spike.{n}", stream_id=stream, stream_name="Caméra 1", rule=rule, media_s=media_s,
                    fired_at=T0 + media_s, window=window(n), value=0.7, utterances=[4, 5, 7],
                    quotes=["this is terrible", "I hate it"], message="negative share 70 % over 60 s")


def history(event_id: str, name: str = "Launch keynote", live: bool = True, ended_at: float = T0 + 600,
            pulses: int = 5, alerts: int = 2) -> api_pb2.EventHistory:
    """An ended stream: its record, a pulse every 5 s (one 60 s window each, the last final), two alerts."""
    record = api_pb2.EventRecord(
        id=event_id, name=name, live=live, state=pb.SUCCEEDED, created_at=ended_at - 600, ended_at=ended_at,
        duration_s=600, utterances=42, mean_sentiment=0.12, negative_share=0.3,
        emotion_distribution=dict(zip(EMOTIONS, (0.05, 0.05, 0.1, 0.3, 0.3, 0.1, 0.1))), speaking_ratio=0.7,
        audience_messages=120, audience_per_minute=12.0, audience_sentiment=0.25, reactions=6,
        reaction_expression={"joy": 0.6, "neutral": 0.4}, alerts=alerts,
        most_positive=api_pb2.Moment(start_s=60, end_s=120, sentiment=0.8, negative_share=0.05, quotes=["we did it"]),
        most_negative=api_pb2.Moment(start_s=300, end_s=360, sentiment=-0.6, negative_share=0.7,
                                     quotes=["this is terrible"]))
    timeline = [pb.Pulse(media_s=5.0 * (i + 1), windows=[window(i)], utterances=3 * (i + 1), final=i == pulses - 1)
                for i in range(pulses)]
    return api_pb2.EventHistory(event=record, timeline=timeline,
                                alerts=[alert(event_id, n, 100.0 + 50 * n) for n in range(alerts)])


def tag() -> str:
    """Unique per test: the PostgreSQL database is shared by the tests of its module."""
    return uuid.uuid4().hex[:8]


# Checks shared with PostgreSQL: `open_` opens a fresh store on the same database ----------------

def check_round_trip(open_: Callable[[], HistoryStore]) -> None:
    t = tag()
    a, b = history(f"{t}-a", name=f"Launch {t}", ended_at=T0 + 100), history(f"{t}-b", name=f"Town hall {t}", live=False,
                                                                           ended_at=T0 + 200, pulses=3, alerts=0)
    store = open_()
    try:
        store.save(a)
        store.save(b)
        got = store.get([b.event.id, a.event.id])
        assert got == [b, a]
        assert [len(h.timeline) for h in got] == [3, 5] and [len(h.alerts) for h in got] == [0, 2]
        assert got[1].timeline[-1].final and got[1].timeline[0].windows[0] == window(0)
        assert got[1].alerts[1].window == window(1) and got[1].event.most_negative.quotes == ["this is terrible"]
        assert store.list(name=t) == [b.event, a.event]             # newest first
        assert store.list(name=f"LAUNCH {t.upper()}") == [a.event]
        assert store.list(name=t, live_only=True) == [a.event]
    finally:
        store.close()


def check_save_again_replaces(open_: Callable[[], HistoryStore], rows: Callable[[str], tuple[int, int]]) -> None:
    """rows(event_id) -> (timeline rows, alert rows) as stored."""
    t = tag()
    h = history(f"{t}-ev", name=f"Launch {t}")
    store = open_()
    try:
        store.save(h)
        store.save(h)
        assert store.get([h.event.id]) == [h] and rows(h.event.id) == (5, 2)
        assert store.list(name=t) == [h.event]
        changed = history(f"{t}-ev", name=f"Relaunch {t}", live=False, ended_at=T0 + 900, pulses=2, alerts=1)
        store.save(changed)
        assert store.get([h.event.id]) == [changed] and rows(h.event.id) == (2, 1)
        assert store.list(name=t) == [changed.event] and store.list(name=t, live_only=True) == []
    finally:
        store.close()


def check_survives_a_restart(open_: Callable[[], HistoryStore]) -> None:
    t = tag()
    h = history(f"{t}-ev", name=f"Launch {t}")
    store = open_()
    store.save(h)
    store.close()
    with pytest.raises(HistoryUnavailable, match="closed"):
        store.list()
    again = open_()
    try:
        assert again.get([h.event.id]) == [h] and again.list(name=t) == [h.event]
    finally:
        again.close()


def check_unknown_ids(open_: Callable[[], HistoryStore]) -> None:
    t = tag()
    store = open_()
    try:
        store.save(history(f"{t}-known"))
        long_id = f"{t}-" + "x" * 200
        with pytest.raises(KeyError) as err:
            store.get([f"{t}-known", f"{t}-nope", long_id])
        message = str(err.value)
        assert f"{t}-nope" in message and long_id[:64] in message and long_id[:65] not in message
        assert f"{t}-known" not in message
        assert store.get([]) == []
    finally:
        store.close()


# sqlite ------------------------------------------------------------------------------------------

@pytest.fixture
def db(tmp_path):
    return tmp_path / "history.db"


def opener(db) -> Callable[[], HistoryStore]:
    return lambda: open_store(f"sqlite://{db}", "/nonexistent-data-dir")


def sqlite_rows(db) -> Callable[[str], tuple[int, int]]:
    def rows(event_id: str) -> tuple[int, int]:
        with sqlite3.connect(db) as conn:
            return tuple(conn.execute(f"SELECT count(*) FROM {table} WHERE event_id = ?", (event_id,)).fetchone()[0]
                         for table in ("event_timeline", "event_alerts"))
    return rows


def test_round_trip(db):
    check_round_trip(opener(db))


def test_save_again_replaces(db):
    check_save_again_replaces(opener(db), sqlite_rows(db))


def test_survives_a_restart(db):
    check_survives_a_restart(opener(db))


def test_unknown_ids_raise_key_error(db):
    check_unknown_ids(opener(db))


def test_schema_wal_and_version(db):
    open_store(f"sqlite://{db}", "").close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"schema_version", "events", "event_timeline", "event_alerts"}
    open_store(f"sqlite://{db}", "").close()         # opening again creates nothing twice
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
        conn.execute("UPDATE schema_version SET version = 3")
    with pytest.raises(HistoryUnavailable, match="schema version 3"):
        open_store(f"sqlite://{db}", "")


def test_a_version_1_database_gets_tenants_and_keeps_its_events(tmp_path):
    """Before accounts (version 1) events had no tenant: they become the open tenant's ("")."""
    db = tmp_path / "v1.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(
            "CREATE TABLE schema_version (one INTEGER PRIMARY KEY CHECK (one = 1), version INTEGER NOT NULL);"
            "INSERT INTO schema_version VALUES (1, 1);"
            "CREATE TABLE events (id TEXT PRIMARY KEY, name TEXT NOT NULL, name_key TEXT NOT NULL, live INTEGER NOT NULL,"
            " created_at REAL NOT NULL, ended_at REAL NOT NULL, record BLOB NOT NULL);")
        old = history("old")
        conn.execute("INSERT INTO events VALUES ('old', '', '', 0, 0, 0, ?)", (old.event.SerializeToString(),))
    store = open_store(f"sqlite://{db}", "")
    assert [e.id for e in store.list(tenant="")] == ["old"] and store.list(tenant="acme") == []
    mine = history("mine")
    mine.event.tenant = "acme"
    store.save(mine)
    assert [e.id for e in store.list(tenant="acme")] == ["mine"]
    assert {e.id for e in store.list()} == {"old", "mine"}        # no tenant given: all (an admin)
    assert store.get(["mine"], tenant="acme") == [mine]
    with pytest.raises(KeyError, match="mine"):
        store.get(["mine"], tenant="")                             # another tenant's is unknown


def test_default_url_is_a_file_in_the_data_dir(tmp_path):
    data_dir = tmp_path / "not" / "there" / "yet"
    store = open_store("", str(data_dir))
    store.save(history("ev"))
    store.close()
    assert (data_dir / "history.db").is_file()
    assert open_store("", str(data_dir)).get(["ev"]) == [history("ev")]


def test_name_filter_live_only_ordering_and_limits(db):
    store = open_store(f"sqlite://{db}", "")
    try:
        events = [history("b-same", name="Überblick 100%", ended_at=T0 + 50, pulses=1),
                  history("a-same", name="Quarterly call", live=False, ended_at=T0 + 50, pulses=1),
                  history("old", name="Launch", ended_at=T0, pulses=1),
                  history("new", name="launch party", live=False, ended_at=T0 + 90, pulses=1)]
        for h in events:
            store.save(h)
        assert [e.id for e in store.list()] == ["new", "b-same", "a-same", "old"]   # ended_at, then id, newest first
        assert [e.id for e in store.list(name="LAUNCH")] == ["new", "old"]
        assert [e.id for e in store.list(name="üBER")] == ["b-same"]                 # not only ASCII
        assert [e.id for e in store.list(name="0%")] == ["b-same"]                   # % is a letter, not LIKE's
        assert [e.id for e in store.list(name="_")] == []
        assert [e.id for e in store.list(live_only=True)] == ["b-same", "old"]
        assert [e.id for e in store.list(name="launch", live_only=True)] == ["old"]
        assert [e.id for e in store.list(limit=2)] == ["new", "b-same"]
        assert [e.id for e in store.list(limit=-5)] == ["new"]                        # at least 1
        for n in range(505):
            store.save(api_pb2.EventHistory(event=api_pb2.EventRecord(id=f"bulk-{n:03}", name="bulk", ended_at=n)))
        assert len(store.list(limit=0)) == 50 and len(store.list()) == 50
        assert len(store.list(limit=10_000)) == 500 and len(store.list(limit=500)) == 500
        assert store.list(name="bulk", limit=1)[0].id == "bulk-504"
    finally:
        store.close()


def test_a_pulse_or_alert_given_twice_keeps_the_later(db):
    h = history("ev", pulses=3)
    final = pb.Pulse(media_s=h.timeline[-1].media_s, windows=[window(9)], utterances=99, final=True)
    h.timeline[-1].final = False
    h.timeline.append(final)
    again = pb.Alert()
    again.CopyFrom(h.alerts[0])
    again.message = "delivered twice"
    h.alerts.append(again)
    store = open_store(f"sqlite://{db}", "")
    store.save(h)
    got = store.get(["ev", "ev"])
    assert len(got) == 2 and got[0] == got[1] and got[0] is not got[1]       # an id asked twice: two copies
    assert [p.media_s for p in got[0].timeline] == [5.0, 10.0, 15.0] and got[0].timeline[-1] == final
    assert [a.id for a in got[0].alerts] == ["ev.spike.0", "ev.spike.1"] and got[0].alerts[0].message == "delivered twice"
    with pytest.raises(ValueError, match="event.id"):
        store.save(api_pb2.EventHistory())
    store.close()


def test_a_failed_save_leaves_the_previous_copy(db):
    """Record, timeline and alerts are replaced in one transaction: a save that fails half way
    (here an alert row refused by a trigger) changes nothing."""
    store = open_store(f"sqlite://{db}", "")
    h = history("ev")
    store.save(h)
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TRIGGER boom BEFORE INSERT ON event_alerts WHEN NEW.alert_id = 'boom' "
                     "BEGIN SELECT RAISE(ABORT, 'boom'); END")
    changed = history("ev", name="Changed", pulses=2)
    changed.alerts.add(id="boom")
    with pytest.raises(sqlite3.IntegrityError, match="boom"):
        store.save(changed)
    assert store.get(["ev"]) == [h] and sqlite_rows(db)("ev") == (5, 2)
    store.close()


def test_a_writer_and_a_reader_share_the_file(db):
    writer, reader = open_store(f"sqlite://{db}", ""), open_store(f"sqlite://{db}", "")
    try:
        writer.save(history("w"))
        assert reader.get(["w"]) == [history("w")] and [e.id for e in reader.list()] == ["w"]
        reader.save(history("r", ended_at=T0 + 700))
        assert [e.id for e in writer.list()] == ["r", "w"]
    finally:
        writer.close()
        reader.close()


def test_a_writer_process_and_a_reader_process(db):
    """A writer in another process saves while this one reads: no 'database is locked', every
    read sees whole events, and the last read sees them all."""
    count = 40
    script = textwrap.dedent(f"""
        from emopulse.runtime.history_store import open_store
        from tests.unit.test_history_store import history
        store = open_store("sqlite://{db}", "")
        for n in range({count}):
            store.save(history(f"ev-{{n:02}}", ended_at=1_700_000_000.0 + n))
        store.close()
    """)
    reader = open_store(f"sqlite://{db}", "")
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2])   # the repo root
    try:
        reads = 0
        while proc.poll() is None or reads == 0:
            for got in reader.get([e.id for e in reader.list(limit=5)]):
                assert len(got.timeline) == 5 and len(got.alerts) == 2
            reads += 1
            time.sleep(0.005)
        assert proc.returncode == 0
        assert [e.id for e in reader.list(limit=count + 1)] == [f"ev-{n:02}" for n in reversed(range(count))]
    finally:
        proc.wait(timeout=30)
        reader.close()


@pytest.mark.parametrize("url", ["mysql://emo:hunter2-secret@db:3306/emo", "sqlite://relative/hunter2-secret.db",
                                 "hunter2-secret", "http://u:hunter2-secret@x/", "postgresql+psycopg"])
def test_bad_urls_are_refused_without_the_password(url):
    with pytest.raises(ValueError) as err:
        open_store(url, "/tmp")
    message = str(err.value)
    assert "hunter2-secret" not in message
    assert "sqlite:///" in message and "postgresql://" in message


def test_a_file_that_cannot_be_opened_is_unavailable(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(HistoryUnavailable, match="sqlite file"):
        open_store("", str(blocker / "data"))
