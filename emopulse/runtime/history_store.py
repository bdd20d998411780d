"""The history store: the summary of every ended job or live stream (an EventHistory: its record,
its timeline and its alerts), kept in a database so that it survives restarts and every replica
reads the same events. A sqlite file locally (the embedded stack, one machine), PostgreSQL in
production (many pods). Synchronous: callers wrap each call in asyncio.to_thread.

Each row holds the protobuf bytes; the plain columns are only what is filtered or sorted on."""
from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable, TypeVar
from urllib.parse import unquote, urlsplit

from emopulse.v1 import api_pb2

SCHEMA_VERSION = 2  # 2: events.tenant (accounts)
DEFAULT_LIMIT, MAX_LIMIT = 50, 500
ACCEPTED = "'' (sqlite file <data dir>/history.db), sqlite:///abs/path.db or postgresql://user:pass@host:port/db"
_SCHEMA_LOCK = 0x656D6F70         # PostgreSQL advisory lock: replicas starting together create the tables once
_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (one INTEGER PRIMARY KEY CHECK (one = 1), version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, name_key TEXT NOT NULL, live {bool} NOT NULL,
    created_at {real} NOT NULL, ended_at {real} NOT NULL, record {blob} NOT NULL, tenant TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS events_newest ON events (ended_at, id);
CREATE TABLE IF NOT EXISTS event_timeline (
    event_id TEXT NOT NULL REFERENCES events (id), media_s {real} NOT NULL, pulse {blob} NOT NULL,
    PRIMARY KEY (event_id, media_s));
CREATE TABLE IF NOT EXISTS event_alerts (
    event_id TEXT NOT NULL REFERENCES events (id), alert_id TEXT NOT NULL, seq INTEGER NOT NULL,
    alert {blob} NOT NULL, PRIMARY KEY (event_id, alert_id))
"""
T = TypeVar("T")


class HistoryUnavailable(Exception):
    """The database cannot be reached or opened (the message names it, never a password)."""


def open_store(url: str, data_dir: str) -> "HistoryStore":
    """EMOPULSE_HISTORY_URL -> a store: '' = <data_dir>/history.db, sqlite:///abs/path.db, or postgresql://."""
    found = re.match(r"([A-Za-z][A-Za-z0-9+.-]{0,19})://", url)
    scheme = found.group(1).lower() if found else ""
    if not url:
        return _Sqlite(Path(data_dir) / "history.db")
    if scheme == "sqlite" and url[len("sqlite://"):].startswith("/"):
        return _Sqlite(Path(url[len("sqlite://"):]))
    if scheme in ("postgresql", "postgres"):
        return _Postgres(url)
    # only the scheme is named: the rest may hold a password
    raise ValueError(f"EMOPULSE_HISTORY_URL: expected {ACCEPTED}; got a URL with scheme {scheme or 'none'!r}")


class HistoryStore:
    """Upsert, list and read event histories; one connection, one lock (the backends below)."""

    where = ""                    # the database in words, for messages
    contains = ""                 # SQL function (haystack, needle) -> position, 0 when absent

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conn: Any = None

    def save(self, history: api_pb2.EventHistory) -> None:
        """Store it under event.id, replacing what was there (record, timeline and alerts together)."""
        event = history.event
        if not event.id:
            raise ValueError("an event history needs event.id")
        # a final pulse can land on the last regular one's time, an alert come twice: the later wins
        timeline = {p.media_s: p for p in history.timeline}
        alerts = {a.id: a for a in history.alerts}

        def write(cur) -> None:
            # the event's row first: it locks concurrent saves of the same event behind this one
            cur.execute("INSERT INTO events (id, name, name_key, live, created_at, ended_at, record, tenant) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
                        "name_key = excluded.name_key, live = excluded.live, created_at = excluded.created_at, "
                        "ended_at = excluded.ended_at, record = excluded.record, tenant = excluded.tenant",
                        (event.id, event.name, event.name.casefold(), event.live, event.created_at,
                         event.ended_at, event.SerializeToString(), event.tenant))
            cur.execute("DELETE FROM event_timeline WHERE event_id = ?", (event.id,))
            cur.execute("DELETE FROM event_alerts WHERE event_id = ?", (event.id,))
            if timeline:
                cur.executemany("INSERT INTO event_timeline (event_id, media_s, pulse) VALUES (?, ?, ?)",
                                [(event.id, t, p.SerializeToString()) for t, p in sorted(timeline.items())])
            if alerts:
                cur.executemany("INSERT INTO event_alerts (event_id, alert_id, seq, alert) VALUES (?, ?, ?, ?)",
                                [(event.id, a.id, n, a.SerializeToString()) for n, a in enumerate(alerts.values())])
        self._run(write, write=True)

    def list(self, limit: int = DEFAULT_LIMIT, name: str = "", live_only: bool = False,
             tenant: str | None = None) -> list[api_pb2.EventRecord]:
        """Newest first (ended_at, then id); name: a case-insensitive part of it; limit 1..500, 0 = 50;
        tenant: only that tenant's events (None: everyone's)."""
        limit = DEFAULT_LIMIT if limit == 0 else max(1, min(limit, MAX_LIMIT))
        where, params = [], []
        if tenant is not None:
            where.append("tenant = ?")
            params.append(tenant)
        if name:
            where.append(f"{self.contains}(name_key, ?) > 0")     # no LIKE: % and _ in a name are letters
            params.append(name.casefold())
        if live_only:
            where.append("live")
        sql = (f"SELECT record FROM events {'WHERE ' + ' AND '.join(where) if where else ''} "
               "ORDER BY ended_at DESC, id DESC LIMIT ?")
        rows = self._run(lambda cur: cur.execute(sql, (*params, limit)).fetchall())
        return [api_pb2.EventRecord.FromString(bytes(r[0])) for r in rows]

    def get(self, ids: list[str], tenant: str | None = None) -> list[api_pb2.EventHistory]:
        """The histories in the order asked; KeyError naming the ids not stored (or, given a tenant,
        not that tenant's: another's event is as unknown as a missing one)."""
        ids = list(ids)
        wanted = sorted(set(ids))
        if not wanted:
            return []
        marks = ", ".join("?" * len(wanted))
        mine = "" if tenant is None else " AND tenant = ?"

        def read(cur) -> tuple[list, list, list]:      # one snapshot: never half of a concurrent save
            return (cur.execute(f"SELECT id, record FROM events WHERE id IN ({marks}){mine}",
                                wanted + ([] if tenant is None else [tenant])).fetchall(),
                    cur.execute(f"SELECT event_id, pulse FROM event_timeline WHERE event_id IN ({marks}) "
                                "ORDER BY event_id, media_s", wanted).fetchall(),
                    cur.execute(f"SELECT event_id, alert FROM event_alerts WHERE event_id IN ({marks}) "
                                "ORDER BY event_id, seq", wanted).fetchall())
        records, pulses, alerts = self._run(read)
        found = {i: api_pb2.EventHistory(event=api_pb2.EventRecord.FromString(bytes(r))) for i, r in records}
        missing = [i for i in dict.fromkeys(ids) if i not in found]
        if missing:
            raise KeyError("unknown event ids: " + ", ".join(i[:64] for i in missing))
        for i, blob in pulses:
            found[i].timeline.add().ParseFromString(bytes(blob))
        for i, blob in alerts:
            found[i].alerts.add().ParseFromString(bytes(blob))
        out = []
        for i in ids:                  # an id asked twice gets its own copy
            history = api_pb2.EventHistory()
            history.CopyFrom(found[i])
            out.append(history)
        return out

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                finally:
                    self._conn = None

    def _start(self, conn) -> None:
        """Take the opened connection and create the tables (closed again if that fails)."""
        self._conn = conn
        try:
            self._run(self._create_schema, write=True)
        except BaseException:
            self.close()
            raise

    def _run(self, fn: Callable[[Any], T], write: bool = False) -> T:
        with self._lock:
            if self._conn is None:
                raise HistoryUnavailable(f"history store ({self.where}) is closed")
            return self._call(fn, write)

    def _call(self, fn: Callable[[Any], T], write: bool) -> T:
        raise NotImplementedError

    def _create_schema(self, cur) -> None:
        for statement in self._schema().split(";"):
            cur.execute(statement)
        cur.execute("INSERT INTO schema_version (one, version) VALUES (1, ?) ON CONFLICT (one) DO NOTHING",
                    (SCHEMA_VERSION,))
        version = cur.execute("SELECT version FROM schema_version").fetchone()[0]
        if version == 1:  # before accounts: every event so far is the open (auth off) tenant's
            cur.execute("ALTER TABLE events ADD COLUMN tenant TEXT NOT NULL DEFAULT ''")
            cur.execute("UPDATE schema_version SET version = 2")
            version = 2
        if version != SCHEMA_VERSION:
            raise HistoryUnavailable(f"{self.where} holds history schema version {version}; "
                                     f"this EmoPulse knows version {SCHEMA_VERSION}")

    def _schema(self) -> str:
        raise NotImplementedError


class _Sqlite(HistoryStore):
    contains = "instr"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.where = f"sqlite file {path}"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # autocommit (isolation_level=None): the transactions are explicit, reads included
            conn = sqlite3.connect(str(path), timeout=5.0, isolation_level=None, check_same_thread=False)
            # WAL + busy_timeout: a writer and readers in other processes share the file
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA journal_mode = WAL")
        except (OSError, sqlite3.Error) as e:
            raise HistoryUnavailable(f"{self.where} cannot be opened: {e}") from e
        self._start(conn)

    def _schema(self) -> str:
        return _SCHEMA.format(bool="INTEGER", real="REAL", blob="BLOB")

    def _call(self, fn: Callable[[Any], T], write: bool) -> T:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")    # IMMEDIATE: wait for the write lock up front
            try:
                result = fn(conn.cursor())
                conn.execute("COMMIT")
                return result
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
        except sqlite3.OperationalError as e:       # locked past busy_timeout, disk full, file gone
            raise HistoryUnavailable(f"{self.where}: {e}") from e


class _Qmark:
    """One SQL text for both backends: sqlite's ? placeholders become psycopg's %s."""

    def __init__(self, cur) -> None:
        self._cur = cur

    def execute(self, sql: str, params=()) -> Any:
        return self._cur.execute(sql.replace("?", "%s"), params)

    def executemany(self, sql: str, rows) -> None:
        self._cur.executemany(sql.replace("?", "%s"), rows)


class _Postgres(HistoryStore):
    contains = "strpos"

    def __init__(self, url: str) -> None:
        import psycopg                  # only where PostgreSQL is used
        super().__init__()
        self._psycopg = psycopg
        self._url = url
        parts = urlsplit(url)
        self.where = f"PostgreSQL at {parts.netloc.rpartition('@')[2] or 'localhost'}{parts.path}"
        self._secrets = {s for s in (parts.password, unquote(parts.password or "")) if s}
        self._start(self._connect())

    def _schema(self) -> str:
        return _SCHEMA.format(bool="BOOLEAN", real="DOUBLE PRECISION", blob="BYTEA")

    def _create_schema(self, cur) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))
        super()._create_schema(cur)

    def _connect(self):
        try:
            return self._psycopg.connect(self._url, connect_timeout=5, autocommit=True, application_name="emopulse")
        except self._psycopg.Error as e:
            raise self._unavailable(e) from e

    def _unavailable(self, e: Exception) -> HistoryUnavailable:
        text = str(e).strip()
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return HistoryUnavailable(f"{self.where} unavailable: {text}")

    def _call(self, fn: Callable[[Any], T], write: bool) -> T:
        lost = (self._psycopg.OperationalError, self._psycopg.InterfaceError)
        try:
            return self._transaction(fn, write)
        except lost:
            pass        # the server restarted or dropped the connection: one fresh one, one more try
        try:
            self._conn.close()
        except Exception:
            pass
        self._conn = self._connect()
        try:
            return self._transaction(fn, write)     # a save replaces, so running it again is safe
        except lost as e:
            raise self._unavailable(e) from e

    def _transaction(self, fn: Callable[[Any], T], write: bool) -> T:
        with self._conn.transaction(), self._conn.cursor() as cur:
            if not write:   # one snapshot for the statements of a read
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            return fn(_Qmark(cur))
