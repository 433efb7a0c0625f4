"""PEP 249 cursors: statements on the connection's session, rows fetched lazily."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Iterator, List, NamedTuple, Optional, Sequence

from ..errors import BerthError
from ..results import RowStream
from .exceptions import InterfaceError, ProgrammingError, from_berth_error
from .paramstyle import translate

if TYPE_CHECKING:  # pragma: no cover
    from .connection import Connection


class Description(NamedTuple):
    """One column of ``cursor.description``; ``type_code`` is the engine's type name."""

    name: str
    type_code: str
    display_size: Optional[int]
    internal_size: Optional[int]
    precision: Optional[int]
    scale: Optional[int]
    null_ok: Optional[bool]


class Cursor:
    """Rows are pulled from Berth as you fetch, a batch at a time, so a large result is never held
    whole. Running another statement on the same connection before the rows are fetched reads the
    rest of them into memory first (the session answers in order)."""

    #: Rows fetchmany() returns by default.
    arraysize = 1

    def __init__(self, connection: "Connection") -> None:
        self._connection: Optional["Connection"] = connection
        self._rows: Optional[RowStream] = None
        self.description: Optional[List[Description]] = None
        self.rowcount = -1
        #: Not known through Berth (no insert id travels back): always None.
        self.lastrowid: Optional[int] = None
        self.messages: List[Any] = []

    # -- state --------------------------------------------------------------------------------------

    @property
    def connection(self) -> "Connection":
        return self._live()

    @property
    def closed(self) -> bool:
        return self._connection is None

    def _live(self) -> "Connection":
        if self._connection is None:
            raise InterfaceError("The cursor is closed")
        return self._connection

    def _reset(self) -> None:
        if self._rows is not None:
            self._rows.close()
        self._rows = None
        self.description = None
        self.rowcount = -1

    def _fail(self, err: BerthError) -> Exception:
        conn = self._connection
        return from_berth_error(err, conn.engine if conn else "")

    # -- executing ----------------------------------------------------------------------------------

    def execute(self, operation: str, parameters: Any = None) -> "Cursor":
        """Runs a statement; ``parameters`` is a sequence for ``%s`` or a mapping for ``%(name)s``."""
        conn = self._live()
        self._reset()
        sql, values = translate(operation, parameters, conn.engine)
        try:
            rows = conn._run(sql, values)
            self._rows = rows
            # Errors belong to execute(), as with the native drivers: wait for the first rows.
            rows.prime()
            columns = rows.columns
            if not columns:
                # No result set: read to the completion for the count (and to free the session).
                rows.buffer_rest()
        except BerthError as err:
            self._rows = None
            raise self._fail(err) from err
        self.description = (
            [Description(c.name, c.type_name, None, None, None, None, c.nullable) for c in columns] if columns else None
        )
        self._update_rowcount()
        return self

    def executemany(self, operation: str, seq_of_parameters: Iterable[Any]) -> "Cursor":
        """Runs the statement once per set of parameters; ``rowcount`` is the total affected."""
        total = 0
        counted = True
        for parameters in seq_of_parameters:
            self.execute(operation, parameters)
            if self.description is not None:
                raise ProgrammingError("executemany() is for statements that return no rows")
            if self.rowcount < 0:
                counted = False
            total += max(self.rowcount, 0)
        self.rowcount = total if counted else -1
        return self

    def _update_rowcount(self) -> None:
        completion = self._rows.completion if self._rows is not None else None
        if completion is None:
            return
        self.rowcount = completion.rows_returned if self.description is not None else completion.rows_affected

    # -- fetching -----------------------------------------------------------------------------------

    def _result_rows(self) -> RowStream:
        self._live()
        if self._rows is None or self.description is None:
            raise ProgrammingError("No result set: execute a statement that returns rows first")
        return self._rows

    def fetchone(self) -> Optional[tuple]:
        rows = self._result_rows()
        try:
            row = next(rows, None)
        except BerthError as err:
            raise self._fail(err) from err
        if row is None:
            self._update_rowcount()
        return row

    def fetchmany(self, size: Optional[int] = None) -> List[tuple]:
        rows = self._result_rows()
        n = self.arraysize if size is None else size
        try:
            out = rows.fetch(n)
        except BerthError as err:
            raise self._fail(err) from err
        if len(out) < n:
            self._update_rowcount()
        return out

    def fetchall(self) -> List[tuple]:
        rows = self._result_rows()
        try:
            out = list(rows)
        except BerthError as err:
            raise self._fail(err) from err
        self._update_rowcount()
        return out

    def __iter__(self) -> Iterator[tuple]:
        return self

    def __next__(self) -> tuple:
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row

    # -- the rest of PEP 249 ------------------------------------------------------------------------

    def setinputsizes(self, sizes: Sequence[Any]) -> None:
        """Accepted and ignored: values carry their own types."""

    def setoutputsize(self, size: int, column: Optional[int] = None) -> None:
        """Accepted and ignored: values arrive whole."""

    def close(self) -> None:
        """Closes the cursor; its unfetched rows are dropped. Later use raises InterfaceError."""
        if self._connection is None:
            return
        try:
            self._reset()
        except BerthError:
            pass  # the rows were not wanted; a broken session shows on the next statement
        self._connection = None

    def __enter__(self) -> "Cursor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
