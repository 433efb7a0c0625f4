"""Deadlines cancel statements on the server; a Berth restart is a typed UNAVAILABLE; retries only
where nothing ran."""

import os
import threading
import time

import pytest
from berth_process import BerthProcess, until
from conftest import direct

from berth import BerthClient, BerthError, RetryPolicy

SLEEP = {"pg": "SELECT pg_sleep(30) /* {tag} */", "mysql": "SELECT SLEEP(30) /* {tag} */"}


def running(engine: str, tag: str) -> bool:
    """Whether the database is still executing the statement marked with ``tag``."""
    if engine == "pg":
        sql = f"SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%{tag}%' AND pid <> pg_backend_pid()"
    else:
        sql = f"SELECT count(*) FROM information_schema.processlist WHERE info LIKE '%{tag}%' AND id <> connection_id()"
    return int(direct(engine, sql)[0]) > 0


def test_a_deadline_cancels_the_statement_on_the_server(client, connection, engine):
    tag = f"deadline-{os.urandom(4).hex()}"
    started = time.monotonic()
    with pytest.raises(BerthError) as info:
        client.query(connection, SLEEP[engine].format(tag=tag), timeout=1.0)
    elapsed = time.monotonic() - started
    assert info.value.code == "DEADLINE_EXCEEDED" and info.value.reason == "timeout"
    assert 0.9 < elapsed < 3.0
    # And the database is no longer running it (not merely the client giving up).
    until(lambda: not running(engine, tag), timeout=5, what="the statement to be cancelled in the database")


def test_a_statement_deadline_in_a_session_cancels_it_and_keeps_the_session(client, connection, engine):
    tag = f"session-deadline-{os.urandom(4).hex()}"
    with client.session(connection) as s:
        with pytest.raises(BerthError) as info:
            s.query(SLEEP[engine].format(tag=tag), timeout=0.5)
        assert info.value.code == "DEADLINE_EXCEEDED"
        assert not running(engine, tag)
        assert s.query("SELECT 1").rows == [(1,)]


def test_closing_a_stream_cancels_its_statement_on_the_server(client, connection, engine):
    tag = f"close-{os.urandom(4).hex()}"
    rows = client.stream(connection, SLEEP[engine].format(tag=tag), timeout=60)
    outcome = []
    reader = threading.Thread(target=lambda: outcome.append(_drain(rows)))
    reader.start()
    until(lambda: running(engine, tag), timeout=5, what="the statement to start")
    rows.close()
    reader.join(5)
    assert not reader.is_alive()
    assert outcome and outcome[0] in ("CANCELLED", "stopped")
    until(lambda: not running(engine, tag), timeout=5, what="the statement to be cancelled in the database")


def _drain(rows) -> str:
    try:
        list(rows)
        return "stopped"
    except BerthError as err:
        return err.code


@pytest.fixture(scope="module")
def own_berth():
    """A Berth of its own, to restart without disturbing the other tests."""
    server = BerthProcess()
    try:
        server.start()
        server.set_up()
        yield server
    finally:
        server.cleanup()


def test_a_server_restart_mid_session_is_a_typed_unavailable_and_a_new_session_works(own_berth):
    pg = own_berth.connections["pg"]
    with BerthClient(own_berth.grpc_url, token=own_berth.token) as c:
        s = c.session(pg)
        assert s.query("SELECT 1").scalar() == 1
        own_berth.restart()
        with pytest.raises(BerthError) as info:
            s.query("SELECT 2")
        assert info.value.code == "UNAVAILABLE"
        # The session is over, and says so the same way every time.
        with pytest.raises(BerthError) as again:
            s.query("SELECT 3")
        assert again.value.code == "UNAVAILABLE"
        s.close()
        # The client itself reconnects: a new session runs on the restarted Berth.
        with c.session(pg) as fresh:
            assert fresh.query("SELECT 4").scalar() == 4


def test_a_restart_mid_stream_is_a_typed_unavailable(own_berth):
    pg = own_berth.connections["pg"]
    with BerthClient(own_berth.grpc_url, token=own_berth.token) as c:
        rows = c.stream(pg, "SELECT g, repeat('x', 500) FROM generate_series(1, 2000000) g", timeout=60)
        assert next(rows)[0] == 1
        own_berth.stop()
        with pytest.raises(BerthError) as info:
            for _ in rows:
                pass
        assert info.value.code == "UNAVAILABLE"
        # A statement that never left the client is not retried into a dead Berth forever: typed, bounded.
        started = time.monotonic()
        with pytest.raises(BerthError) as down:
            c.query(pg, "SELECT 1")
        assert down.value.code == "UNAVAILABLE" and down.value.never_reached_database
        assert time.monotonic() - started < 10
    own_berth.start()


def test_a_one_shot_call_is_retried_until_berth_is_back(own_berth):
    pg = own_berth.connections["pg"]
    patient = RetryPolicy(max_attempts=30, initial_backoff=0.1, max_backoff=0.5)
    with BerthClient(own_berth.grpc_url, token=own_berth.token, retry=patient) as c:
        assert c.query(pg, "SELECT 1").scalar() == 1
        own_berth.stop()
        restarter = threading.Timer(0.5, own_berth.start)
        restarter.start()
        try:
            # Berth is down when this is sent; nothing ran, so the client tries again until it is up.
            assert c.query(pg, "SELECT 2", timeout=30).scalar() == 2
        finally:
            restarter.join()


def test_a_pool_exhausted_answer_is_retried_but_a_lost_connection_is_not(own_berth):
    # One session in the pool, held by a session; a one-shot waits (acquire timeout), is refused
    # RESOURCE_EXHAUSTED (pool_exhausted), and is retried until the session is given back.
    created = own_berth.api(
        "/api/connections",
        {"name": f"tiny-{os.urandom(3).hex()}", "type": "postgresql", "server": "127.0.0.1", "port": 5432,
         "database": "test", "username": "postgres", "password": "", "maxPoolSize": 1, "acquireTimeoutMs": 200},
        own_berth.admin_token,
    )
    tiny = created["id"]
    with BerthClient(own_berth.grpc_url, token=own_berth.admin_token, retry=RetryPolicy(max_attempts=1)) as once:
        holder = once.session(tiny)
        with pytest.raises(BerthError) as info:
            once.query(tiny, "SELECT 1")
        assert info.value.code == "RESOURCE_EXHAUSTED" and info.value.reason == "pool_exhausted"
        assert info.value.never_reached_database
        release = threading.Timer(0.5, holder.close)
        release.start()
        patient = RetryPolicy(max_attempts=20, initial_backoff=0.1, max_backoff=0.3)
        with BerthClient(own_berth.grpc_url, token=own_berth.admin_token, retry=patient) as c:
            assert c.query(tiny, "SELECT 5").scalar() == 5
        release.join()
        # A connection lost mid-statement may have run it: never retried.
        pid = once.query(tiny, "SELECT pg_backend_pid()").scalar()
        killer = threading.Timer(0.5, lambda: direct("pg", f"SELECT pg_terminate_backend({pid})"))
        killer.start()
        calls = []
        with BerthClient(own_berth.grpc_url, token=own_berth.admin_token, retry=patient) as c:
            with pytest.raises(BerthError) as lost:
                calls.append(1)
                c.query(tiny, "SELECT pg_sleep(5)")
        killer.join()
        assert lost.value.code == "UNAVAILABLE" and lost.value.reason == "connection_lost"
        assert not lost.value.never_reached_database
