from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetKeyStatusRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetKeyStatusResponse(_message.Message):
    __slots__ = ["current_secrets", "key_name", "latest_version", "min_decryption_version", "provider", "rotatable", "stale", "total_secrets", "versions"]
    CURRENT_SECRETS_FIELD_NUMBER: _ClassVar[int]
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    LATEST_VERSION_FIELD_NUMBER: _ClassVar[int]
    MIN_DECRYPTION_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    ROTATABLE_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SECRETS_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    current_secrets: int
    key_name: str
    latest_version: int
    min_decryption_version: int
    provider: str
    rotatable: bool
    stale: _containers.RepeatedCompositeFieldContainer[SecretProblem]
    total_secrets: int
    versions: _containers.RepeatedCompositeFieldContainer[KeyVersionCount]
    def __init__(self, provider: _Optional[str] = ..., key_name: _Optional[str] = ..., latest_version: _Optional[int] = ..., min_decryption_version: _Optional[int] = ..., rotatable: bool = ..., versions: _Optional[_Iterable[_Union[KeyVersionCount, _Mapping]]] = ..., stale: _Optional[_Iterable[_Union[SecretProblem, _Mapping]]] = ..., total_secrets: _Optional[int] = ..., current_secrets: _Optional[int] = ...) -> None: ...

class Instance(_message.Message):
    __slots__ = ["address", "duties", "id", "last_heartbeat_at", "pg_port", "pools_held", "started_at", "this_instance", "version"]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DUTIES_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_AT_FIELD_NUMBER: _ClassVar[int]
    PG_PORT_FIELD_NUMBER: _ClassVar[int]
    POOLS_HELD_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    THIS_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    address: str
    duties: _containers.RepeatedScalarFieldContainer[str]
    id: str
    last_heartbeat_at: _timestamp_pb2.Timestamp
    pg_port: int
    pools_held: int
    started_at: _timestamp_pb2.Timestamp
    this_instance: bool
    version: str
    def __init__(self, id: _Optional[str] = ..., version: _Optional[str] = ..., address: _Optional[str] = ..., pg_port: _Optional[int] = ..., started_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., last_heartbeat_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., pools_held: _Optional[int] = ..., this_instance: bool = ..., duties: _Optional[_Iterable[str]] = ...) -> None: ...

class KeyVersionCount(_message.Message):
    __slots__ = ["provider", "secrets", "version"]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    provider: str
    secrets: int
    version: int
    def __init__(self, provider: _Optional[str] = ..., version: _Optional[int] = ..., secrets: _Optional[int] = ...) -> None: ...

class ListInstancesRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListInstancesResponse(_message.Message):
    __slots__ = ["instances"]
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    instances: _containers.RepeatedCompositeFieldContainer[Instance]
    def __init__(self, instances: _Optional[_Iterable[_Union[Instance, _Mapping]]] = ...) -> None: ...

class RetireKeyVersionsRequest(_message.Message):
    __slots__ = ["min_version"]
    MIN_VERSION_FIELD_NUMBER: _ClassVar[int]
    min_version: int
    def __init__(self, min_version: _Optional[int] = ...) -> None: ...

class RetireKeyVersionsResponse(_message.Message):
    __slots__ = ["status"]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: GetKeyStatusResponse
    def __init__(self, status: _Optional[_Union[GetKeyStatusResponse, _Mapping]] = ...) -> None: ...

class RewrapSecretsRequest(_message.Message):
    __slots__ = ["batch_size", "max_secrets"]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_SECRETS_FIELD_NUMBER: _ClassVar[int]
    batch_size: int
    max_secrets: int
    def __init__(self, batch_size: _Optional[int] = ..., max_secrets: _Optional[int] = ...) -> None: ...

class RewrapSecretsResponse(_message.Message):
    __slots__ = ["already_current", "changed_concurrently", "failures", "finished", "processed", "rewrapped", "total"]
    ALREADY_CURRENT_FIELD_NUMBER: _ClassVar[int]
    CHANGED_CONCURRENTLY_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    PROCESSED_FIELD_NUMBER: _ClassVar[int]
    REWRAPPED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    already_current: int
    changed_concurrently: int
    failures: _containers.RepeatedCompositeFieldContainer[SecretProblem]
    finished: bool
    processed: int
    rewrapped: int
    total: int
    def __init__(self, total: _Optional[int] = ..., processed: _Optional[int] = ..., rewrapped: _Optional[int] = ..., already_current: _Optional[int] = ..., changed_concurrently: _Optional[int] = ..., failures: _Optional[_Iterable[_Union[SecretProblem, _Mapping]]] = ..., finished: bool = ...) -> None: ...

class RotateKeyRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class RotateKeyResponse(_message.Message):
    __slots__ = ["new_version", "status"]
    NEW_VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    new_version: int
    status: GetKeyStatusResponse
    def __init__(self, new_version: _Optional[int] = ..., status: _Optional[_Union[GetKeyStatusResponse, _Mapping]] = ...) -> None: ...

class SecretProblem(_message.Message):
    __slots__ = ["connection_id", "field", "message", "provider", "reason", "version"]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    field: str
    message: str
    provider: str
    reason: str
    version: int
    def __init__(self, connection_id: _Optional[str] = ..., field: _Optional[str] = ..., provider: _Optional[str] = ..., version: _Optional[int] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...
