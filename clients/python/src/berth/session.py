"""Session: a Session stream holding one pooled database session, and transactions on it."""

from __future__ import annotations

import queue
import time
from typing import TYPE_CHECKING, Any, Iterator, Optional, Sequence

import grpc

from ._gen.berth.v1 import broker_service_pb2 as broker_pb2
from ._receiver import Receiver
from ._retry import with_retries
from .errors import BerthError, client_error, from_rpc_error, from_statement_error
from .results import Result, RowStream

if TYPE_CHECKING:  # pragma: no cover
    from .client import BerthClient

_END = object()
_UNSET: Any = object()
_ISOLATION = {
    None: broker_pb2.ISOLATION_LEVEL_UNSPECIFIED,
    "read_uncommitted": broker_pb2.ISOLATION_LEVEL_READ_UNCOMMITTED,
    "read_committed": broker_pb2.ISOLATION_LEVEL_READ_COMMITTED,
    "repeatable_read": broker_pb2.ISOLATION_LEVEL_REPEATABLE_READ,
    "serializable": broker_pb2.ISOLATION_LEVEL_SERIALIZABLE,
}
#: How long past a statement's own timeout the session waits for Berth before giving up on it.
GRACE_S = 2.0
#: How long closing waits for Berth to confirm the end of the stream.
CLOSE_WAIT_S = 5.0


