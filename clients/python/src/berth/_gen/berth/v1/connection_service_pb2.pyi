from berth._gen.berth.v1 import access_service_pb2 as _access_service_pb2
from berth._gen.berth.v1 import types_pb2 as _types_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ConnectionHealth(_message.Message):
    __slots__ = ["connection_id", "front_door", "hosts", "last_test", "last_tested_at", "no_primary", "pool", "status"]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    FRONT_DOOR_FIELD_NUMBER: _ClassVar[int]
    HOSTS_FIELD_NUMBER: _ClassVar[int]
    LAST_TESTED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_TEST_FIELD_NUMBER: _ClassVar[int]
    NO_PRIMARY_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    front_door: FrontDoorClients
    hosts: _containers.RepeatedCompositeFieldContainer[HostHealth]
    last_test: _types_pb2.CheckResult
    last_tested_at: _timestamp_pb2.Timestamp
    no_primary: bool
    pool: PoolStats
    status: _types_pb2.ConnectionStatus
    def __init__(self, connection_id: _Optional[str] = ..., status: _Optional[_Union[_types_pb2.ConnectionStatus, str]] = ..., last_tested_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., last_test: _Optional[_Union[_types_pb2.CheckResult, _Mapping]] = ..., pool: _Optional[_Union[PoolStats, _Mapping]] = ..., hosts: _Optional[_Iterable[_Union[HostHealth, _Mapping]]] = ..., front_door: _Optional[_Union[FrontDoorClients, _Mapping]] = ..., no_primary: bool = ...) -> None: ...

class CreateConnectionRequest(_message.Message):
    __slots__ = ["initialize_pool", "spec"]
    INITIALIZE_POOL_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    initialize_pool: bool
    spec: _types_pb2.ConnectionSpec
    def __init__(self, spec: _Optional[_Union[_types_pb2.ConnectionSpec, _Mapping]] = ..., initialize_pool: bool = ...) -> None: ...

class CreateConnectionResponse(_message.Message):
    __slots__ = ["connection", "pool_initialization"]
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    POOL_INITIALIZATION_FIELD_NUMBER: _ClassVar[int]
    connection: _types_pb2.Connection
    pool_initialization: PoolInitialization
    def __init__(self, connection: _Optional[_Union[_types_pb2.Connection, _Mapping]] = ..., pool_initialization: _Optional[_Union[PoolInitialization, _Mapping]] = ...) -> None: ...

