from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

CHECK_OUTCOME_FAILED: CheckOutcome
CHECK_OUTCOME_PASSED: CheckOutcome
CHECK_OUTCOME_SKIPPED: CheckOutcome
CHECK_OUTCOME_UNSPECIFIED: CheckOutcome
CHECK_STAGE_AUTH: CheckStage
CHECK_STAGE_CONFIG: CheckStage
CHECK_STAGE_CREDENTIALS: CheckStage
CHECK_STAGE_DNS: CheckStage
CHECK_STAGE_QUERY: CheckStage
CHECK_STAGE_SSH_AUTH: CheckStage
CHECK_STAGE_SSH_DNS: CheckStage
CHECK_STAGE_SSH_FORWARD: CheckStage
CHECK_STAGE_SSH_HANDSHAKE: CheckStage
CHECK_STAGE_SSH_HOST_KEY: CheckStage
CHECK_STAGE_SSH_TCP: CheckStage
CHECK_STAGE_TCP: CheckStage
CHECK_STAGE_TLS: CheckStage
CHECK_STAGE_UNSPECIFIED: CheckStage
CONNECTION_STATUS_DEGRADED: ConnectionStatus
CONNECTION_STATUS_FAILED: ConnectionStatus
CONNECTION_STATUS_HEALTHY: ConnectionStatus
CONNECTION_STATUS_UNAVAILABLE: ConnectionStatus
CONNECTION_STATUS_UNSPECIFIED: ConnectionStatus
CONNECTION_STATUS_UNTESTED: ConnectionStatus
DESCRIPTOR: _descriptor.FileDescriptor
ENGINE_MYSQL: Engine
ENGINE_ORACLE: Engine
ENGINE_POSTGRESQL: Engine
ENGINE_SQLSERVER: Engine
ENGINE_UNSPECIFIED: Engine
SSL_MODE_DISABLE: SslMode
SSL_MODE_PREFER: SslMode
SSL_MODE_REQUIRE: SslMode
SSL_MODE_UNSPECIFIED: SslMode
SSL_MODE_VERIFY_CA: SslMode
SSL_MODE_VERIFY_FULL: SslMode

class CheckResult(_message.Message):
    __slots__ = ["checked_at", "ok", "server_version", "stages", "target", "total_ms"]
    CHECKED_AT_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MS_FIELD_NUMBER: _ClassVar[int]
    checked_at: _timestamp_pb2.Timestamp
    ok: bool
    server_version: str
    stages: _containers.RepeatedCompositeFieldContainer[StageResult]
    target: str
    total_ms: float
    def __init__(self, ok: bool = ..., stages: _Optional[_Iterable[_Union[StageResult, _Mapping]]] = ..., server_version: _Optional[str] = ..., total_ms: _Optional[float] = ..., checked_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., target: _Optional[str] = ...) -> None: ...

