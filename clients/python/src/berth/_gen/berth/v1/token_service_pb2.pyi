from berth._gen.berth.v1 import access_service_pb2 as _access_service_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateServiceTokenRequest(_message.Message):
    __slots__ = ["access_level", "connection_ids", "name", "ttl_ms"]
    ACCESS_LEVEL_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_IDS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TTL_MS_FIELD_NUMBER: _ClassVar[int]
    access_level: _access_service_pb2.AccessLevel
    connection_ids: _containers.RepeatedScalarFieldContainer[str]
    name: str
    ttl_ms: int
    def __init__(self, name: _Optional[str] = ..., connection_ids: _Optional[_Iterable[str]] = ..., access_level: _Optional[_Union[_access_service_pb2.AccessLevel, str]] = ..., ttl_ms: _Optional[int] = ...) -> None: ...

class CreateServiceTokenResponse(_message.Message):
    __slots__ = ["service_token", "token"]
    SERVICE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    service_token: ServiceToken
    token: str
    def __init__(self, service_token: _Optional[_Union[ServiceToken, _Mapping]] = ..., token: _Optional[str] = ...) -> None: ...

class ListServiceTokensRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListServiceTokensResponse(_message.Message):
    __slots__ = ["service_tokens"]
    SERVICE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    service_tokens: _containers.RepeatedCompositeFieldContainer[ServiceToken]
    def __init__(self, service_tokens: _Optional[_Iterable[_Union[ServiceToken, _Mapping]]] = ...) -> None: ...

class RevokeServiceTokenRequest(_message.Message):
    __slots__ = ["id"]
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class RevokeServiceTokenResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ServiceToken(_message.Message):
    __slots__ = ["access_level", "connection_ids", "created_at", "expires_at", "id", "name", "revoked_at"]
    ACCESS_LEVEL_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_IDS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    access_level: _access_service_pb2.AccessLevel
    connection_ids: _containers.RepeatedScalarFieldContainer[str]
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    id: str
    name: str
    revoked_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., connection_ids: _Optional[_Iterable[str]] = ..., access_level: _Optional[_Union[_access_service_pb2.AccessLevel, str]] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., revoked_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