class DeleteConnectionRequest(_message.Message):
    __slots__ = ["expected_version", "id"]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    expected_version: int
    id: str
    def __init__(self, id: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class DeleteConnectionResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class FrontDoorClientInfo(_message.Message):
    __slots__ = ["connected_at", "pinned_why", "principal_kind", "source", "state", "transactions", "username"]
    CONNECTED_AT_FIELD_NUMBER: _ClassVar[int]
    PINNED_WHY_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_KIND_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    connected_at: _timestamp_pb2.Timestamp
    pinned_why: str
    principal_kind: str
    source: str
    state: str
    transactions: int
    username: str
    def __init__(self, username: _Optional[str] = ..., principal_kind: _Optional[str] = ..., source: _Optional[str] = ..., state: _Optional[str] = ..., pinned_why: _Optional[str] = ..., connected_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., transactions: _Optional[int] = ...) -> None: ...

class FrontDoorClients(_message.Message):
    __slots__ = ["active", "clients", "idle", "pinned", "waiting"]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    CLIENTS_FIELD_NUMBER: _ClassVar[int]
    IDLE_FIELD_NUMBER: _ClassVar[int]
    PINNED_FIELD_NUMBER: _ClassVar[int]
    WAITING_FIELD_NUMBER: _ClassVar[int]
    active: int
    clients: _containers.RepeatedCompositeFieldContainer[FrontDoorClientInfo]
    idle: int
    pinned: int
    waiting: int
    def __init__(self, idle: _Optional[int] = ..., waiting: _Optional[int] = ..., active: _Optional[int] = ..., pinned: _Optional[int] = ..., clients: _Optional[_Iterable[_Union[FrontDoorClientInfo, _Mapping]]] = ...) -> None: ...

class GetConnectionRequest(_message.Message):
    __slots__ = ["id"]
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetConnectionResponse(_message.Message):
    __slots__ = ["access_level", "connection"]
    ACCESS_LEVEL_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    access_level: _access_service_pb2.AccessLevel
    connection: _types_pb2.Connection
    def __init__(self, connection: _Optional[_Union[_types_pb2.Connection, _Mapping]] = ..., access_level: _Optional[_Union[_access_service_pb2.AccessLevel, str]] = ...) -> None: ...

class GetConnectionStatusRequest(_message.Message):
    __slots__ = ["id"]
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetConnectionStatusResponse(_message.Message):
    __slots__ = ["health"]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    health: ConnectionHealth
    def __init__(self, health: _Optional[_Union[ConnectionHealth, _Mapping]] = ...) -> None: ...

class HostHealth(_message.Message):
    __slots__ = ["configured_role", "fenced", "host", "lagging", "last_checked_at", "last_error_reason", "last_latency_ms", "position", "replica_lag_ms", "role", "role_changed_at", "slot", "status", "timeline", "writer"]
    CONFIGURED_ROLE_FIELD_NUMBER: _ClassVar[int]
    FENCED_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    LAGGING_FIELD_NUMBER: _ClassVar[int]
    LAST_CHECKED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_REASON_FIELD_NUMBER: _ClassVar[int]
    LAST_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    REPLICA_LAG_MS_FIELD_NUMBER: _ClassVar[int]
    ROLE_CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    SLOT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    WRITER_FIELD_NUMBER: _ClassVar[int]
    configured_role: str
    fenced: bool
    host: _types_pb2.HostAddress
    lagging: bool
    last_checked_at: _timestamp_pb2.Timestamp
    last_error_reason: str
    last_latency_ms: float
    position: str
    replica_lag_ms: float
    role: str
    role_changed_at: _timestamp_pb2.Timestamp
    slot: str
    status: _types_pb2.ConnectionStatus
    timeline: int
    writer: bool
    def __init__(self, host: _Optional[_Union[_types_pb2.HostAddress, _Mapping]] = ..., role: _Optional[str] = ..., status: _Optional[_Union[_types_pb2.ConnectionStatus, str]] = ..., last_checked_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., last_error_reason: _Optional[str] = ..., last_latency_ms: _Optional[float] = ..., configured_role: _Optional[str] = ..., slot: _Optional[str] = ..., timeline: _Optional[int] = ..., position: _Optional[str] = ..., replica_lag_ms: _Optional[float] = ..., fenced: bool = ..., role_changed_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., writer: bool = ..., lagging: bool = ...) -> None: ...

class ListConnectionsRequest(_message.Message):
    __slots__ = ["page_size", "page_token"]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListConnectionsResponse(_message.Message):
    __slots__ = ["connections", "next_page_token"]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    connections: _containers.RepeatedCompositeFieldContainer[_types_pb2.Connection]
    next_page_token: str
    def __init__(self, connections: _Optional[_Iterable[_Union[_types_pb2.Connection, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class PoolInitialization(_message.Message):
    __slots__ = ["error_kind", "error_message", "error_reason", "initialized", "pool"]
    ERROR_KIND_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_REASON_FIELD_NUMBER: _ClassVar[int]
    INITIALIZED_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    error_kind: str
    error_message: str
    error_reason: str
    initialized: bool
    pool: PoolStats
    def __init__(self, initialized: bool = ..., pool: _Optional[_Union[PoolStats, _Mapping]] = ..., error_reason: _Optional[str] = ..., error_message: _Optional[str] = ..., error_kind: _Optional[str] = ...) -> None: ...

class PoolStats(_message.Message):
    __slots__ = ["acquire_wait_p95_ms", "idle", "in_use", "max_size", "min_size", "opening", "queries_last_minute", "query_p95_ms", "size", "waiting"]
    ACQUIRE_WAIT_P95_MS_FIELD_NUMBER: _ClassVar[int]
    IDLE_FIELD_NUMBER: _ClassVar[int]
    IN_USE_FIELD_NUMBER: _ClassVar[int]
    MAX_SIZE_FIELD_NUMBER: _ClassVar[int]
    MIN_SIZE_FIELD_NUMBER: _ClassVar[int]
    OPENING_FIELD_NUMBER: _ClassVar[int]
    QUERIES_LAST_MINUTE_FIELD_NUMBER: _ClassVar[int]
    QUERY_P95_MS_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    WAITING_FIELD_NUMBER: _ClassVar[int]
    acquire_wait_p95_ms: float
    idle: int
    in_use: int
    max_size: int
    min_size: int
    opening: int
    queries_last_minute: int
    query_p95_ms: float
    size: int
    waiting: int
    def __init__(self, size: _Optional[int] = ..., idle: _Optional[int] = ..., in_use: _Optional[int] = ..., waiting: _Optional[int] = ..., max_size: _Optional[int] = ..., min_size: _Optional[int] = ..., acquire_wait_p95_ms: _Optional[float] = ..., query_p95_ms: _Optional[float] = ..., queries_last_minute: _Optional[int] = ..., opening: _Optional[int] = ...) -> None: ...

class ResetPoolRequest(_message.Message):
    __slots__ = ["forget_roles", "id"]
    FORGET_ROLES_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    forget_roles: bool
    id: str
    def __init__(self, id: _Optional[str] = ..., forget_roles: bool = ...) -> None: ...

class ResetPoolResponse(_message.Message):
    __slots__ = ["pool"]
    POOL_FIELD_NUMBER: _ClassVar[int]
    pool: PoolStats
    def __init__(self, pool: _Optional[_Union[PoolStats, _Mapping]] = ...) -> None: ...

class TestConnectionRequest(_message.Message):
    __slots__ = ["id", "spec", "timeout_ms"]
    ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    id: str
    spec: _types_pb2.ConnectionSpec
    timeout_ms: int
    def __init__(self, id: _Optional[str] = ..., spec: _Optional[_Union[_types_pb2.ConnectionSpec, _Mapping]] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class TestConnectionResponse(_message.Message):
    __slots__ = ["result"]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _types_pb2.CheckResult
    def __init__(self, result: _Optional[_Union[_types_pb2.CheckResult, _Mapping]] = ...) -> None: ...

class UpdateConnectionRequest(_message.Message):
    __slots__ = ["expected_version", "id", "spec"]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    expected_version: int
    id: str
    spec: _types_pb2.ConnectionSpec
    def __init__(self, id: _Optional[str] = ..., spec: _Optional[_Union[_types_pb2.ConnectionSpec, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdateConnectionResponse(_message.Message):
    __slots__ = ["connection"]
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    connection: _types_pb2.Connection
    def __init__(self, connection: _Optional[_Union[_types_pb2.Connection, _Mapping]] = ...) -> None: ...

class ValidateConnectionRequest(_message.Message):
    __slots__ = ["id", "spec", "timeout_ms"]
    ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    id: str
    spec: _types_pb2.ConnectionSpec
    timeout_ms: int
    def __init__(self, id: _Optional[str] = ..., spec: _Optional[_Union[_types_pb2.ConnectionSpec, _Mapping]] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class ValidateConnectionResponse(_message.Message):
    __slots__ = ["result"]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _types_pb2.CheckResult
    def __init__(self, result: _Optional[_Union[_types_pb2.CheckResult, _Mapping]] = ...) -> None: ...

class WatchConnectionStatusRequest(_message.Message):
    __slots__ = ["id", "interval_ms"]
    ID_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    id: str
    interval_ms: int
    def __init__(self, id: _Optional[str] = ..., interval_ms: _Optional[int] = ...) -> None: ...

class WatchConnectionStatusResponse(_message.Message):
    __slots__ = ["health"]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    health: ConnectionHealth
    def __init__(self, health: _Optional[_Union[ConnectionHealth, _Mapping]] = ...) -> None: ...