class Connection(_message.Message):
    __slots__ = ["acquire_timeout_ms", "allow_cleartext_password", "ca_certificate", "client_certificate", "created_at", "created_by_google_email", "created_by_id", "database", "description", "front_door_pool_mode", "has_client_key", "id", "idle_timeout_ms", "instance_name", "last_tested_at", "max_lifetime_ms", "max_pool_size", "max_replica_lag_ms", "min_pool_size", "name", "oracle_sid", "port", "replicas", "server", "ssh", "ssl_mode", "status", "strict_encryption", "tls_server_name", "type", "updated_at", "use_ssl", "version"]
    ACQUIRE_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    ALLOW_CLEARTEXT_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    CA_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_GOOGLE_EMAIL_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    FRONT_DOOR_POOL_MODE_FIELD_NUMBER: _ClassVar[int]
    HAS_CLIENT_KEY_FIELD_NUMBER: _ClassVar[int]
    IDLE_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_TESTED_AT_FIELD_NUMBER: _ClassVar[int]
    MAX_LIFETIME_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_POOL_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_REPLICA_LAG_MS_FIELD_NUMBER: _ClassVar[int]
    MIN_POOL_SIZE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ORACLE_SID_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    SERVER_FIELD_NUMBER: _ClassVar[int]
    SSH_FIELD_NUMBER: _ClassVar[int]
    SSL_MODE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STRICT_ENCRYPTION_FIELD_NUMBER: _ClassVar[int]
    TLS_SERVER_NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    USE_SSL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    acquire_timeout_ms: int
    allow_cleartext_password: bool
    ca_certificate: str
    client_certificate: str
    created_at: _timestamp_pb2.Timestamp
    created_by_google_email: str
    created_by_id: str
    database: str
    description: str
    front_door_pool_mode: str
    has_client_key: bool
    id: str
    idle_timeout_ms: int
    instance_name: str
    last_tested_at: _timestamp_pb2.Timestamp
    max_lifetime_ms: int
    max_pool_size: int
    max_replica_lag_ms: int
    min_pool_size: int
    name: str
    oracle_sid: str
    port: int
    replicas: _containers.RepeatedCompositeFieldContainer[HostAddress]
    server: str
    ssh: SshTunnel
    ssl_mode: SslMode
    status: ConnectionStatus
    strict_encryption: bool
    tls_server_name: str
    type: Engine
    updated_at: _timestamp_pb2.Timestamp
    use_ssl: bool
    version: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., type: _Optional[_Union[Engine, str]] = ..., server: _Optional[str] = ..., port: _Optional[int] = ..., database: _Optional[str] = ..., use_ssl: bool = ..., ssl_mode: _Optional[_Union[SslMode, str]] = ..., ca_certificate: _Optional[str] = ..., client_certificate: _Optional[str] = ..., tls_server_name: _Optional[str] = ..., has_client_key: bool = ..., max_pool_size: _Optional[int] = ..., min_pool_size: _Optional[int] = ..., acquire_timeout_ms: _Optional[int] = ..., idle_timeout_ms: _Optional[int] = ..., max_lifetime_ms: _Optional[int] = ..., replicas: _Optional[_Iterable[_Union[HostAddress, _Mapping]]] = ..., description: _Optional[str] = ..., created_by_id: _Optional[str] = ..., created_by_google_email: _Optional[str] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., last_tested_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[ConnectionStatus, str]] = ..., version: _Optional[int] = ..., instance_name: _Optional[str] = ..., strict_encryption: bool = ..., oracle_sid: _Optional[str] = ..., allow_cleartext_password: bool = ..., front_door_pool_mode: _Optional[str] = ..., max_replica_lag_ms: _Optional[int] = ..., ssh: _Optional[_Union[SshTunnel, _Mapping]] = ...) -> None: ...

class ConnectionSpec(_message.Message):
    __slots__ = ["acquire_timeout_ms", "allow_cleartext_password", "ca_certificate", "client_certificate", "client_key", "database", "description", "front_door_pool_mode", "idle_timeout_ms", "instance_name", "max_lifetime_ms", "max_pool_size", "max_replica_lag_ms", "min_pool_size", "name", "oracle_sid", "password", "port", "replicas", "server", "ssh", "ssl_mode", "strict_encryption", "tls_server_name", "type", "use_ssl", "username"]
    ACQUIRE_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    ALLOW_CLEARTEXT_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    CA_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_KEY_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    FRONT_DOOR_POOL_MODE_FIELD_NUMBER: _ClassVar[int]
    IDLE_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_NAME_FIELD_NUMBER: _ClassVar[int]
    MAX_LIFETIME_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_POOL_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_REPLICA_LAG_MS_FIELD_NUMBER: _ClassVar[int]
    MIN_POOL_SIZE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ORACLE_SID_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    SERVER_FIELD_NUMBER: _ClassVar[int]
    SSH_FIELD_NUMBER: _ClassVar[int]
    SSL_MODE_FIELD_NUMBER: _ClassVar[int]
    STRICT_ENCRYPTION_FIELD_NUMBER: _ClassVar[int]
    TLS_SERVER_NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    USE_SSL_FIELD_NUMBER: _ClassVar[int]
    acquire_timeout_ms: int
    allow_cleartext_password: bool
    ca_certificate: str
    client_certificate: str
    client_key: str
    database: str
    description: str
    front_door_pool_mode: str
    idle_timeout_ms: int
    instance_name: str
    max_lifetime_ms: int
    max_pool_size: int
    max_replica_lag_ms: int
    min_pool_size: int
    name: str
    oracle_sid: str
    password: str
    port: int
    replicas: _containers.RepeatedCompositeFieldContainer[HostAddress]
    server: str
    ssh: SshTunnelSpec
    ssl_mode: SslMode
    strict_encryption: bool
    tls_server_name: str
    type: Engine
    use_ssl: bool
    username: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[Engine, str]] = ..., server: _Optional[str] = ..., port: _Optional[int] = ..., database: _Optional[str] = ..., username: _Optional[str] = ..., password: _Optional[str] = ..., use_ssl: bool = ..., ssl_mode: _Optional[_Union[SslMode, str]] = ..., ca_certificate: _Optional[str] = ..., client_certificate: _Optional[str] = ..., client_key: _Optional[str] = ..., tls_server_name: _Optional[str] = ..., max_pool_size: _Optional[int] = ..., min_pool_size: _Optional[int] = ..., acquire_timeout_ms: _Optional[int] = ..., idle_timeout_ms: _Optional[int] = ..., max_lifetime_ms: _Optional[int] = ..., replicas: _Optional[_Iterable[_Union[HostAddress, _Mapping]]] = ..., description: _Optional[str] = ..., instance_name: _Optional[str] = ..., strict_encryption: bool = ..., oracle_sid: _Optional[str] = ..., allow_cleartext_password: bool = ..., front_door_pool_mode: _Optional[str] = ..., max_replica_lag_ms: _Optional[int] = ..., ssh: _Optional[_Union[SshTunnelSpec, _Mapping]] = ...) -> None: ...

