"""A DB-API 2.0 compliance suite written from PEP 249 (in the style of Stuart Bishop's dbapi20.py:
the same tables, the same checks), run against Berth on PostgreSQL and on MariaDB, then the
mapping of real database errors onto the exception hierarchy."""

import datetime
import os
import time

import pytest
from conftest import direct

from berth import dbapi

PREFIX = f"dbapi20test_{os.urandom(3).hex()}_"
DDL1 = f"create table {PREFIX}booze (name varchar(20))"
DDL2 = f"create table {PREFIX}barflys (name varchar(20), drink varchar(30))"
XDDL1 = f"drop table {PREFIX}booze"
XDDL2 = f"drop table {PREFIX}barflys"
SAMPLES = ["Carlton Cold", "Carlton Draft", "Mountain Goat", "Redback", "Victoria Bitter", "XXXX"]


@pytest.fixture
def connect(berth_server, engine):
    """Opens connections the way an application would; closes what the test left open and drops
    the tables."""
    opened = []

    def _connect(**kwargs):
        conn = dbapi.connect(
            url=berth_server.grpc_url, token=berth_server.token, connection=berth_server.connections[engine], **kwargs
        )
        opened.append(conn)
        return conn

    yield _connect
    for conn in opened:
        conn.close()
    cleanup = _connect(autocommit=True)
    cur = cleanup.cursor()
    for table in ("booze", "barflys"):
        cur.execute(f"drop table if exists {PREFIX}{table}")
    cleanup.close()


@pytest.fixture
def con(connect):
    return connect()


def ddl1(cur):
    cur.execute(DDL1)


def ddl2(cur):
    cur.execute(DDL2)


def populate(cur):
    for s in SAMPLES:
        cur.execute(f"insert into {PREFIX}booze values ('{s}')")


# -- module globals ---------------------------------------------------------------------------------


def test_apilevel():
    assert dbapi.apilevel == "2.0"


def test_threadsafety():
    assert dbapi.threadsafety in (0, 1, 2, 3)


def test_paramstyle():
    assert dbapi.paramstyle in ("format", "named", "numeric", "pyformat", "qmark")
    assert dbapi.paramstyle == "pyformat"


def test_exception_hierarchy():
    assert issubclass(dbapi.Warning, Exception)
    assert issubclass(dbapi.Error, Exception)
    assert issubclass(dbapi.InterfaceError, dbapi.Error)
    assert issubclass(dbapi.DatabaseError, dbapi.Error)
    for name in ("DataError", "OperationalError", "IntegrityError", "InternalError", "ProgrammingError",
                 "NotSupportedError"):
        assert issubclass(getattr(dbapi, name), dbapi.DatabaseError), name
    assert not issubclass(dbapi.Warning, dbapi.Error)


def test_exceptions_as_connection_attributes(con):
    for name in ("Warning", "Error", "InterfaceError", "DatabaseError", "OperationalError", "IntegrityError",
                 "InternalError", "ProgrammingError", "NotSupportedError", "DataError"):
        assert getattr(con, name) is getattr(dbapi, name)


def test_type_constructors():
    assert dbapi.Date(2002, 12, 25) == datetime.date(2002, 12, 25)
    assert dbapi.Time(13, 45, 30) == datetime.time(13, 45, 30)
    assert dbapi.Timestamp(2002, 12, 25, 13, 45, 30) == datetime.datetime(2002, 12, 25, 13, 45, 30)
    ticks = time.mktime((2002, 12, 25, 13, 45, 30, 0, 0, -1))
    assert dbapi.DateFromTicks(ticks) == datetime.date(2002, 12, 25)
    assert dbapi.TimeFromTicks(ticks) == datetime.time(13, 45, 30)
    assert dbapi.TimestampFromTicks(ticks) == datetime.datetime(2002, 12, 25, 13, 45, 30)
    assert dbapi.Binary(b"Something") == b"Something"
    assert dbapi.Binary(b"") == b""


def test_type_objects():
    assert dbapi.STRING == "varchar" and dbapi.STRING == "VARCHAR" and dbapi.STRING != "int4"
    assert dbapi.BINARY == "bytea" and dbapi.BINARY == "VARBINARY"
    assert dbapi.NUMBER == "int8" and dbapi.NUMBER == "DECIMAL" and dbapi.NUMBER != "text"
    assert dbapi.DATETIME == "timestamptz" and dbapi.DATETIME == "DATETIME"
    assert dbapi.ROWID == "oid"
    assert "int4" == dbapi.NUMBER  # the other way round, as description[i][1] == NUMBER is written


# -- connections ------------------------------------------------------------------------------------


def test_connect(con):
    assert not con.closed


def test_commit(con):
    con.commit()  # must work, with or without a transaction open


