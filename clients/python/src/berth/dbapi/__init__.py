"""berth.dbapi: a PEP 249 (DB-API 2.0) driver over Berth.

    from berth import dbapi

    conn = dbapi.connect(url="http://berth:9090", token=TOKEN, connection="orders")
    cur = conn.cursor()
    cur.execute("SELECT id, total FROM orders WHERE customer = %s", (42,))
    for row in cur:
        ...
    conn.commit()

- ``paramstyle = "pyformat"``: ``%s`` with a sequence, ``%(name)s`` with a mapping (psycopg2's and
  PyMySQL's), translated to the engine's placeholders and bound by the database, never
  interpolated; a literal ``%`` is ``%%`` when parameters are given.
- ``threadsafety = 1``: threads may share the module, not connections.
- A connection is one Berth session stream: the first statement begins a transaction, which
  ``commit()`` / ``rollback()`` end; ``close()`` rolls back what is open.
"""

from __future__ import annotations

from typing import Any, Optional, Union

from .. import BerthClient, BerthError, TlsConfig
from .._gen.berth.v1 import connection_service_pb2 as connection_pb2
from .._gen.berth.v1 import types_pb2
from .connection import Connection
from .cursor import Cursor, Description
from .exceptions import (
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Warning,
    from_berth_error,
)
from .types import (
    BINARY,
    DATETIME,
    NUMBER,
    ROWID,
    STRING,
    Binary,
    Date,
    DateFromTicks,
    Time,
    TimeFromTicks,
    Timestamp,
    TimestampFromTicks,
)

apilevel = "2.0"
threadsafety = 1
paramstyle = "pyformat"

_ENGINES = {
    types_pb2.ENGINE_POSTGRESQL: "postgresql",
    types_pb2.ENGINE_MYSQL: "mysql",
    types_pb2.ENGINE_SQLSERVER: "sqlserver",
    types_pb2.ENGINE_ORACLE: "oracle",
}
_ENGINE_NAMES = {"postgresql": "postgresql", "postgres": "postgresql", "pg": "postgresql", "mysql": "mysql",
                 "mariadb": "mysql", "sqlserver": "sqlserver", "mssql": "sqlserver", "oracle": "oracle"}


def _find_connection(client: BerthClient, connection: str) -> Any:
    """The saved connection by id, or else by name."""
    try:
        return client.get_connection(connection)
    except BerthError as err:
        if err.code not in ("NOT_FOUND", "INVALID_ARGUMENT"):
            raise
        missing = err
    page = ""
    while True:
        answer = client.call(
            client.connections.ListConnections, connection_pb2.ListConnectionsRequest(page_size=500, page_token=page)
        )
        for c in answer.connections:
            if c.name == connection:
                return c
        page = answer.next_page_token
        if not page:
            raise missing


def connect(
    url: Optional[str] = None,
    token: Optional[str] = None,
    connection: Optional[str] = None,
    *,
    target: Optional[str] = None,
    tls: Union[bool, dict, TlsConfig, None] = None,
    engine: Optional[str] = None,
    autocommit: bool = False,
    isolation: Optional[str] = None,
    intent: Optional[str] = None,
    timeout: Optional[float] = 60.0,
    client: Optional[BerthClient] = None,
) -> Connection:
    """Opens a connection: a session on the Berth connection ``connection`` (its id or name).

    ``url``/``target``, ``token`` and ``tls`` are :class:`berth.BerthClient`'s (or pass ``client``
    to share one). ``engine`` (postgresql, mysql, ...) is looked up from the saved connection when
    not given. ``timeout`` is each statement's, in seconds. ``isolation`` applies to the
    transactions begun; ``intent="read"`` lets a replica serve the session.
    """
    if not connection:
        raise InterfaceError("connect() needs connection=: the id or name of a Berth connection")
    owns = client is None
    try:
        if client is None:
            client = BerthClient(url, target=target, token=token, tls=tls, timeout=timeout)
    except BerthError as err:
        raise InterfaceError(str(err)) from err
    try:
        if engine is None or not _looks_like_id(connection):
            found = _find_connection(client, connection)
            connection = found.id
            detected = _ENGINES.get(found.type)
            if engine is None:
                engine = detected
        engine_name = _ENGINE_NAMES.get((engine or "").lower())
        if engine_name is None:
            raise InterfaceError(
                f"Unknown engine {engine!r}: give engine='postgresql', 'mysql', 'sqlserver' or 'oracle'"
            )
        session = client.session(connection, intent=intent, timeout=timeout)
    except BerthError as err:
        if owns:
            client.close()
        raise from_berth_error(err, engine or "") from err
    except Exception:
        if owns:
            client.close()
        raise
    return Connection(client, session, engine_name, autocommit=autocommit, isolation=isolation, owns_client=owns)


def _looks_like_id(connection: str) -> bool:
    # Berth's connection ids are UUIDs: with one and an engine given, no lookup is needed.
    parts = connection.split("-")
    return len(parts) == 5 and all(p and all(ch in "0123456789abcdefABCDEF" for ch in p) for p in parts)


__all__ = [
    "BINARY",
    "DATETIME",
    "NUMBER",
    "ROWID",
    "STRING",
    "Binary",
    "Connection",
    "Cursor",
    "DataError",
    "DatabaseError",
    "Date",
    "DateFromTicks",
    "Description",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "Time",
    "TimeFromTicks",
    "Timestamp",
    "TimestampFromTicks",
    "Warning",
    "apilevel",
    "connect",
    "paramstyle",
    "threadsafety",
]
