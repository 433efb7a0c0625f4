from berth._gen.berth.v1 import access_service_pb2 as _access_service_pb2
from berth._gen.berth.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BundleGrant(_message.Message):
    __slots__ = ["access_level", "applied", "principal", "principal_kind", "skipped_reason"]
    ACCESS_LEVEL_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_KIND_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_REASON_FIELD_NUMBER: _ClassVar[int]
    access_level: _access_service_pb2.AccessLevel
    applied: bool
    principal: str
    principal_kind: str
    skipped_reason: str
    def __init__(self, principal_kind: _Optional[str] = ..., principal: _Optional[str] = ..., access_level: _Optional[_Union[_access_service_pb2.AccessLevel, str]] = ..., applied: bool = ..., skipped_reason: _Optional[str] = ...) -> None: ...

class ExportBundleRequest(_message.Message):
    __slots__ = ["all_administered", "connection_ids", "passphrase"]
    ALL_ADMINISTERED_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_IDS_FIELD_NUMBER: _ClassVar[int]
    PASSPHRASE_FIELD_NUMBER: _ClassVar[int]
    all_administered: bool
    connection_ids: _containers.RepeatedScalarFieldContainer[str]
    passphrase: str
    def __init__(self, connection_ids: _Optional[_Iterable[str]] = ..., passphrase: _Optional[str] = ..., all_administered: bool = ...) -> None: ...

class ExportBundleResponse(_message.Message):
    __slots__ = ["bundle", "connections", "grants"]
    BUNDLE_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    bundle: bytes
    connections: int
    grants: int
    def __init__(self, bundle: _Optional[bytes] = ..., connections: _Optional[int] = ..., grants: _Optional[int] = ...) -> None: ...

class ImportBundleRequest(_message.Message):
    __slots__ = ["bundle", "dry_run", "passphrase", "timeout_ms"]
    BUNDLE_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    PASSPHRASE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    bundle: bytes
    dry_run: bool
    passphrase: str
    timeout_ms: int
    def __init__(self, bundle: _Optional[bytes] = ..., passphrase: _Optional[str] = ..., dry_run: bool = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class ImportBundleResponse(_message.Message):
    __slots__ = ["applied", "connections", "dry_run", "exported_at", "exported_by", "ok"]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    EXPORTED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPORTED_BY_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    applied: bool
    connections: _containers.RepeatedCompositeFieldContainer[ImportedConnection]
    dry_run: bool
    exported_at: str
    exported_by: str
    ok: bool
    def __init__(self, applied: bool = ..., dry_run: bool = ..., ok: bool = ..., connections: _Optional[_Iterable[_Union[ImportedConnection, _Mapping]]] = ..., exported_at: _Optional[str] = ..., exported_by: _Optional[str] = ...) -> None: ...

class ImportedConnection(_message.Message):
    __slots__ = ["grants", "id", "message", "name", "outcome", "test", "type"]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    TEST_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    grants: _containers.RepeatedCompositeFieldContainer[BundleGrant]
    id: str
    message: str
    name: str
    outcome: str
    test: _types_pb2.CheckResult
    type: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., outcome: _Optional[str] = ..., message: _Optional[str] = ..., id: _Optional[str] = ..., test: _Optional[_Union[_types_pb2.CheckResult, _Mapping]] = ..., grants: _Optional[_Iterable[_Union[BundleGrant, _Mapping]]] = ...) -> None: ...