def test_rollback(con):
    con.rollback()


def test_cursor(con):
    con.cursor()


def test_cursor_isolation(con):
    # Cursors of one connection see each other's changes.
    cur1, cur2 = con.cursor(), con.cursor()
    ddl1(cur1)
    cur1.execute(f"insert into {PREFIX}booze values ('Victoria Bitter')")
    cur2.execute(f"select name from {PREFIX}booze")
    booze = cur2.fetchall()
    assert len(booze) == 1 and len(booze[0]) == 1


def test_close(con):
    cur = con.cursor()
    con.close()
    with pytest.raises(dbapi.Error):
        ddl1(cur)
    with pytest.raises(dbapi.Error):
        con.commit()
    with pytest.raises(dbapi.Error):
        con.cursor()
    con.close()  # closing again is harmless


def test_connection_context_manager_commits_or_rolls_back(connect, engine):
    setup = connect(autocommit=True)
    ddl1(setup.cursor())
    with connect() as c:
        c.cursor().execute(f"insert into {PREFIX}booze values ('kept')")
    with pytest.raises(ZeroDivisionError):
        with connect() as c:
            c.cursor().execute(f"insert into {PREFIX}booze values ('gone')")
            1 / 0
    assert direct(engine, f"select name from {PREFIX}booze") == ["kept"]


# -- cursors ----------------------------------------------------------------------------------------


def test_description(con):
    cur = con.cursor()
    ddl1(cur)
    assert cur.description is None, "no result set after DDL"
    cur.execute(f"select name from {PREFIX}booze")
    assert len(cur.description) == 1
    assert len(cur.description[0]) == 7
    assert cur.description[0][0].lower() == "name"
    assert cur.description[0][1] == dbapi.STRING
    ddl2(cur)
    assert cur.description is None


def test_rowcount(con):
    cur = con.cursor()
    ddl1(cur)
    assert cur.rowcount in (-1, 0)
    cur.execute(f"insert into {PREFIX}booze values ('Victoria Bitter')")
    assert cur.rowcount == 1
    cur.execute(f"select name from {PREFIX}booze")
    assert cur.rowcount in (-1, 1)
    cur.fetchall()
    assert cur.rowcount == 1
    ddl2(cur)
    assert cur.rowcount in (-1, 0)


def test_execute_with_parameters(con):
    cur = con.cursor()
    ddl1(cur)
    cur.execute(f"insert into {PREFIX}booze values ('Victoria Bitter')")
    assert cur.rowcount in (-1, 1)
    cur.execute(f"insert into {PREFIX}booze values (%s)", ("Cooper's",))
    assert cur.rowcount in (-1, 1)
    cur.execute(f"insert into {PREFIX}booze values (%(beer)s)", {"beer": "It's 100%"})
    cur.execute(f"select name from {PREFIX}booze where name like %s order by name", ("%r%%",))
    assert [r[0] for r in cur.fetchall()] == ["Cooper's", "Victoria Bitter"]
    cur.execute(f"select name from {PREFIX}booze order by name")
    assert [r[0] for r in cur.fetchall()] == ["Cooper's", "It's 100%", "Victoria Bitter"]


def test_executemany(con):
    cur = con.cursor()
    ddl1(cur)
    cur.executemany(f"insert into {PREFIX}booze values (%s)", [("Cooper's",), ("Boag's",)])
    assert cur.rowcount in (-1, 2)
    cur.executemany(f"insert into {PREFIX}booze values (%(beer)s)", [{"beer": "Lion"}, {"beer": "Tooheys"}])
    assert cur.rowcount in (-1, 2)
    cur.execute(f"select name from {PREFIX}booze order by name")
    assert [r[0] for r in cur.fetchall()] == ["Boag's", "Cooper's", "Lion", "Tooheys"]


def test_fetchone(con):
    cur = con.cursor()
    with pytest.raises(dbapi.Error):
        cur.fetchone()  # nothing executed yet
    ddl1(cur)
    with pytest.raises(dbapi.Error):
        cur.fetchone()  # no result set
    cur.execute(f"select name from {PREFIX}booze")
    assert cur.fetchone() is None
    assert cur.rowcount in (-1, 0)
    cur.execute(f"insert into {PREFIX}booze values ('Victoria Bitter')")
    with pytest.raises(dbapi.Error):
        cur.fetchone()
    cur.execute(f"select name from {PREFIX}booze")
    r = cur.fetchone()
    assert len(r) == 1 and r[0] == "Victoria Bitter"
    assert cur.fetchone() is None
    assert cur.rowcount in (-1, 1)


