"""BerthError: every failure the SDK reports, decoded from the gRPC status and its details.

Berth attaches ``google.rpc.Status`` in the ``grpc-status-details-bin`` trailer: a
``google.rpc.ErrorInfo`` (domain ``berth.dev``) whose ``reason`` is Berth's error kind and whose
metadata carries the specific ``reason``, the engine's ``error_code`` (SQLSTATE, errno), ``stage``,
``remedy`` and ``request_id``; plus ``BadRequest`` for invalid fields, ``RetryInfo`` when rate limited
and ``berth.v1.CheckFailure`` when a connection check failed (src/errors/mapping.ts).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Tuple

import grpc
from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, duration_pb2, message_factory

try:  # Python 3.9+
    from importlib.resources import files as _resource_files
except ImportError:  # pragma: no cover
    _resource_files = None

ERROR_DOMAIN = "berth.dev"
STATUS_DETAILS_KEY = "grpc-status-details-bin"

# Statuses a one-shot call may be retried on, when the database was never reached.
RETRYABLE_CODES = frozenset({"UNAVAILABLE", "RESOURCE_EXHAUSTED"})
# Reasons under those codes that mean the statement may have run: never retried.
REACHED_DATABASE_REASONS = frozenset({"connection_lost"})
# Berth kinds under those codes that a retry cannot fix.
PERMANENT_KINDS = frozenset({"payload_too_large"})
# What gRPC says when it could not open a connection at all: nothing was sent.
_NOT_CONNECTED_HINTS = (
    "failed to connect to all addresses",
    "connection refused",
    "dns resolution failed",
    "name resolution failure",
    "connections to all backends failing",
    "no route to host",
)


class BerthError(Exception):
    """A failed call, with everything Berth said about it.

    - ``code``: the gRPC status name (``"FAILED_PRECONDITION"``, ``"UNAVAILABLE"``, ...).
    - ``kind``: Berth's error kind (``"query_failed"``, ``"unavailable"``, ...); empty when the call
      never got an answer from Berth (it was down or unreachable).
    - ``reason``: the specific reason (``"connection_lost"``, ``"pool_exhausted"``, ``"timeout"``,
      ``"permission_denied"``, ...).
    - ``engine_code``: the database's own code, a SQLSTATE on PostgreSQL, an errno on MySQL/MariaDB.
    - ``stage``, ``remedy``: for connection checks, where it failed and what to do.
    - ``request_id``: quote it when reporting a problem; it finds the server's log line.
    - ``details``: every metadata entry of the ErrorInfo, as strings.
    - ``retry_after``: seconds to wait (rate limits), or None.
    - ``field_violations``: ``[(field, description)]`` of an invalid request.
    - ``check_result``: the ``berth.v1.CheckResult`` of a failed connection check, or None.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        kind: str = "",
        reason: str = "",
        engine_code: str = "",
        stage: str = "",
        remedy: str = "",
        request_id: str = "",
        details: Optional[Mapping[str, str]] = None,
        retry_after: Optional[float] = None,
        field_violations: Sequence[Tuple[str, str]] = (),
        check_result: Any = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.kind = kind
        self.reason = reason
        self.engine_code = engine_code
        self.stage = stage
        self.remedy = remedy
        self.request_id = request_id
        self.details = dict(details or {})
        self.retry_after = retry_after
        self.field_violations = list(field_violations)
        self.check_result = check_result

    @property
    def grpc_code(self) -> grpc.StatusCode:
        return getattr(grpc.StatusCode, self.code, grpc.StatusCode.UNKNOWN)

    def __str__(self) -> str:
        parts = [f"{self.code}: {self.message}"]
        extra = [
            f"{name}={value}"
            for name, value in (
                ("kind", self.kind),
                ("reason", self.reason),
                ("engine_code", self.engine_code),
                ("stage", self.stage),
                ("request_id", self.request_id),
            )
            if value
        ]
        if extra:
            parts.append(f"({', '.join(extra)})")
        if self.remedy:
            parts.append(f"— {self.remedy}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"BerthError({self.code!r}, {self.message!r}, kind={self.kind!r}, reason={self.reason!r})"

    @property
    def never_reached_database(self) -> bool:
        """True when the failure shows the statement never ran: safe to send again."""
        if self.code not in RETRYABLE_CODES or self.kind in PERMANENT_KINDS:
            return False
        if self.reason in REACHED_DATABASE_REASONS:
            return False
        if self.kind:
            # Berth answered with a reason: pool exhausted, database not answering, rate limited...
            return True
        # No answer from Berth at all: only safe when gRPC could not even connect.
        text = self.message.lower()
        return any(hint in text for hint in _NOT_CONNECTED_HINTS)


# --- decoding --------------------------------------------------------------------------------------


class _RpcTypes:
    """google.rpc messages built in a private descriptor pool (see scripts/generate.sh)."""

    def __init__(self) -> None:
        pool = descriptor_pool.DescriptorPool()
        for dep in (any_pb2, duration_pb2):
            pool.Add(descriptor_pb2.FileDescriptorProto.FromString(dep.DESCRIPTOR.serialized_pb))
        data = _read_resource("_gen", "google_rpc.binpb")
        for file in descriptor_pb2.FileDescriptorSet.FromString(data).file:
            pool.Add(file)
        self.Status = _message_class(pool, "google.rpc.Status")
        self.ErrorInfo = _message_class(pool, "google.rpc.ErrorInfo")
        self.BadRequest = _message_class(pool, "google.rpc.BadRequest")
        self.RetryInfo = _message_class(pool, "google.rpc.RetryInfo")


def _read_resource(package: str, name: str) -> bytes:
    if _resource_files is not None:
        return (_resource_files("berth") / package / name).read_bytes()
    import os  # pragma: no cover

    with open(os.path.join(os.path.dirname(__file__), package, name), "rb") as f:  # pragma: no cover
        return f.read()


def _message_class(pool: descriptor_pool.DescriptorPool, full_name: str) -> Any:
    descriptor = pool.FindMessageTypeByName(full_name)
    get = getattr(message_factory, "GetMessageClass", None)  # protobuf >= 4.22
    if get is not None:
        return get(descriptor)
    return message_factory.MessageFactory(pool).GetPrototype(descriptor)  # pragma: no cover


_rpc_types: Optional[_RpcTypes] = None


def _types() -> _RpcTypes:
    global _rpc_types
    if _rpc_types is None:
        _rpc_types = _RpcTypes()
    return _rpc_types


def _metadata_value(metadata: Any, key: str) -> Any:
    for k, v in metadata or ():
        if k == key:
            return v
    return None


def from_rpc_error(err: grpc.RpcError) -> BerthError:
    """A grpc.RpcError (a failed call) as a BerthError, its details decoded."""
    code_obj = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    code = code_obj.name if code_obj is not None else "UNKNOWN"
    message = (err.details() if hasattr(err, "details") else None) or str(code)
    trailers = err.trailing_metadata() if hasattr(err, "trailing_metadata") else None
    raw = _metadata_value(trailers, STATUS_DETAILS_KEY)
    fields: dict = {}
    if isinstance(raw, (bytes, bytearray)):
        fields = _decode_status(bytes(raw))
    if not fields.get("request_id"):
        request_id = _metadata_value(trailers, "request_id") or ""
        fields["request_id"] = request_id if isinstance(request_id, str) else ""
    return BerthError(code, message, **fields)


def _decode_status(raw: bytes) -> dict:
    t = _types()
    try:
        status = t.Status.FromString(raw)
    except Exception:  # a garbled trailer must not hide the error itself
        return {}
    out: dict = {}
    for detail in status.details:
        name = detail.type_url.rsplit("/", 1)[-1]
        try:
            if name == "google.rpc.ErrorInfo":
                info = t.ErrorInfo.FromString(detail.value)
                meta = dict(info.metadata)
                out.update(
                    kind=info.reason,
                    reason=meta.get("reason", ""),
                    engine_code=meta.get("error_code", ""),
                    stage=meta.get("stage", ""),
                    remedy=meta.get("remedy", ""),
                    request_id=meta.get("request_id", ""),
                    details=meta,
                )
            elif name == "google.rpc.BadRequest":
                bad = t.BadRequest.FromString(detail.value)
                out["field_violations"] = [(v.field, v.description) for v in bad.field_violations]
            elif name == "google.rpc.RetryInfo":
                delay = t.RetryInfo.FromString(detail.value).retry_delay
                out["retry_after"] = delay.seconds + delay.nanos / 1e9
            elif name == "berth.v1.CheckFailure":
                from ._gen.berth.v1 import errors_pb2

                out["check_result"] = errors_pb2.CheckFailure.FromString(detail.value).result
        except Exception:  # one undecodable detail must not lose the others
            continue
    return out


# In-band statement errors of a session stream carry only reason, engine code and message; these
# are the gRPC codes the same failure gets on a one-shot call.
_IN_BAND = {
    "timeout": ("DEADLINE_EXCEEDED", "deadline_exceeded"),
    "cancelled": ("CANCELLED", "cancelled"),
    "validation_failed": ("INVALID_ARGUMENT", "validation_failed"),
}


def from_statement_error(reason: str, engine_code: str, message: str) -> BerthError:
    code, kind = _IN_BAND.get(reason, ("FAILED_PRECONDITION", "query_failed"))
    return BerthError(code, message, kind=kind, reason=reason, engine_code=engine_code)


def client_error(code: str, message: str, reason: str) -> BerthError:
    """A failure detected by the SDK itself (bad input, a closed session)."""
    kind = "validation_failed" if code == "INVALID_ARGUMENT" else "failed_precondition"
    return BerthError(code, message, kind=kind, reason=reason)
