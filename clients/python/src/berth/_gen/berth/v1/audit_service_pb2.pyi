from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AuditAnchor(_message.Message):
    __slots__ = ["hash", "mac", "seq", "time"]
    HASH_FIELD_NUMBER: _ClassVar[int]
    MAC_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    hash: str
    mac: str
    seq: int
    time: str
    def __init__(self, seq: _Optional[int] = ..., hash: _Optional[str] = ..., time: _Optional[str] = ..., mac: _Optional[str] = ...) -> None: ...

class AuditEvent(_message.Message):
    __slots__ = ["action", "actor_id", "actor_name", "at", "hash", "key_version", "mac", "outcome", "reason", "request_id", "seq", "source", "target", "transport"]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_NAME_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    MAC_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    TRANSPORT_FIELD_NUMBER: _ClassVar[int]
    action: str
    actor_id: str
    actor_name: str
    at: _timestamp_pb2.Timestamp
    hash: str
    key_version: int
    mac: str
    outcome: str
    reason: str
    request_id: str
    seq: int
    source: str
    target: str
    transport: str
    def __init__(self, seq: _Optional[int] = ..., at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., actor_id: _Optional[str] = ..., actor_name: _Optional[str] = ..., source: _Optional[str] = ..., transport: _Optional[str] = ..., action: _Optional[str] = ..., target: _Optional[str] = ..., outcome: _Optional[str] = ..., reason: _Optional[str] = ..., request_id: _Optional[str] = ..., hash: _Optional[str] = ..., mac: _Optional[str] = ..., key_version: _Optional[int] = ...) -> None: ...

class AuditKeyVersionCount(_message.Message):
    __slots__ = ["events", "first_seq", "last_seq", "provider", "version"]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    events: int
    first_seq: int
    last_seq: int
    provider: str
    version: int
    def __init__(self, provider: _Optional[str] = ..., version: _Optional[int] = ..., events: _Optional[int] = ..., first_seq: _Optional[int] = ..., last_seq: _Optional[int] = ...) -> None: ...

class GetAuditHeadRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetAuditHeadResponse(_message.Message):
    __slots__ = ["anchor", "head", "key_version", "mac", "seq", "time"]
    ANCHOR_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    MAC_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    anchor: AuditAnchor
    head: str
    key_version: int
    mac: str
    seq: int
    time: str
    def __init__(self, seq: _Optional[int] = ..., head: _Optional[str] = ..., time: _Optional[str] = ..., key_version: _Optional[int] = ..., mac: _Optional[str] = ..., anchor: _Optional[_Union[AuditAnchor, _Mapping]] = ...) -> None: ...

class ListAuditEventsRequest(_message.Message):
    __slots__ = ["actor_id", "after_seq", "before_seq", "connection_id", "newest_first", "outcome", "page_size", "since", "until"]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    BEFORE_SEQ_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    NEWEST_FIRST_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    actor_id: str
    after_seq: int
    before_seq: int
    connection_id: str
    newest_first: bool
    outcome: str
    page_size: int
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    def __init__(self, connection_id: _Optional[str] = ..., actor_id: _Optional[str] = ..., since: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., after_seq: _Optional[int] = ..., outcome: _Optional[str] = ..., before_seq: _Optional[int] = ..., newest_first: bool = ...) -> None: ...

class ListAuditEventsResponse(_message.Message):
    __slots__ = ["events"]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[AuditEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[AuditEvent, _Mapping]]] = ...) -> None: ...

class VerifyAuditLogRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class VerifyAuditLogResponse(_message.Message):
    __slots__ = ["anchor", "anchor_proof", "checked", "checkpoints_checked", "first_broken_seq", "ok", "problem", "signed_by", "unsigned"]
    ANCHOR_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_PROOF_FIELD_NUMBER: _ClassVar[int]
    CHECKED_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINTS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    FIRST_BROKEN_SEQ_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    SIGNED_BY_FIELD_NUMBER: _ClassVar[int]
    UNSIGNED_FIELD_NUMBER: _ClassVar[int]
    anchor: AuditAnchor
    anchor_proof: str
    checked: int
    checkpoints_checked: int
    first_broken_seq: int
    ok: bool
    problem: str
    signed_by: _containers.RepeatedCompositeFieldContainer[AuditKeyVersionCount]
    unsigned: int
    def __init__(self, ok: bool = ..., checked: _Optional[int] = ..., first_broken_seq: _Optional[int] = ..., problem: _Optional[str] = ..., signed_by: _Optional[_Iterable[_Union[AuditKeyVersionCount, _Mapping]]] = ..., unsigned: _Optional[int] = ..., checkpoints_checked: _Optional[int] = ..., anchor: _Optional[_Union[AuditAnchor, _Mapping]] = ..., anchor_proof: _Optional[str] = ...) -> None: ...
