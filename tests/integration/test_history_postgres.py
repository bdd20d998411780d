"""The history store on a real PostgreSQL server (tests/postgres_server.py): the same round trip,
upsert, restart and unknown ids as on sqlite, a save that fails half way, a dropped connection
(reconnected once), and a server that is not there or stops (HistoryUnavailable, no password in it)."""
from __future__ import annotations

import psycopg
import pytest

from emopulse.runtime.history_store import HistoryUnavailable, open_store
from emopulse.stack import free_port
from tests.postgres_server import postgres_server
from tests.unit.test_history_store import (check_round_trip, check_save_again_replaces, check_survives_a_restart,
                                           check_unknown_ids, history)


@pytest.fixture(scope="module")
def pg_url():
    with postgres_server() as url:
        yield url


def password_of(url: str) -> str:
    return url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]


def opener(url: str):
    return lambda: open_store(url, "/nonexistent-data-dir")


def rows(url: str):
    def count(event_id: str) -> tuple[int, int]:
        with psycopg.connect(url) as conn:
            return tuple(conn.execute(f"SELECT count(*) FROM {table} WHERE event_id = %s", (event_id,)).fetchone()[0]
                         for table in ("event_timeline", "event_alerts"))
    return count


def test_round_trip(pg_url):
    check_round_trip(opener(pg_url))


def test_save_again_replaces(pg_url):
    check_save_again_replaces(opener(pg_url), rows(pg_url))


def test_survives_a_restart(pg_url):
    check_survives_a_restart(opener(pg_url))


def test_unknown_ids_raise_key_error(pg_url):
    check_unknown_ids(opener(pg_url))


def test_postgres_schema_and_url_forms(pg_url):
    store = open_store(pg_url.replace("postgresql://", "postgres://"), "")       # both schemes
    store.close()
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
        types = dict(conn.execute("SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
                                  "WHERE table_schema = 'public'").fetchall())
    assert types["events.record"] == types["event_timeline.pulse"] == types["event_alerts.alert"] == "bytea"
    assert types["events.live"] == "boolean" and types["events.ended_at"] == "double precision"
    assert types["events.tenant"] == "text"


def test_a_version_1_database_gets_tenants(pg_url):
    """A database from before accounts: its events become the open tenant's ("")."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS event_alerts, event_timeline, events, schema_version")
        conn.execute("CREATE TABLE schema_version (one INTEGER PRIMARY KEY CHECK (one = 1), version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (1, 1)")
        conn.execute("CREATE TABLE events (id TEXT PRIMARY KEY, name TEXT NOT NULL, name_key TEXT NOT NULL, "
                     "live BOOLEAN NOT NULL, created_at DOUBLE PRECISION NOT NULL, ended_at DOUBLE PRECISION NOT NULL, "
                     "record BYTEA NOT NULL)")
        conn.execute("INSERT INTO events VALUES ('old', '', '', false, 0, 0, %s)", (history("old").event.SerializeToString(),))
    store = open_store(pg_url, "")
    try:
        assert [e.id for e in store.list(tenant="")] == ["old"] and store.list(tenant="acme") == []
    finally:
        store.close()


def test_a_failed_save_leaves_the_previous_copy(pg_url):
    store = open_store(pg_url, "")
    h = history("pg-atomic")
    store.save(h)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$ BEGIN IF NEW.alert_id = 'boom' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$")
        conn.execute("CREATE TRIGGER boom BEFORE INSERT ON event_alerts FOR EACH ROW EXECUTE FUNCTION boom()")
    try:
        changed = history("pg-atomic", name="Changed", pulses=2)
        changed.alerts.add(id="boom")
        with pytest.raises(psycopg.errors.RaiseException, match="boom"):
            store.save(changed)
        assert store.get(["pg-atomic"]) == [h] and rows(pg_url)("pg-atomic") == (5, 2)
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("DROP TRIGGER boom ON event_alerts")
            conn.execute("DROP FUNCTION boom()")
        store.close()


def test_a_dropped_connection_is_reconnected_once(pg_url):
    store = open_store(pg_url, "")
    try:
        store.save(history("pg-reconnect"))
        with psycopg.connect(pg_url, autocommit=True) as conn:      # the server ends the store's session
            ended = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE application_name = 'emopulse' AND pid <> pg_backend_pid()").fetchall()
        assert ended and all(ok for (ok,) in ended)
        assert store.get(["pg-reconnect"]) == [history("pg-reconnect")]
        store.save(history("pg-reconnect", name="again"))
        assert store.get(["pg-reconnect"])[0].event.name == "again"
    finally:
        store.close()


def test_no_server_is_unavailable_without_the_password(pg_url):
    port = free_port()                      # nothing listens there
    password = password_of(pg_url)
    with pytest.raises(HistoryUnavailable) as err:
        open_store(f"postgresql://emopulse:{password}@127.0.0.1:{port}/emopulse", "")
    message = str(err.value)
    assert f"PostgreSQL at 127.0.0.1:{port}/emopulse" in message and password not in message
    assert isinstance(err.value.__cause__, psycopg.OperationalError)
    # a wrong password: refused by the server, still no password in the message
    with pytest.raises(HistoryUnavailable) as err:
        open_store(pg_url.replace(password, "wrong-" + password), "")
    assert password not in str(err.value) and "authentication failed" in str(err.value)


def test_a_server_that_stops_is_unavailable():
    """A server gone after the store opened (its own, not the module's): the one reconnect fails
    and HistoryUnavailable names the server, without the password."""
    with postgres_server() as url:
        store = open_store(url, "")
        store.save(history("pg-gone"))
    try:
        with pytest.raises(HistoryUnavailable, match="PostgreSQL at 127.0.0.1") as err:
            store.list()
        assert password_of(url) not in str(err.value)
    finally:
        store.close()