def test_fetchmany(con):
    cur = con.cursor()
    with pytest.raises(dbapi.Error):
        cur.fetchmany(4)
    ddl1(cur)
    populate(cur)
    cur.execute(f"select name from {PREFIX}booze")
    assert cur.arraysize == 1
    assert len(cur.fetchmany()) == 1
    cur.arraysize = 10
    cur.execute(f"select name from {PREFIX}booze")
    assert len(cur.fetchmany(4)) == 4
    assert len(cur.fetchmany(4)) == 2
    assert len(cur.fetchmany(4)) == 0
    assert cur.rowcount in (-1, 6)
    cur.arraysize = 4
    cur.execute(f"select name from {PREFIX}booze order by name")
    r = cur.fetchmany()
    assert len(r) == 4
    r.extend(cur.fetchmany())
    assert [x[0] for x in r] == SAMPLES
    assert cur.fetchmany() == []
    cur.execute(f"select name from {PREFIX}booze where 1 = 0")
    assert cur.fetchmany() == []


def test_fetchall(con):
    cur = con.cursor()
    with pytest.raises(dbapi.Error):
        cur.fetchall()
    ddl1(cur)
    populate(cur)
    with pytest.raises(dbapi.Error):
        cur.fetchall()  # the last statement was an insert
    cur.execute(f"select name from {PREFIX}booze")
    rows = cur.fetchall()
    assert cur.rowcount in (-1, len(SAMPLES))
    assert sorted(r[0] for r in rows) == SAMPLES
    assert cur.fetchall() == []
    cur.execute(f"select name from {PREFIX}booze where 1 = 0")
    assert cur.fetchall() == []
    assert cur.rowcount in (-1, 0)


def test_mixedfetch(con):
    cur = con.cursor()
    ddl1(cur)
    populate(cur)
    cur.execute(f"select name from {PREFIX}booze order by name")
    rows1 = cur.fetchone()
    rows23 = cur.fetchmany(2)
    rows4 = cur.fetchone()
    rows56 = cur.fetchall()
    assert len(rows23) == 2 and len(rows56) == 2
    got = [rows1[0], rows23[0][0], rows23[1][0], rows4[0], rows56[0][0], rows56[1][0]]
    assert got == SAMPLES


def test_cursor_iteration_and_close(con):
    cur = con.cursor()
    ddl1(cur)
    populate(cur)
    cur.execute(f"select name from {PREFIX}booze order by name")
    assert [r[0] for r in cur] == SAMPLES
    cur.close()
    with pytest.raises(dbapi.InterfaceError):
        cur.execute("select 1")
    cur.close()


def test_arraysize_setinputsizes_setoutputsize(con):
    cur = con.cursor()
    assert hasattr(cur, "arraysize")
    cur.setinputsizes((25,))
    cur.setoutputsize(1000)
    cur.setoutputsize(1000, 0)


def test_none(con):
    cur = con.cursor()
    ddl1(cur)
    cur.execute(f"insert into {PREFIX}booze values (NULL)")
    cur.execute(f"insert into {PREFIX}booze values (%s)", (None,))
    cur.execute(f"select name from {PREFIX}booze")
    assert cur.fetchall() == [(None,), (None,)]


def test_description_type_codes_compare_to_the_type_objects(con, engine):
    cur = con.cursor()
    cur.execute("select 1, 1.5, 'x', cast('2024-01-02' as date), now(), %s", (2,))
    codes = [d.type_code for d in cur.description]
    assert codes[0] == dbapi.NUMBER and codes[1] == dbapi.NUMBER
    assert codes[2] == dbapi.STRING
    assert codes[3] == dbapi.DATETIME and codes[4] == dbapi.DATETIME
    assert cur.fetchone()[5] in (2, "2")  # a bare parameter's type is the engine's guess


# -- transactions -----------------------------------------------------------------------------------


def test_a_transaction_begins_with_the_first_statement_and_ends_with_commit(connect, engine):
    setup = connect(autocommit=True)
    ddl1(setup.cursor())
    con = connect()
    cur = con.cursor()
    cur.execute(f"insert into {PREFIX}booze values (%s)", ("Redback",))
    assert con.session.in_transaction
    assert direct(engine, f"select count(*) from {PREFIX}booze") == ["0"]
    con.commit()
    assert not con.session.in_transaction
    assert direct(engine, f"select count(*) from {PREFIX}booze") == ["1"]


def test_rollback_undoes_and_close_rolls_back(connect, engine):
    setup = connect(autocommit=True)
    ddl1(setup.cursor())
    con = connect()
    cur = con.cursor()
    cur.execute(f"insert into {PREFIX}booze values (%s)", ("gone",))
    con.rollback()
    cur.execute(f"insert into {PREFIX}booze values (%s)", ("also gone",))
    con.close()
    assert direct(engine, f"select count(*) from {PREFIX}booze") == ["0"]


