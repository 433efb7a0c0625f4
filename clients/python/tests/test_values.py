"""Every value kind round-trips through a real Berth to PostgreSQL and MariaDB and back."""

import datetime as dt
import os
from decimal import Decimal

import pytest

from berth import Json

UTC = dt.timezone.utc
INSTANT = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
PLUS2 = dt.timezone(dt.timedelta(hours=2))

# (value sent, PostgreSQL cast, what comes back): one per kind of berth.v1.Value, and the edges.
PG_CASES = [
    ("null", None, "int8", None),
    ("bool", True, "bool", True),
    ("bool false", False, "bool", False),
    ("int64 max", 2**63 - 1, "int8", 2**63 - 1),
    ("int64 min", -(2**63), "int8", -(2**63)),
    ("int beyond int64", 2**70, "numeric", Decimal(2**70)),
    ("double", 0.1, "float8", 0.1),
    ("double inf", float("inf"), "float8", float("inf")),
    ("decimal", Decimal("-12345678901234567890.123456789"), "numeric", Decimal("-12345678901234567890.123456789")),
    ("text", "héllo ☃ 🚀 'quoted' $1", "text", "héllo ☃ 🚀 'quoted' $1"),
    ("empty text", "", "text", ""),
    ("bytes", bytes(range(256)), "bytea", bytes(range(256))),
    ("date", dt.date(2024, 2, 29), "date", dt.date(2024, 2, 29)),
    ("time", dt.time(13, 14, 15, 123456), "time", dt.time(13, 14, 15, 123456)),
    ("time with zone", dt.time(13, 14, 15, tzinfo=PLUS2), "timetz", dt.time(13, 14, 15, tzinfo=PLUS2)),
    ("timestamp (an instant)", INSTANT, "timestamptz", INSTANT),
    ("timestamp from another zone", INSTANT.astimezone(PLUS2), "timestamptz", INSTANT),
    ("local timestamp", dt.datetime(2024, 5, 6, 7, 8, 9, 654321), "timestamp", dt.datetime(2024, 5, 6, 7, 8, 9, 654321)),
    ("json", {"a": [1, "x", None, True], "b": {"c": 1.5}}, "jsonb", {"a": [1, "x", None, True], "b": {"c": 1.5}}),
    ("json list", Json([1, 2]), "json", [1, 2]),
    ("array", [1, None, 3], "int8[]", [1, None, 3]),
    ("text array", ["a", "b,c", '"q"', None], "text[]", ["a", "b,c", '"q"', None]),
    ("nested array", [[1, 2], [3, 4]], "int4[]", [[1, 2], [3, 4]]),
]


@pytest.mark.parametrize("name, value, cast, expected", PG_CASES, ids=[c[0] for c in PG_CASES])
def test_postgresql_round_trip(client, berth_server, name, value, cast, expected):
    result = client.query(berth_server.connections["pg"], f"SELECT $1::{cast} AS v", [value])
    got = result.scalar()
    assert got == expected
    assert type(got) is type(expected)
    if isinstance(expected, (dt.datetime, dt.time)):
        assert got.utcoffset() == expected.utcoffset()


def test_postgresql_column_types_and_names_come_with_the_rows(client, berth_server):
    result = client.query(berth_server.connections["pg"], "SELECT 1::int4 AS a, 'x'::varchar AS b, now() AS c")
    assert [(c.name, c.type_name) for c in result.columns] == [("a", "int4"), ("b", "varchar"), ("c", "timestamptz")]
    assert result.dicts()[0]["a"] == 1


MYSQL_COLUMNS = {
    "b": "BOOLEAN",
    "i": "BIGINT",
    "d": "DOUBLE",
    "n": "DECIMAL(30,9)",
    "t": "VARCHAR(100) CHARACTER SET utf8mb4",
    "by": "VARBINARY(300)",
    "dt": "DATE",
    "tm": "TIME(6)",
    "dur": "TIME",
    "lts": "DATETIME(6)",
    "inst": "DATETIME(6)",
    "j": "JSON",
    "nul": "INT NULL",
}
# MySQL has no boolean (TINYINT(1)), instants or arrays; MariaDB's JSON is a LONGTEXT that says it
# holds JSON.
MYSQL_ROW = {
    "b": (True, 1),
    "i": (-(2**63), -(2**63)),
    "d": (0.1, 0.1),
    "n": (Decimal("-123456789012345678.123456789"), Decimal("-123456789012345678.123456789")),
    "t": ("héllo ☃ 🚀 'quoted' ?", "héllo ☃ 🚀 'quoted' ?"),
    "by": (bytes(range(256)), bytes(range(256))),
    "dt": (dt.date(2024, 2, 29), dt.date(2024, 2, 29)),
    "tm": (dt.time(13, 14, 15, 123456), dt.time(13, 14, 15, 123456)),
    "dur": (dt.timedelta(hours=100, minutes=1), dt.timedelta(hours=100, minutes=1)),
    "lts": (dt.datetime(2024, 5, 6, 7, 8, 9, 654321), dt.datetime(2024, 5, 6, 7, 8, 9, 654321)),
    # An instant is stored as its UTC wall-clock time.
    "inst": (INSTANT.astimezone(PLUS2), INSTANT.replace(tzinfo=None)),
    "j": ({"a": [1, "x", None], "big": 12345678901234567891}, {"a": [1, "x", None], "big": 12345678901234567891}),
    "nul": (None, None),
}


@pytest.fixture
def mysql_table(client, berth_server):
    table = f"py_sdk_types_{os.urandom(3).hex()}"
    conn = berth_server.connections["mysql"]
    cols = ", ".join(f"`{c}` {t}" for c, t in MYSQL_COLUMNS.items())
    client.query(conn, f"CREATE TABLE {table} ({cols})")
    yield table
    client.query(conn, f"DROP TABLE {table}")


def test_mysql_round_trip(client, berth_server, mysql_table):
    conn = berth_server.connections["mysql"]
    names = list(MYSQL_COLUMNS)
    client.query(
        conn,
        f"INSERT INTO {mysql_table} ({', '.join(f'`{n}`' for n in names)}) VALUES ({', '.join('?' for _ in names)})",
        [MYSQL_ROW[n][0] for n in names],
    )
    result = client.query(conn, f"SELECT * FROM {mysql_table}")
    row = result.dicts()[0]
    for name in names:
        expected = MYSQL_ROW[name][1]
        assert row[name] == expected, name
        assert type(row[name]) is type(expected), name
    types = {c.name: c.type_name for c in result.columns}
    assert types["lts"] == "DATETIME" and types["by"] == "VARBINARY" and types["n"] == "DECIMAL"
    assert types["j"] == "JSON"


def test_mysql_echoes_parameters_as_the_server_types_them(client, berth_server):
    # A bare ? has no column type: MariaDB answers with the parameter's own type.
    result = client.query(berth_server.connections["mysql"], "SELECT ? + 1 AS i, CONCAT(?, '!') AS s", [41, "hi"])
    assert result.rows == [(42, "hi!")]
