"""BerthClient: one-shot statements, streamed results and sessions over Berth's gRPC API."""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Iterable, List, Optional, Sequence, Tuple, Union

import grpc

from . import _transport
from ._gen.berth.v1 import broker_service_pb2 as broker_pb2
from ._gen.berth.v1 import broker_service_pb2_grpc as broker_grpc
from ._gen.berth.v1 import connection_service_pb2 as connection_pb2
from ._gen.berth.v1 import connection_service_pb2_grpc as connection_grpc
from ._receiver import Receiver
from ._retry import RetryPolicy, with_retries
from ._transport import TlsConfig, TokenSource
from .errors import BerthError, client_error, from_rpc_error
from .results import Result, RowStream
from .session import Session
from .values import to_values

#: The server answers a statement's own timeout; the gRPC deadline waits this much longer for it.
DEADLINE_GRACE_S = 1.0
_INTENTS = {None: broker_pb2.INTENT_UNSPECIFIED, "read": broker_pb2.INTENT_READ, "write": broker_pb2.INTENT_WRITE}
_UNSET: Any = object()


def intent_value(intent: Optional[str]) -> int:
    try:
        return _INTENTS[intent.lower() if isinstance(intent, str) else intent]
    except KeyError:
        raise client_error(
            "INVALID_ARGUMENT", f"intent must be 'read' or 'write', not {intent!r}", "invalid_intent"
        ) from None


def statement_message(sql: str, params: Iterable[Any], timeout: Optional[float], max_rows: int) -> Any:
    if not isinstance(sql, str) or not sql.strip():
        raise client_error("INVALID_ARGUMENT", "The statement's SQL is empty", "missing_sql")
    if isinstance(params, (str, bytes)):
        raise client_error(
            "INVALID_ARGUMENT", "params is a sequence of values, not a string: write [value]", "invalid_params"
        )
    if timeout is not None and timeout <= 0:
        raise client_error("INVALID_ARGUMENT", "timeout must be positive seconds or None", "invalid_timeout")
    return broker_pb2.Statement(
        sql=sql,
        params=to_values(params or ()),
        max_rows=max(0, int(max_rows)),
        timeout_ms=int(round(timeout * 1000)) if timeout else 0,
    )


