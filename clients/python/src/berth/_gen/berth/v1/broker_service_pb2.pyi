from berth._gen.berth.v1 import values_pb2 as _values_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
INTENT_READ: Intent
INTENT_UNSPECIFIED: Intent
INTENT_WRITE: Intent
ISOLATION_LEVEL_READ_COMMITTED: IsolationLevel
ISOLATION_LEVEL_READ_UNCOMMITTED: IsolationLevel
ISOLATION_LEVEL_REPEATABLE_READ: IsolationLevel
ISOLATION_LEVEL_SERIALIZABLE: IsolationLevel
ISOLATION_LEVEL_UNSPECIFIED: IsolationLevel

class AcquireLeaseRequest(_message.Message):
    __slots__ = ["connection_id", "consistency_token", "idle_ttl_ms", "intent"]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_TOKEN_FIELD_NUMBER: _ClassVar[int]
    IDLE_TTL_MS_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    consistency_token: str
    idle_ttl_ms: int
    intent: Intent
    def __init__(self, connection_id: _Optional[str] = ..., intent: _Optional[_Union[Intent, str]] = ..., idle_ttl_ms: _Optional[int] = ..., consistency_token: _Optional[str] = ...) -> None: ...

class AcquireLeaseResponse(_message.Message):
    __slots__ = ["lease"]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    lease: Lease
    def __init__(self, lease: _Optional[_Union[Lease, _Mapping]] = ...) -> None: ...

class BeginRequest(_message.Message):
    __slots__ = ["isolation", "lease_id", "read_only"]
    ISOLATION_FIELD_NUMBER: _ClassVar[int]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    READ_ONLY_FIELD_NUMBER: _ClassVar[int]
    isolation: IsolationLevel
    lease_id: str
    read_only: bool
    def __init__(self, lease_id: _Optional[str] = ..., isolation: _Optional[_Union[IsolationLevel, str]] = ..., read_only: bool = ...) -> None: ...

class BeginResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class Columns(_message.Message):
    __slots__ = ["columns"]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    columns: _containers.RepeatedCompositeFieldContainer[_values_pb2.Column]
    def __init__(self, columns: _Optional[_Iterable[_Union[_values_pb2.Column, _Mapping]]] = ...) -> None: ...

class CommitRequest(_message.Message):
    __slots__ = ["lease_id"]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    lease_id: str
    def __init__(self, lease_id: _Optional[str] = ...) -> None: ...

class CommitResponse(_message.Message):
    __slots__ = ["consistency_token"]
    CONSISTENCY_TOKEN_FIELD_NUMBER: _ClassVar[int]
    consistency_token: str
    def __init__(self, consistency_token: _Optional[str] = ...) -> None: ...

class Completion(_message.Message):
    __slots__ = ["command_tag", "consistency_token", "duration_ms", "rows_affected", "rows_returned", "truncated"]
    COMMAND_TAG_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_TOKEN_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    ROWS_AFFECTED_FIELD_NUMBER: _ClassVar[int]
    ROWS_RETURNED_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    command_tag: str
    consistency_token: str
    duration_ms: float
    rows_affected: int
    rows_returned: int
    truncated: bool
    def __init__(self, rows_affected: _Optional[int] = ..., command_tag: _Optional[str] = ..., duration_ms: _Optional[float] = ..., truncated: bool = ..., rows_returned: _Optional[int] = ..., consistency_token: _Optional[str] = ...) -> None: ...

class ExecuteRequest(_message.Message):
    __slots__ = ["connection_id", "consistency_token", "intent", "lease_id", "statement"]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_TOKEN_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    consistency_token: str
    intent: Intent
    lease_id: str
    statement: Statement
    def __init__(self, connection_id: _Optional[str] = ..., lease_id: _Optional[str] = ..., statement: _Optional[_Union[Statement, _Mapping]] = ..., intent: _Optional[_Union[Intent, str]] = ..., consistency_token: _Optional[str] = ...) -> None: ...

class ExecuteResponse(_message.Message):
    __slots__ = ["columns", "complete", "rows"]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    columns: Columns
    complete: Completion
    rows: RowBatch
    def __init__(self, columns: _Optional[_Union[Columns, _Mapping]] = ..., rows: _Optional[_Union[RowBatch, _Mapping]] = ..., complete: _Optional[_Union[Completion, _Mapping]] = ...) -> None: ...

