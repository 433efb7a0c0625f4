"""Sessions and transactions against a real Berth, checked directly in the database."""

import os
import threading

import pytest
from conftest import direct, placeholders

from berth import BerthClient, BerthError


@pytest.fixture
def table(client, connection, engine):
    name = f"py_sdk_tx_{os.urandom(3).hex()}"
    client.query(connection, f"CREATE TABLE {name} (id INT PRIMARY KEY, note VARCHAR(50))")
    yield name
    client.query(connection, f"DROP TABLE {name}")


def count(engine, table):
    return int(direct(engine, f"SELECT count(*) FROM {table}")[0])


def test_a_transaction_commits_when_its_block_ends(client, connection, engine, table):
    p = placeholders(engine, 2)
    with client.session(connection) as s:
        with s.transaction() as tx:
            tx.query(f"INSERT INTO {table} VALUES ({p[0]}, {p[1]})", [1, "a"])
            tx.query(f"INSERT INTO {table} VALUES ({p[0]}, {p[1]})", [2, "b"])
            assert s.in_transaction
            # Not visible outside before the commit.
            assert count(engine, table) == 0
        assert not s.in_transaction
    assert count(engine, table) == 2


def test_a_transaction_that_raises_is_rolled_back_and_the_exception_goes_on(client, connection, engine, table):
    p = placeholders(engine, 2)

    class Boom(Exception):
        pass

    with client.session(connection) as s:
        with pytest.raises(Boom):
            with s.transaction():
                s.query(f"INSERT INTO {table} VALUES ({p[0]}, {p[1]})", [1, "gone"])
                raise Boom()
        assert not s.in_transaction
        # The session is still good after the rollback.
        s.query(f"INSERT INTO {table} VALUES ({p[0]}, {p[1]})", [2, "kept"])
    # Checked in the database itself, not through Berth.
    assert direct(engine, f"SELECT id FROM {table}") == ["2"]


def test_a_failed_statement_is_a_typed_error_and_the_session_stays_usable(client, connection, engine, table):
    p = placeholders(engine, 2)
    with client.session(connection) as s:
        s.query(f"INSERT INTO {table} VALUES ({p[0]}, {p[1]})", [1, "a"])
        with pytest.raises(BerthError) as info:
            s.query(f"INSERT INTO {table} VALUES ({p[0]}, {p[1]})", [1, "duplicate"])
        err = info.value
        assert err.code == "FAILED_PRECONDITION" and err.kind == "query_failed"
        assert err.engine_code == ("23505" if engine == "pg" else "1062")
        assert s.query("SELECT 1").rows == [(1,)]


def test_a_failure_inside_a_transaction_rolls_it_all_back(client, connection, engine, table):
    p = placeholders(engine, 2)
    with client.session(connection) as s:
        with pytest.raises(BerthError):
            with s.transaction():
                s.query(f"INSERT INTO {table} VALUES ({p[0]}, {p[1]})", [1, "a"])
                s.query(f"INSERT INTO {table} VALUES ({p[0]}, {p[1]})", [1, "duplicate"])
        assert s.query("SELECT 1").rows == [(1,)]
    assert count(engine, table) == 0


def test_closing_a_session_with_an_open_transaction_rolls_it_back(client, connection, engine, table):
    p = placeholders(engine, 2)
    s = client.session(connection)
    s.begin()
    s.query(f"INSERT INTO {table} VALUES ({p[0]}, {p[1]})", [1, "a"])
    s.close()
    assert count(engine, table) == 0
    with pytest.raises(BerthError) as info:
        s.query("SELECT 1")
    assert info.value.reason == "session_closed"


def test_statements_run_on_one_database_session(client, connection, engine):
    who = "SELECT pg_backend_pid()" if engine == "pg" else "SELECT CONNECTION_ID()"
    with client.session(connection) as s:
        ids = {s.query(who).scalar() for _ in range(5)}
    assert len(ids) == 1


def test_an_unfinished_stream_is_kept_when_the_next_statement_runs(client, connection, engine):
    series = "SELECT g FROM generate_series(1, 50000) g" if engine == "pg" else "SELECT seq FROM seq_1_to_50000"
    with client.session(connection) as s:
        rows = s.stream(series)
        first = [next(rows) for _ in range(10)]
        assert s.query("SELECT 7").scalar() == 7
        rest = list(rows)
    assert [r[0] for r in first + rest] == list(range(1, 50001))
    assert rows.completion.rows_returned == 50000


def test_a_stream_closed_early_leaves_the_session_in_step(client, connection, engine):
    series = "SELECT g FROM generate_series(1, 50000) g" if engine == "pg" else "SELECT seq FROM seq_1_to_50000"
    with client.session(connection) as s:
        with s.stream(series) as rows:
            assert next(rows) == (1,)
        assert s.query("SELECT 8").scalar() == 8


def test_transactions_do_not_nest(client, connection):
    with client.session(connection) as s:
        with s.transaction():
            with pytest.raises(BerthError) as info:
                with s.transaction():
                    pass
            assert info.value.reason == "nested_transaction"


def test_isolation_and_read_only_reach_the_database(client, berth_server):
    with client.session(berth_server.connections["pg"]) as s:
        with s.transaction(isolation="serializable", read_only=True):
            assert s.query("SHOW transaction_isolation").scalar() == "serializable"
            assert s.query("SHOW transaction_read_only").scalar() == "on"
        with pytest.raises(BerthError) as info:
            s.begin(isolation="snapshot")
        assert info.value.code == "INVALID_ARGUMENT"


def test_sessions_on_several_threads_each_hold_their_own(client, berth_server):
    conn = berth_server.connections["pg"]
    seen, errors = [], []

    def work():
        try:
            with client.session(conn) as s:
                seen.append(s.query("SELECT pg_backend_pid()").scalar())
                s.query("SELECT pg_sleep(0.2)")
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(seen)) == 4


def test_a_wrong_token_is_unauthenticated(berth_server):
    with BerthClient(berth_server.grpc_url, token="berth_t_not-a-token") as c:
        with pytest.raises(BerthError) as info:
            c.query(berth_server.connections["pg"], "SELECT 1")
        assert info.value.code == "UNAUTHENTICATED" and info.value.kind == "unauthenticated"
        with pytest.raises(BerthError) as info:
            c.session(berth_server.connections["pg"])
        assert info.value.code == "UNAUTHENTICATED"


def test_an_unknown_connection_is_not_found(client):
    with pytest.raises(BerthError) as info:
        client.query("00000000-0000-4000-8000-000000000000", "SELECT 1")
    assert info.value.code == "NOT_FOUND" and info.value.request_id


def test_a_failure_of_an_unfinished_stream_stays_with_that_stream(client, berth_server):
    # The error comes after the first rows (the division fails at row 40,000).
    sql = "SELECT g, 1 / (40000 - g) FROM generate_series(1, 50000) g"
    with client.session(berth_server.connections["pg"]) as s:
        rows = s.stream(sql)
        assert next(rows)[0] == 1
        assert s.query("SELECT 9").scalar() == 9  # not the other statement's error
        with pytest.raises(BerthError) as info:
            for _ in rows:
                pass
        assert info.value.engine_code == "22012"
