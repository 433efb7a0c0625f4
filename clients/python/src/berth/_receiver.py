"""Reads a streaming call's answers one at a time, with a bound on every wait.

grpcio's ``next(call)`` takes no timeout, and grpcio (1.51, Debian 12's) can leave it blocked for
ever on a call that has already failed: when the call fails before it is sent (Berth down, the
connection refused) while a read is being started, the read's completion is never delivered, even
after the deadline or a cancel. So ``next`` runs on a helper thread, asked for one answer at a time
(nothing is read ahead: flow control still reaches the server), while the caller waits with a
bound: at its deadline the call is cancelled, and when the call is over but the helper got no answer
the call's own status is reported instead of waiting for ever (the helper thread is then left
behind, blocked; it is a daemon).
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any, Callable, Optional

import grpc

#: How long an answer may lag behind the end of its call before the read is taken as lost.
LOST_READ_GRACE_S = 1.0
_POLL_S = 0.2


class Receiver:
    def __init__(self, call: Any, name: str = "berth-receiver") -> None:
        self._call = call
        self._asks: "queue.SimpleQueue[Optional[bool]]" = queue.SimpleQueue()
        self._answers: "queue.SimpleQueue[tuple]" = queue.SimpleQueue()
        self._pending = False
        self._finished = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while self._asks.get():
            try:
                self._answers.put(("message", next(self._call)))
            except StopIteration:
                self._answers.put(("end", None))
                return
            except BaseException as err:  # grpc.RpcError, or a fault in grpc itself
                self._answers.put(("error", err))
                return

    def next(self, deadline: Optional[float] = None, on_deadline: Optional[Callable[[], None]] = None) -> Any:
        """The next answer; None once the stream has ended; raises the call's grpc.RpcError."""
        if self._finished:
            return None
        if not self._pending:
            self._asks.put(True)
            self._pending = True
        over_since: Optional[float] = None
        while True:
            wait = _POLL_S if deadline is None else max(0.0, min(_POLL_S, deadline - time.monotonic()))
            try:
                kind, value = self._answers.get(timeout=wait)
            except queue.Empty:
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    deadline = None
                    if on_deadline is not None:
                        on_deadline()  # cancels the call: its status follows
                if self._call.is_active():
                    continue
                over_since = over_since or now
                if now - over_since < LOST_READ_GRACE_S:
                    continue
                # The call is over and its answer is not coming (see the module's comment).
                self._pending, self._finished = False, True
                if self._call.code() is grpc.StatusCode.OK:
                    return None
                raise self._call
            self._pending = False
            if kind == "message":
                return value
            self._finished = True
            if kind == "end":
                return None
            raise value

    def close(self) -> None:
        """Lets the helper thread end (when it is not blocked in a read)."""
        if not self._pending and not self._finished:
            self._finished = True
            self._asks.put(None)