class BerthClient:
    """A client of one Berth: ``BerthClient("http://berth:9090", token=...)``.

    The address is a URL (``http://`` plain, ``https://`` TLS) or a gRPC target (``host:port``,
    plain unless ``tls`` is given). ``tls``: True (system roots), a dict or a :class:`TlsConfig`
    with ``ca``, ``cert``, ``key`` (PEM bytes or file paths) and ``server_name``. ``token``: a
    sign-in or service token, or a function returning the current one (sent as a bearer header).

    ``timeout`` (seconds, default 60) bounds every call that does not give its own; a statement's
    timeout also cancels it on the server. ``None`` leaves statements to the server's default.
    ``retry`` is the :class:`RetryPolicy` of one-shot calls that never reached the database.
    The client is thread-safe; sessions are not (one thread at a time per session).
    """

    def __init__(
        self,
        url: Optional[str] = None,
        *,
        target: Optional[str] = None,
        token: TokenSource = None,
        tls: Union[bool, dict, TlsConfig, None] = None,
        timeout: Optional[float] = 60.0,
        retry: RetryPolicy = RetryPolicy(),
        max_message_bytes: int = 256 * 1024 * 1024,
        json_loads: Optional[Callable[[str], Any]] = json.loads,
        channel_options: Optional[List[Tuple[str, object]]] = None,
    ) -> None:
        address = url if url is not None else target
        if url is not None and target is not None:
            raise client_error("INVALID_ARGUMENT", "Give either url or target, not both", "invalid_target")
        self._target, tls_config = _transport.parse_target(address or "", tls)
        self._token = token
        self.timeout = timeout
        self.retry = retry
        self.json_loads = json_loads
        self._channel = _transport.open_channel(
            self._target, tls_config, max_message_bytes=max_message_bytes, options=channel_options
        )
        self.broker = broker_grpc.BrokerServiceStub(self._channel)
        self.connections = connection_grpc.ConnectionServiceStub(self._channel)

    # -- plumbing -----------------------------------------------------------------------------------

    @property
    def channel(self) -> grpc.Channel:
        """The gRPC channel, for the generated stubs of the other services (``berth._gen``)."""
        return self._channel

    def metadata(self) -> Tuple[Tuple[str, str], ...]:
        return _transport.auth_metadata(self._token)

    def pause(self, seconds: float, err: BerthError) -> None:
        """The wait before a retry. When Berth could not be reached, the channel is asked to connect
        again and the retry starts as soon as it is ready: gRPC alone would wait out its own backoff
        and fail every call at once meanwhile."""
        if err.kind:
            time.sleep(seconds)  # Berth answered (pool exhausted, rate limited): give it time
            return
        try:
            grpc.channel_ready_future(self._channel).result(timeout=seconds)
        except grpc.FutureTimeoutError:
            pass

    def _timeout(self, timeout: Optional[float]) -> Optional[float]:
        return self.timeout if timeout is _UNSET else timeout

    def call(
        self, method: Callable[..., Any], request: Any, *, timeout: Optional[float] = _UNSET, retry: bool = True
    ) -> Any:
        """A unary call of any generated stub method, with the token, deadline, retries and typed errors."""
        t = self._timeout(timeout)
        deadline = time.monotonic() + t if t else None

        def attempt() -> Any:
            remaining = None if deadline is None else max(0.001, deadline - time.monotonic())
            try:
                return method(request, timeout=remaining, metadata=self.metadata())
            except grpc.RpcError as err:
                raise from_rpc_error(err) from None

        return with_retries(self.retry if retry else RetryPolicy(max_attempts=1), deadline, attempt, self.pause)

    # -- statements ---------------------------------------------------------------------------------

    def query(
        self,
        connection: str,
        sql: str,
        params: Sequence[Any] = (),
        *,
        timeout: Optional[float] = _UNSET,
        max_rows: int = 0,
        intent: Optional[str] = None,
    ) -> Result:
        """Runs one statement on a pooled session and returns its whole result.

        Parameters are bound, never interpolated: ``$1, $2`` on PostgreSQL, ``?`` on MySQL/MariaDB.
        """
        with self.stream(connection, sql, params, timeout=timeout, max_rows=max_rows, intent=intent) as rows:
            return rows.read_all()

    def stream(
        self,
        connection: str,
        sql: str,
        params: Sequence[Any] = (),
        *,
        timeout: Optional[float] = _UNSET,
        max_rows: int = 0,
        intent: Optional[str] = None,
    ) -> RowStream:
        """Runs one statement and returns its rows as an iterator that pulls batches as you read.

        A slow reader slows the server (flow control), so memory stays flat on both ends. The
        statement starts on the first read (or ``columns``). Use it in a ``with`` block, or
        ``close()`` it, to cancel a result you stop reading. Long streams need a long ``timeout``:
        it bounds the whole statement, reading included.
        """
        t = self._timeout(timeout)
        request = broker_pb2.ExecuteRequest(
            connection_id=_connection_id(connection),
            statement=statement_message(sql, params, t, max_rows),
            intent=intent_value(intent),
        )
        return _OneShot(self, request, t).rows

    def session(
        self,
        connection: str,
        *,
        intent: Optional[str] = None,
        idle_ttl_ms: int = 0,
        timeout: Optional[float] = _UNSET,
    ) -> Session:
        """Opens a session stream: one pooled session leased to you until you close it.

        Use it as a context manager. Statements run in order on the same database session;
        ``session.transaction()`` commits on success and rolls back on an exception. Closing the
        session (or this process dying) rolls back whatever is open and returns the session to the
        pool. ``timeout`` is the default of each statement in it.
        """
        return Session(
            self,
            broker_pb2.OpenSession(
                connection_id=_connection_id(connection),
                intent=intent_value(intent),
                idle_ttl_ms=max(0, int(idle_ttl_ms)),
            ),
            self._timeout(timeout),
        )

    def get_connection(self, connection: str, *, timeout: Optional[float] = _UNSET) -> Any:
        """The saved connection (``berth.v1.Connection``): its engine, host, database..."""
        return self.call(
            self.connections.GetConnection,
            connection_pb2.GetConnectionRequest(id=_connection_id(connection)),
            timeout=timeout,
        ).connection

    def close(self) -> None:
        """Closes the channel; calls still running are cancelled."""
        self._channel.close()

    def __enter__(self) -> "BerthClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"BerthClient({self._target!r})"


def _connection_id(connection: str) -> str:
    if not isinstance(connection, str) or not connection:
        raise client_error("INVALID_ARGUMENT", "Give the connection's id", "missing_connection")
    return connection


class _OneShot:
    """An Execute call behind a RowStream: started on the first read, retried while nothing came."""

    def __init__(self, client: BerthClient, request: Any, timeout: Optional[float]) -> None:
        self._client = client
        self._request = request
        self._timeout = timeout
        self._call: Any = None
        self._receiver: Optional[Receiver] = None
        self._received = False
        self.rows = RowStream(self._pull, self._cancel, client.json_loads)

    def _start(self) -> None:
        self._wait = None if self._timeout is None else self._timeout + DEADLINE_GRACE_S
        self._call = self._client.broker.Execute(self._request, timeout=self._wait, metadata=self._client.metadata())
        self._deadline = None if self._wait is None else time.monotonic() + self._wait
        self._receiver = Receiver(self._call, "berth-execute")

    def _pull(self) -> Optional[Any]:
        if self._received:
            return self._next()
        # Until the first answer nothing ran for sure only if Berth says so (see _retry).
        deadline = None if self._timeout is None else time.monotonic() + self._timeout

        def first() -> Optional[Any]:
            self._start()
            return self._next()

        message = with_retries(self._client.retry, deadline, first, self._client.pause)
        self._received = True
        return message

    def _next(self) -> Optional[Any]:
        assert self._receiver is not None
        try:
            # gRPC enforces the deadline; the bound here only guards against a read grpc loses.
            return self._receiver.next(self._deadline, self._call.cancel)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None

    def _cancel(self, _rows: RowStream) -> None:
        if self._call is not None:
            self._call.cancel()


__all__ = ["BerthClient", "BerthError", "RetryPolicy", "TlsConfig"]