class Session:
    """One leased database session, held by a bidirectional stream. Not thread-safe.

    ``query`` and ``stream`` run statements in order; ``transaction()`` wraps some in a transaction.
    Finish reading a stream before the next statement, or its remaining rows are read into memory
    first (the answers come in order on one stream). A failed statement raises :class:`BerthError`
    and leaves the session usable (inside a transaction, the engine decides: PostgreSQL needs a
    rollback). When Berth or the network goes away the session is over: every call raises the same
    ``UNAVAILABLE`` (or other) error; open a new session.
    """

    def __init__(self, client: "BerthClient", open_request: Any, timeout: Optional[float]) -> None:
        self._client = client
        self._open_request = open_request
        self.timeout = timeout
        self._requests: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        self._call: Any = None
        self._current: Optional[RowStream] = None
        self._broken: Optional[BerthError] = None
        self._closed = False
        self._in_transaction = False
        self._receiver: Optional[Receiver] = None
        self._timed_out = False
        self.lease: Any = None
        self._open()

    # -- opening and the stream ---------------------------------------------------------------------

    def _open(self) -> None:
        deadline = None if self.timeout is None else time.monotonic() + self.timeout

        def attempt() -> Any:
            self._requests = queue.SimpleQueue()
            self._requests.put(broker_pb2.SessionRequest(open=self._open_request))
            self._call = self._client.broker.Session(
                self._request_iterator(self._requests), metadata=self._client.metadata()
            )
            self._receiver = Receiver(self._call, "berth-session")
            try:
                event = self._next_event(deadline)
            except BerthError:
                self._call.cancel()
                raise
            if event.WhichOneof("event") != "opened":
                self._call.cancel()
                raise client_error("INTERNAL", "Berth did not open the session", "protocol_error")
            return event.opened

        try:
            self.lease = with_retries(self._client.retry, deadline, attempt, self._client.pause)
        except BerthError:
            self._closed = True
            raise
        self._broken = None

    @staticmethod
    def _request_iterator(requests: "queue.SimpleQueue[Any]") -> Iterator[Any]:
        while True:
            item = requests.get()
            if item is _END:
                return
            yield item

    def _expire(self) -> None:
        self._timed_out = True
        self._call.cancel()

    def _next_event(self, deadline: Optional[float]) -> Any:
        """The stream's next answer; a failed stream ends the session with a typed error."""
        assert self._receiver is not None
        err: BerthError
        try:
            event = self._receiver.next(None if deadline is None else deadline + GRACE_S, self._expire)
            if event is not None:
                return event
            err = BerthError(
                "UNAVAILABLE", "Berth ended the session stream", kind="unavailable", reason="session_ended"
            )
        except grpc.RpcError as rpc:
            err = from_rpc_error(rpc)
            if self._timed_out:
                err = BerthError(
                    "DEADLINE_EXCEEDED",
                    "Berth did not answer within the statement's timeout; the session was closed",
                    kind="deadline_exceeded",
                    reason="client_deadline",
                )
        self._broken = err
        raise err

    def _check_usable(self) -> None:
        if self._broken is not None:
            raise self._broken
        if self._closed:
            raise client_error("FAILED_PRECONDITION", "The session is closed", "session_closed")

    def _send(self, request: Any) -> None:
        self._check_usable()
        previous, self._current = self._current, None
        if previous is not None and not previous.done:
            try:
                previous.buffer_rest()
            except BerthError as err:
                # The previous statement's failure is its own: raised where its rows are read.
                previous.fail_later(err)
                self._check_usable()
        self._requests.put(request)

    # -- statements ---------------------------------------------------------------------------------

    def stream(
        self,
        sql: str,
        params: Sequence[Any] = (),
        *,
        timeout: Optional[float] = _UNSET,
        max_rows: int = 0,
    ) -> RowStream:
        """Runs a statement; its rows are pulled as you iterate (see :class:`RowStream`)."""
        from .client import statement_message

        t = self.timeout if timeout is _UNSET else timeout
        self._send(broker_pb2.SessionRequest(execute=statement_message(sql, params, t, max_rows)))
        deadline = None if t is None else time.monotonic() + t
        rows = RowStream(lambda: self._pull_result(deadline), self._discard, self._client.json_loads)
        self._current = rows
        return rows

    def query(
        self,
        sql: str,
        params: Sequence[Any] = (),
        *,
        timeout: Optional[float] = _UNSET,
        max_rows: int = 0,
    ) -> Result:
        """Runs a statement and returns its whole result."""
        return self.stream(sql, params, timeout=timeout, max_rows=max_rows).read_all()

    def _pull_result(self, deadline: Optional[float]) -> Optional[Any]:
        self._check_usable()
        event = self._next_event(deadline)
        which = event.WhichOneof("event")
        if which == "result":
            return event.result
        if which == "error":
            e = event.error
            raise from_statement_error(e.reason, e.error_code, e.message)
        raise self._protocol_error(which)

    def _discard(self, rows: RowStream) -> None:
        # Nothing can stop one statement on a shared stream: its answers are read and dropped
        # (a closed RowStream keeps no rows).
        if self._broken is None:
            try:
                rows.buffer_rest()
            except BerthError:
                pass

    def _protocol_error(self, which: Optional[str]) -> BerthError:
        err = client_error("INTERNAL", f"Unexpected {which!r} answer on the session stream", "protocol_error")
        self._broken = err
        self._call.cancel()
        return err

    # -- transactions -------------------------------------------------------------------------------

    @property
    def in_transaction(self) -> bool:
        return self._in_transaction

    def _control(self, request: Any) -> None:
        self._send(request)
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        event = self._next_event(deadline)
        which = event.WhichOneof("event")
        if which == "transaction":
            self._in_transaction = event.transaction.in_transaction
            return
        if which == "error":
            e = event.error
            raise from_statement_error(e.reason, e.error_code, e.message)
        raise self._protocol_error(which)

    def begin(self, isolation: Optional[str] = None, read_only: bool = False) -> None:
        """Starts a transaction (``isolation``: read_committed, repeatable_read, serializable...)."""
        try:
            level = _ISOLATION[isolation]
        except KeyError:
            raise client_error(
                "INVALID_ARGUMENT",
                f"isolation must be one of {', '.join(k for k in _ISOLATION if k)}, not {isolation!r}",
                "invalid_isolation",
            ) from None
        self._control(broker_pb2.SessionRequest(begin=broker_pb2.BeginRequest(isolation=level, read_only=read_only)))

    def commit(self) -> None:
        self._control(broker_pb2.SessionRequest(commit=broker_pb2.CommitRequest()))

    def rollback(self) -> None:
        self._control(broker_pb2.SessionRequest(rollback=broker_pb2.RollbackRequest()))

    def transaction(self, isolation: Optional[str] = None, read_only: bool = False) -> "Transaction":
        """``with session.transaction() as tx:`` commits when the block ends, rolls back on an exception."""
        return Transaction(self, isolation, read_only)

    # -- closing ------------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed or self._broken is not None

    def close(self) -> None:
        """Ends the stream: Berth rolls back what is open, resets the session and pools it again."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._broken is not None or (self._current is not None and not self._current.done):
                # Unread answers are not wanted: cancelling is quicker than reading them.
                self._call.cancel()
                return
            self._requests.put(_END)
            deadline = time.monotonic() + CLOSE_WAIT_S
            while True:
                try:
                    self._next_event(deadline - GRACE_S)
                except BerthError:
                    break
        finally:
            self._broken = client_error("FAILED_PRECONDITION", "The session is closed", "session_closed")
            if self._receiver is not None:
                self._receiver.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        lease = self.lease.id if self.lease is not None else "-"
        return f"<berth.Session lease={lease} {'closed' if self.closed else 'open'}>"


class Transaction:
    """A transaction on a session: commit on success, rollback on an exception (then re-raised)."""

    def __init__(self, session: Session, isolation: Optional[str], read_only: bool) -> None:
        self.session = session
        self._isolation = isolation
        self._read_only = read_only

    def __enter__(self) -> "Transaction":
        if self.session.in_transaction:
            raise client_error(
                "FAILED_PRECONDITION", "A transaction is already open on this session", "nested_transaction"
            )
        self.session.begin(self._isolation, self._read_only)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if exc_type is None:
            self.session.commit()
            return False
        if not self.session.closed:
            try:
                self.session.rollback()
            except BerthError:
                pass  # the original exception matters more; a broken stream rolls back anyway
        return False

    def query(self, sql: str, params: Sequence[Any] = (), **kwargs: Any) -> Result:
        return self.session.query(sql, params, **kwargs)

    def stream(self, sql: str, params: Sequence[Any] = (), **kwargs: Any) -> RowStream:
        return self.session.stream(sql, params, **kwargs)
