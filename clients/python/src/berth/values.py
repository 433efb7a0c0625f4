"""berth.v1.Value <-> Python values.

| Value kind        | Python                                                                  |
| ----------------- | ----------------------------------------------------------------------- |
| null              | None                                                                    |
| bool              | bool                                                                    |
| int64             | int                                                                     |
| double            | float                                                                   |
| decimal           | decimal.Decimal (exact; text the engine prints otherwise, e.g. money)   |
| text              | str                                                                     |
| bytes             | bytes                                                                   |
| date              | datetime.date (years past 9999 and BC dates stay str)                   |
| time              | datetime.time (with tzinfo for "+ZZ"); datetime.timedelta outside a day |
| timestamp         | datetime.datetime, aware, in UTC, to the microsecond                    |
| local_timestamp   | datetime.datetime, naive                                                |
| json              | the parsed document (dict, list, str, int, float, bool, None)           |
| array             | list                                                                    |

Parameters go the other way; naive datetimes become local timestamps, aware ones instants, dicts
and ``Json(...)`` JSON, lists and tuples arrays, timedeltas times, UUIDs text.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable, List

from ._gen.berth.v1 import values_pb2
from .errors import client_error

Value = values_pb2.Value

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_UTC = dt.timezone.utc
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)

_TIME = re.compile(r"^(-)?(\d+):(\d\d)(?::(\d\d)(?:\.(\d{1,9}))?)?(?:([+-])(\d\d)(?::?(\d\d))?)?$")
_LOCAL = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?$")
_DATE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)$")


class Json:
    """Marks a parameter as a JSON document (a dict is one already; use this for lists, str...)."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __repr__(self) -> str:
        return f"Json({self.obj!r})"


def _micros(frac: str) -> int:
    return int(frac[:6].ljust(6, "0")) if frac else 0


def _date(text: str) -> Any:
    m = _DATE.match(text)
    if not m:
        return text
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:  # 0000-00-00 (MySQL's zero date) and the like: as the engine printed it
        return text


def _time(text: str) -> Any:
    m = _TIME.match(text)
    if not m:
        return text
    neg, h, mi, s, frac, sign, oh, om = m.groups()
    hours, minutes, seconds, micros = int(h), int(mi), int(s or 0), _micros(frac or "")
    if neg or hours >= 24:
        # MySQL's TIME is a duration (-838:59:59 to 838:59:59): no time of day holds it.
        delta = dt.timedelta(hours=hours, minutes=minutes, seconds=seconds, microseconds=micros)
        return -delta if neg else delta
    tz = None
    if sign:
        offset = dt.timedelta(hours=int(oh), minutes=int(om or 0))
        tz = dt.timezone(-offset if sign == "-" else offset)
    try:
        return dt.time(hours, minutes, seconds, micros, tzinfo=tz)
    except ValueError:
        return text


def _local(text: str) -> Any:
    m = _LOCAL.match(text)
    if not m:
        return text  # infinity, BC, years past 9999, MySQL's zero date
    y, mo, d, h, mi, s, frac = m.groups()
    try:
        return dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), _micros(frac or ""))
    except ValueError:
        return text


def _decimal(text: str) -> Any:
    try:
        return Decimal(text)
    except InvalidOperation:
        return text  # PostgreSQL's money prints with a currency symbol


def _timestamp(ts: Any) -> dt.datetime:
    return _EPOCH + dt.timedelta(seconds=ts.seconds, microseconds=ts.nanos // 1000)


def to_python(value: Value, json_loads: Callable[[str], Any] = json.loads) -> Any:
    """One Value as a Python value (see the module's table)."""
    kind = value.WhichOneof("kind")
    if kind is None or kind == "null":
        return None
    if kind == "int64":
        return value.int64
    if kind == "text":
        return value.text
    if kind == "decimal":
        return _decimal(value.decimal)
    if kind == "double":
        return value.double
    if kind == "bool":
        return value.bool
    if kind == "bytes":
        return value.bytes
    if kind == "timestamp":
        return _timestamp(value.timestamp)
    if kind == "local_timestamp":
        return _local(value.local_timestamp)
    if kind == "date":
        return _date(value.date)
    if kind == "time":
        return _time(value.time)
    if kind == "json":
        return json_loads(value.json) if json_loads else value.json
    if kind == "array":
        return [to_python(v, json_loads) for v in value.array.values]
    return None  # a kind newer than this SDK: unknown, not a crash


def row_to_python(values: Iterable[Value], json_loads: Callable[[str], Any] = json.loads) -> tuple:
    return tuple(to_python(v, json_loads) for v in values)


def _format_delta(d: dt.timedelta) -> str:
    total = abs(d)
    hours, rest = divmod(total.days * 86400 + total.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{'-' if d < dt.timedelta(0) else ''}{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{text}.{total.microseconds:06d}" if total.microseconds else text


def to_value(obj: Any) -> Value:
    """A Python value as a parameter; an unsupported type is an INVALID_ARGUMENT BerthError."""
    if obj is None:
        return Value(null=True)
    if isinstance(obj, bool):
        return Value(bool=obj)
    if isinstance(obj, int):
        if _INT64_MIN <= obj <= _INT64_MAX:
            return Value(int64=obj)
        return Value(decimal=str(obj))  # exact, for NUMERIC columns
    if isinstance(obj, float):
        return Value(double=obj)
    if isinstance(obj, Decimal):
        return Value(decimal=str(obj))
    if isinstance(obj, str):
        return Value(text=obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return Value(bytes=bytes(obj))
    if isinstance(obj, dt.datetime):
        if obj.tzinfo is None or obj.utcoffset() is None:
            return Value(local_timestamp=obj.isoformat())
        value = Value()
        delta = obj - _EPOCH
        value.timestamp.seconds = delta.days * 86400 + delta.seconds
        value.timestamp.nanos = delta.microseconds * 1000
        return value
    if isinstance(obj, dt.date):
        return Value(date=obj.isoformat())
    if isinstance(obj, dt.time):
        return Value(time=obj.isoformat())
    if isinstance(obj, dt.timedelta):
        return Value(time=_format_delta(obj))
    if isinstance(obj, (list, tuple)):
        return Value(array=values_pb2.ValueList(values=[to_value(x) for x in obj]))
    if isinstance(obj, Json):
        return Value(json=json.dumps(obj.obj))
    if isinstance(obj, dict):
        return Value(json=json.dumps(obj))
    if isinstance(obj, uuid.UUID):
        return Value(text=str(obj))
    raise client_error(
        "INVALID_ARGUMENT",
        f"Cannot send a parameter of type {type(obj).__name__}: use None, bool, int, float, Decimal, str, "
        "bytes, date, time, datetime, timedelta, list, dict or Json",
        "unsupported_parameter_type",
    )


def to_values(params: Iterable[Any]) -> List[Value]:
    return [to_value(p) for p in params]
