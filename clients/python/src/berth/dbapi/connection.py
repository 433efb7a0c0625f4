"""PEP 249 connections: one Berth session stream, with a transaction begun lazily."""

from __future__ import annotations

from typing import Any, List, Optional

from ..client import BerthClient
from ..errors import BerthError
from ..results import RowStream
from ..session import Session
from . import exceptions
from .cursor import Cursor
from .exceptions import InterfaceError, ProgrammingError, from_berth_error


class Connection:
    """A DB-API connection: one pooled database session held through Berth for its lifetime.

    As with the native drivers, the first statement after ``connect``, ``commit`` or ``rollback``
    begins a transaction, which lasts until ``commit()`` or ``rollback()``; closing the connection
    (or losing it) rolls back. ``autocommit = True`` runs each statement on its own.
    """

    # PEP 249's optional extension: the exceptions as attributes of the connection.
    Warning = exceptions.Warning
    Error = exceptions.Error
    InterfaceError = exceptions.InterfaceError
    DatabaseError = exceptions.DatabaseError
    DataError = exceptions.DataError
    OperationalError = exceptions.OperationalError
    IntegrityError = exceptions.IntegrityError
    InternalError = exceptions.InternalError
    ProgrammingError = exceptions.ProgrammingError
    NotSupportedError = exceptions.NotSupportedError

    def __init__(
        self,
        client: BerthClient,
        session: Session,
        engine: str,
        *,
        autocommit: bool = False,
        isolation: Optional[str] = None,
        owns_client: bool = True,
    ) -> None:
        self._client: Optional[BerthClient] = client
        self._session: Optional[Session] = session
        #: postgresql, mysql, sqlserver or oracle: decides the placeholders and error classes.
        self.engine = engine
        self._autocommit = autocommit
        self.isolation = isolation
        self._owns_client = owns_client
        self.messages: List[Any] = []

    # -- state --------------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._session is None

    @property
    def session(self) -> Session:
        """The underlying :class:`berth.Session` (its lease, its transaction state)."""
        if self._session is None:
            raise InterfaceError("The connection is closed")
        return self._session

    def _fail(self, err: BerthError) -> Exception:
        return from_berth_error(err, self.engine)

    @property
    def autocommit(self) -> bool:
        return self._autocommit

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        if self.session.in_transaction:
            raise ProgrammingError("Commit or roll back the open transaction before changing autocommit")
        self._autocommit = bool(value)

    # -- statements ---------------------------------------------------------------------------------

    def cursor(self) -> Cursor:
        self.session  # noqa: B018 - raises on a closed connection
        return Cursor(self)

    def _run(self, sql: str, values: List[Any]) -> RowStream:
        session = self.session
        if not self._autocommit and not session.in_transaction:
            session.begin(self.isolation)
        try:
            return session.stream(sql, values)
        except BerthError as err:
            if err.reason == "unsupported_parameter_type":
                raise ProgrammingError(str(err)) from err
            raise

    def commit(self) -> None:
        session = self.session
        if not session.in_transaction:
            return
        try:
            session.commit()
        except BerthError as err:
            raise self._fail(err) from err

    def rollback(self) -> None:
        session = self.session
        if not session.in_transaction:
            return
        try:
            session.rollback()
        except BerthError as err:
            raise self._fail(err) from err

    def close(self) -> None:
        """Closes the session (an open transaction is rolled back). Closing again does nothing."""
        session, self._session = self._session, None
        if session is not None:
            session.close()
        client, self._client = self._client, None
        if client is not None and self._owns_client:
            client.close()

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        # Like sqlite3 and psycopg: commit on success, roll back on an exception, then close.
        try:
            if not self.closed and not self.session.closed:
                if exc_type is None:
                    self.commit()
                else:
                    self.rollback()
        finally:
            self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
