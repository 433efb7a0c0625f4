from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

ACCESS_LEVEL_ADMIN: AccessLevel
ACCESS_LEVEL_EDITOR: AccessLevel
ACCESS_LEVEL_OWNER: AccessLevel
ACCESS_LEVEL_UNSPECIFIED: AccessLevel
ACCESS_LEVEL_USER: AccessLevel
ACCESS_LEVEL_VIEWER: AccessLevel
DESCRIPTOR: _descriptor.FileDescriptor

class ConnectionAccess(_message.Message):
    __slots__ = ["access_level", "assigned_at", "connection_id", "google_email", "user_id", "username"]
    ACCESS_LEVEL_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_AT_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    GOOGLE_EMAIL_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    access_level: AccessLevel
    assigned_at: _timestamp_pb2.Timestamp
    connection_id: str
    google_email: str
    user_id: str
    username: str
    def __init__(self, connection_id: _Optional[str] = ..., user_id: _Optional[str] = ..., google_email: _Optional[str] = ..., access_level: _Optional[_Union[AccessLevel, str]] = ..., assigned_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., username: _Optional[str] = ...) -> None: ...

class GrantAccessRequest(_message.Message):
    __slots__ = ["access_level", "connection_id", "google_email", "user_id"]
    ACCESS_LEVEL_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    GOOGLE_EMAIL_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    access_level: AccessLevel
    connection_id: str
    google_email: str
    user_id: str
    def __init__(self, connection_id: _Optional[str] = ..., user_id: _Optional[str] = ..., google_email: _Optional[str] = ..., access_level: _Optional[_Union[AccessLevel, str]] = ...) -> None: ...

class GrantAccessResponse(_message.Message):
    __slots__ = ["access"]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    access: ConnectionAccess
    def __init__(self, access: _Optional[_Union[ConnectionAccess, _Mapping]] = ...) -> None: ...

class ListAccessRequest(_message.Message):
    __slots__ = ["connection_id"]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    def __init__(self, connection_id: _Optional[str] = ...) -> None: ...

class ListAccessResponse(_message.Message):
    __slots__ = ["access"]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    access: _containers.RepeatedCompositeFieldContainer[ConnectionAccess]
    def __init__(self, access: _Optional[_Iterable[_Union[ConnectionAccess, _Mapping]]] = ...) -> None: ...

class RevokeAccessRequest(_message.Message):
    __slots__ = ["connection_id", "google_email", "user_id"]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    GOOGLE_EMAIL_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    google_email: str
    user_id: str
    def __init__(self, connection_id: _Optional[str] = ..., user_id: _Optional[str] = ..., google_email: _Optional[str] = ...) -> None: ...

class RevokeAccessResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class AccessLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