class HostAddress(_message.Message):
    __slots__ = ["port", "server"]
    PORT_FIELD_NUMBER: _ClassVar[int]
    SERVER_FIELD_NUMBER: _ClassVar[int]
    port: int
    server: str
    def __init__(self, server: _Optional[str] = ..., port: _Optional[int] = ...) -> None: ...

class SshTunnel(_message.Message):
    __slots__ = ["has_passphrase", "has_password", "has_private_key", "host", "host_key", "port", "user"]
    HAS_PASSPHRASE_FIELD_NUMBER: _ClassVar[int]
    HAS_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    HAS_PRIVATE_KEY_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    HOST_KEY_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    has_passphrase: bool
    has_password: bool
    has_private_key: bool
    host: str
    host_key: str
    port: int
    user: str
    def __init__(self, host: _Optional[str] = ..., port: _Optional[int] = ..., user: _Optional[str] = ..., host_key: _Optional[str] = ..., has_private_key: bool = ..., has_passphrase: bool = ..., has_password: bool = ...) -> None: ...

class SshTunnelSpec(_message.Message):
    __slots__ = ["host", "host_key", "passphrase", "password", "port", "private_key", "user"]
    HOST_FIELD_NUMBER: _ClassVar[int]
    HOST_KEY_FIELD_NUMBER: _ClassVar[int]
    PASSPHRASE_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_KEY_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    host: str
    host_key: str
    passphrase: str
    password: str
    port: int
    private_key: str
    user: str
    def __init__(self, host: _Optional[str] = ..., port: _Optional[int] = ..., user: _Optional[str] = ..., private_key: _Optional[str] = ..., passphrase: _Optional[str] = ..., password: _Optional[str] = ..., host_key: _Optional[str] = ...) -> None: ...

class StageResult(_message.Message):
    __slots__ = ["details", "duration_ms", "error_code", "message", "outcome", "reason", "remedy", "stage"]
    class DetailsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REMEDY_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    details: _containers.ScalarMap[str, str]
    duration_ms: float
    error_code: str
    message: str
    outcome: CheckOutcome
    reason: str
    remedy: str
    stage: CheckStage
    def __init__(self, stage: _Optional[_Union[CheckStage, str]] = ..., outcome: _Optional[_Union[CheckOutcome, str]] = ..., duration_ms: _Optional[float] = ..., reason: _Optional[str] = ..., error_code: _Optional[str] = ..., message: _Optional[str] = ..., remedy: _Optional[str] = ..., details: _Optional[_Mapping[str, str]] = ...) -> None: ...

class User(_message.Message):
    __slots__ = ["created_at", "google_email", "id", "role", "username"]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    GOOGLE_EMAIL_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    created_at: _timestamp_pb2.Timestamp
    google_email: str
    id: str
    role: str
    username: str
    def __init__(self, id: _Optional[str] = ..., username: _Optional[str] = ..., role: _Optional[str] = ..., google_email: _Optional[str] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Engine(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class SslMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ConnectionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class CheckStage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class CheckOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
