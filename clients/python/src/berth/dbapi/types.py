"""PEP 249's type objects and constructors.

``cursor.description``'s ``type_code`` is the engine's type name (``int4``, ``varchar``,
``timestamptz`` on PostgreSQL; ``INT``, ``VARCHAR``, ``DATETIME`` on MySQL/MariaDB); it compares
equal to the type object of its kind: ``description[0].type_code == NUMBER``.
"""

from __future__ import annotations

import datetime
import time
from typing import Any, FrozenSet


class DBAPITypeObject:
    def __init__(self, name: str, *type_names: str) -> None:
        self.name = name
        self.values: FrozenSet[str] = frozenset(t.lower() for t in type_names)

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, DBAPITypeObject):
            return self is other
        if isinstance(other, str):
            return other.lower() in self.values
        return NotImplemented

    def __ne__(self, other: Any) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash((self.name, self.values))

    def __repr__(self) -> str:
        return f"<DBAPITypeObject {self.name}>"


STRING = DBAPITypeObject(
    "STRING",
    # PostgreSQL
    "text", "varchar", "bpchar", "char", "name", "uuid", "json", "jsonb", "xml", "inet", "cidr",
    # MySQL / MariaDB
    "CHAR", "VARCHAR", "TINYTEXT", "TEXT", "MEDIUMTEXT", "LONGTEXT", "ENUM", "SET", "JSON",
)
BINARY = DBAPITypeObject(
    "BINARY",
    "bytea",
    "BINARY", "VARBINARY", "TINYBLOB", "BLOB", "MEDIUMBLOB", "LONGBLOB", "BIT",
)
NUMBER = DBAPITypeObject(
    "NUMBER",
    "int2", "int4", "int8", "float4", "float8", "numeric", "money", "oid", "bool",
    "TINYINT", "SMALLINT", "MEDIUMINT", "INT", "BIGINT", "FLOAT", "DOUBLE", "DECIMAL", "YEAR",
)
DATETIME = DBAPITypeObject(
    "DATETIME",
    "date", "time", "timetz", "timestamp", "timestamptz", "interval",
    "DATE", "TIME", "DATETIME", "TIMESTAMP",
)
ROWID = DBAPITypeObject("ROWID", "oid", "tid")

Date = datetime.date
Time = datetime.time
Timestamp = datetime.datetime
Binary = bytes


def DateFromTicks(ticks: float) -> datetime.date:
    return Date(*time.localtime(ticks)[:3])


def TimeFromTicks(ticks: float) -> datetime.time:
    return Time(*time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks: float) -> datetime.datetime:
    return Timestamp(*time.localtime(ticks)[:6])