def test_autocommit_runs_each_statement_on_its_own(connect, engine):
    con = connect(autocommit=True)
    ddl1(con.cursor())
    con.cursor().execute(f"insert into {PREFIX}booze values (%s)", ("now",))
    assert not con.session.in_transaction
    assert direct(engine, f"select name from {PREFIX}booze") == ["now"]
    con.autocommit = False
    con.cursor().execute(f"insert into {PREFIX}booze values (%s)", ("later",))
    with pytest.raises(dbapi.ProgrammingError):
        con.autocommit = True
    con.rollback()
    con.autocommit = True


def test_connect_by_name_and_with_an_explicit_engine(berth_server, engine):
    conn_id = berth_server.connections[engine]
    with dbapi.connect(url=berth_server.grpc_url, token=berth_server.admin_token, connection=conn_id,
                       engine="mariadb" if engine == "mysql" else "postgres") as con:
        assert con.engine == ("mysql" if engine == "mysql" else "postgresql")
    name = berth_server.api(f"/api/connections/{conn_id}", token=berth_server.admin_token)["name"]
    with dbapi.connect(url=berth_server.grpc_url, token=berth_server.token, connection=name) as con:
        cur = con.cursor()
        cur.execute("select 1")
        assert cur.fetchone() == (1,)


def test_connect_refuses_what_it_cannot_use(berth_server):
    with pytest.raises(dbapi.InterfaceError):
        dbapi.connect(url=berth_server.grpc_url, token=berth_server.token)
    with pytest.raises(dbapi.ProgrammingError):
        dbapi.connect(url=berth_server.grpc_url, token=berth_server.token, connection="no-such-connection")
    with pytest.raises(dbapi.OperationalError) as info:
        dbapi.connect(url=berth_server.grpc_url, token="berth_t_wrong", connection="x", engine="postgresql")
    assert info.value.code == "UNAUTHENTICATED"
    with pytest.raises(dbapi.InterfaceError):
        dbapi.connect(url="ftp://nowhere", token="t", connection="x")


# -- errors, classed as the native drivers class them --------------------------------------------


def test_a_duplicate_key_is_an_integrity_error(con, engine):
    cur = con.cursor()
    cur.execute(f"create table {PREFIX}booze (name varchar(20) primary key)")
    con.commit()
    cur.execute(f"insert into {PREFIX}booze values (%s)", ("one",))
    with pytest.raises(dbapi.IntegrityError) as info:
        cur.execute(f"insert into {PREFIX}booze values (%s)", ("one",))
    err = info.value
    if engine == "pg":
        assert err.sqlstate == "23505" and err.engine_code == "23505"
    else:
        assert err.errno == 1062
    assert err.berth_error is not None and err.kind == "query_failed"
    con.rollback()


def test_a_syntax_error_or_unknown_table_is_a_programming_error(con, engine):
    cur = con.cursor()
    with pytest.raises(dbapi.ProgrammingError) as info:
        cur.execute("selec 1")
    assert info.value.engine_code == ("42601" if engine == "pg" else "1064")
    con.rollback()
    with pytest.raises(dbapi.ProgrammingError):
        cur.execute(f"select * from {PREFIX}nothing_here")
    con.rollback()


def test_bad_data_is_a_data_error(con, engine):
    cur = con.cursor()
    ddl1(cur)
    con.commit()
    with pytest.raises(dbapi.DataError):
        cur.execute(f"insert into {PREFIX}booze values (%s)", ("x" * 50,))
    con.rollback()
    if engine == "pg":
        with pytest.raises(dbapi.DataError):
            cur.execute("select 1 / 0")
        con.rollback()


# Only PostgreSQL aborts the whole transaction on an error.
@pytest.mark.parametrize("engine", ["pg"])
def test_an_aborted_transaction_is_an_internal_error_until_rolled_back(con, engine):
    cur = con.cursor()
    with pytest.raises(dbapi.ProgrammingError):
        cur.execute("selec 1")
    with pytest.raises(dbapi.InternalError) as info:
        cur.execute("select 1")
    assert info.value.sqlstate == "25P02"
    con.rollback()
    cur.execute("select 1")
    assert cur.fetchone() == (1,)


def test_a_statement_timeout_is_an_operational_error(connect, engine):
    con = connect(timeout=0.5)
    cur = con.cursor()
    with pytest.raises(dbapi.OperationalError) as info:
        cur.execute("select pg_sleep(5)" if engine == "pg" else "select sleep(5)")
    assert info.value.code == "DEADLINE_EXCEEDED"
    con.rollback()


def test_an_unsupported_parameter_is_a_programming_error(con):
    with pytest.raises(dbapi.ProgrammingError):
        con.cursor().execute("select %s", (object(),))