class Lease(_message.Message):
    __slots__ = ["connection_id", "expires_at", "id", "idle_ttl_ms"]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    IDLE_TTL_MS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    expires_at: _timestamp_pb2.Timestamp
    id: str
    idle_ttl_ms: int
    def __init__(self, id: _Optional[str] = ..., connection_id: _Optional[str] = ..., expires_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., idle_ttl_ms: _Optional[int] = ...) -> None: ...

class OpenSession(_message.Message):
    __slots__ = ["connection_id", "consistency_token", "idle_ttl_ms", "intent"]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_TOKEN_FIELD_NUMBER: _ClassVar[int]
    IDLE_TTL_MS_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    consistency_token: str
    idle_ttl_ms: int
    intent: Intent
    def __init__(self, connection_id: _Optional[str] = ..., intent: _Optional[_Union[Intent, str]] = ..., idle_ttl_ms: _Optional[int] = ..., consistency_token: _Optional[str] = ...) -> None: ...

class ReleaseLeaseRequest(_message.Message):
    __slots__ = ["lease_id"]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    lease_id: str
    def __init__(self, lease_id: _Optional[str] = ...) -> None: ...

class ReleaseLeaseResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class RenewLeaseRequest(_message.Message):
    __slots__ = ["lease_id"]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    lease_id: str
    def __init__(self, lease_id: _Optional[str] = ...) -> None: ...

class RenewLeaseResponse(_message.Message):
    __slots__ = ["lease"]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    lease: Lease
    def __init__(self, lease: _Optional[_Union[Lease, _Mapping]] = ...) -> None: ...

class RollbackRequest(_message.Message):
    __slots__ = ["lease_id"]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    lease_id: str
    def __init__(self, lease_id: _Optional[str] = ...) -> None: ...

class RollbackResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class RowBatch(_message.Message):
    __slots__ = ["rows"]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[_values_pb2.Row]
    def __init__(self, rows: _Optional[_Iterable[_Union[_values_pb2.Row, _Mapping]]] = ...) -> None: ...

class SessionRequest(_message.Message):
    __slots__ = ["begin", "commit", "execute", "open", "rollback"]
    BEGIN_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    EXECUTE_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    ROLLBACK_FIELD_NUMBER: _ClassVar[int]
    begin: BeginRequest
    commit: CommitRequest
    execute: Statement
    open: OpenSession
    rollback: RollbackRequest
    def __init__(self, open: _Optional[_Union[OpenSession, _Mapping]] = ..., execute: _Optional[_Union[Statement, _Mapping]] = ..., begin: _Optional[_Union[BeginRequest, _Mapping]] = ..., commit: _Optional[_Union[CommitRequest, _Mapping]] = ..., rollback: _Optional[_Union[RollbackRequest, _Mapping]] = ...) -> None: ...

class SessionResponse(_message.Message):
    __slots__ = ["error", "opened", "result", "transaction"]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    OPENED_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    error: StatementError
    opened: Lease
    result: ExecuteResponse
    transaction: TransactionState
    def __init__(self, opened: _Optional[_Union[Lease, _Mapping]] = ..., result: _Optional[_Union[ExecuteResponse, _Mapping]] = ..., error: _Optional[_Union[StatementError, _Mapping]] = ..., transaction: _Optional[_Union[TransactionState, _Mapping]] = ...) -> None: ...

class Statement(_message.Message):
    __slots__ = ["max_rows", "params", "sql", "timeout_ms"]
    MAX_ROWS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    SQL_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    max_rows: int
    params: _containers.RepeatedCompositeFieldContainer[_values_pb2.Value]
    sql: str
    timeout_ms: int
    def __init__(self, sql: _Optional[str] = ..., params: _Optional[_Iterable[_Union[_values_pb2.Value, _Mapping]]] = ..., max_rows: _Optional[int] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class StatementError(_message.Message):
    __slots__ = ["error_code", "message", "reason"]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    error_code: str
    message: str
    reason: str
    def __init__(self, reason: _Optional[str] = ..., error_code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class TransactionState(_message.Message):
    __slots__ = ["consistency_token", "in_transaction"]
    CONSISTENCY_TOKEN_FIELD_NUMBER: _ClassVar[int]
    IN_TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    consistency_token: str
    in_transaction: bool
    def __init__(self, in_transaction: bool = ..., consistency_token: _Optional[str] = ...) -> None: ...

class Intent(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class IsolationLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
