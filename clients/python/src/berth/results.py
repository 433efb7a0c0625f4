"""A statement's result: columns, rows pulled lazily batch by batch, and its completion."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, Iterator, List, NamedTuple, Optional, Sequence

from .values import to_python


class Column(NamedTuple):
    name: str
    #: The engine's own type name: int4, varchar, numeric, timestamptz, DATETIME, VARBINARY...
    type_name: str
    #: None when the engine does not say.
    nullable: Optional[bool]


@dataclass(frozen=True)
class Completion:
    rows_affected: int
    #: SELECT, INSERT, UPDATE, ... as the engine reports it.
    command_tag: str
    duration_ms: float
    #: True when max_rows cut the result short.
    truncated: bool
    rows_returned: int


@dataclass(frozen=True)
class Result:
    """A whole result, as ``query`` returns it. Rows are tuples in column order."""

    columns: List[Column]
    rows: List[tuple]
    completion: Completion

    @property
    def rows_affected(self) -> int:
        return self.completion.rows_affected

    @property
    def command_tag(self) -> str:
        return self.completion.command_tag

    @property
    def truncated(self) -> bool:
        return self.completion.truncated

    def dicts(self) -> List[Dict[str, Any]]:
        """The rows as dicts keyed by column name (a later duplicate name wins)."""
        names = [c.name for c in self.columns]
        return [dict(zip(names, row)) for row in self.rows]

    def scalar(self) -> Any:
        """The first column of the first row (None without rows)."""
        return self.rows[0][0] if self.rows and self.rows[0] else None

    def __iter__(self) -> Iterator[tuple]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


def _columns(message: Any) -> List[Column]:
    return [
        Column(c.name, c.type_name, c.nullable if c.HasField("nullable") else None) for c in message.columns
    ]


def _completion(message: Any) -> Completion:
    return Completion(
        rows_affected=message.rows_affected,
        command_tag=message.command_tag,
        duration_ms=message.duration_ms,
        truncated=message.truncated,
        rows_returned=message.rows_returned,
    )


class RowStream:
    """Rows of one statement, pulled from Berth a batch at a time as you iterate.

    Only the batch being read is held in memory: while you are slow, the batches still to come wait
    in gRPC's flow-control window and then on the server, which stops reading from the database.
    ``columns`` is known after the first batch; ``completion`` after the last row. ``close()`` (or
    leaving a ``with`` block) before the end cancels the statement.
    """

    def __init__(
        self,
        pull: Callable[[], Optional[Any]],
        discard: Callable[["RowStream"], None],
        json_loads: Optional[Callable[[str], Any]] = json.loads,
    ) -> None:
        # pull() returns this statement's next ExecuteResponse, or None when there is no more.
        self._pull = pull
        self._discard = discard
        self._json_loads = json_loads
        self._columns: Optional[List[Column]] = None
        self._batch: Sequence[Any] = ()
        self._index = 0
        self._queue: Deque[Sequence[Any]] = deque()
        self._completion: Optional[Completion] = None
        self._done = False
        self._closed = False
        # A failure met while this stream's rest was read for the next statement: raised in turn.
        self._failure: Optional[BaseException] = None

    # -- pulling ------------------------------------------------------------------------------------

    def _fill(self) -> bool:
        """Pulls one more message from the server; False once the statement is over."""
        if self._done:
            return False
        try:
            message = self._pull()
        except BaseException:
            # The statement failed (or the stream broke): nothing more will come for it.
            self._done = True
            raise
        if message is None:
            self._done = True
            return False
        if message.HasField("columns"):
            self._columns = _columns(message.columns)
        if message.HasField("rows") and message.rows.rows and not self._closed:
            self._queue.append(message.rows.rows)
        if message.HasField("complete"):
            self._completion = _completion(message.complete)
            self._done = True
        return True

    def __iter__(self) -> "RowStream":
        return self

    def __next__(self) -> tuple:
        while self._index >= len(self._batch):
            if self._closed:
                raise StopIteration
            if self._queue:
                self._batch, self._index = self._queue.popleft(), 0
            elif self._failure is not None:
                failure, self._failure = self._failure, None
                raise failure
            elif not self._fill():
                raise StopIteration
        row = self._batch[self._index]
        self._index += 1
        loads = self._json_loads
        return tuple([to_python(v, loads) for v in row.values])

    def fetch(self, n: int) -> List[tuple]:
        """Up to ``n`` more rows (fewer at the end)."""
        out: List[tuple] = []
        if n <= 0:
            return out
        for row in self:
            out.append(row)
            if len(out) >= n:
                break
        return out

    def read_all(self) -> Result:
        rows = list(self)
        return Result(self.columns, rows, self.completion or Completion(0, "", 0.0, False, len(rows)))

    def prime(self) -> None:
        """Waits for the first rows (or the end): a statement that fails before its first row raises
        here, not at the first fetch."""
        while not self._closed and not self._queue and self._index >= len(self._batch) and self._fill():
            pass

    @property
    def columns(self) -> List[Column]:
        """The result's columns (reads ahead to the first message if needed; no rows are lost)."""
        while self._columns is None and not self._closed and self._fill():
            pass
        return list(self._columns or [])

    @property
    def completion(self) -> Optional[Completion]:
        """The statement's completion once the server has sent it, else None."""
        return self._completion

    @property
    def done(self) -> bool:
        """True once the server has sent everything (rows may remain to be read)."""
        return self._done

    def buffer_rest(self) -> None:
        """Reads every remaining message into memory, so the stream it came on is free for the next."""
        while self._fill():
            pass

    def fail_later(self, failure: BaseException) -> None:
        """Keeps a failure of this statement to raise after the rows read before it."""
        self._failure = failure

    # -- closing ------------------------------------------------------------------------------------

    def close(self) -> None:
        """Stops reading. Before the end, the rest of the result is not wanted: it is cancelled."""
        if self._closed:
            return
        self._closed = True
        self._batch, self._index = (), 0
        self._queue.clear()
        if not self._done:
            self._discard(self)

    def __enter__(self) -> "RowStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
