"""berth.v1.Value <-> Python, without a server: the edges the engines print."""

import datetime as dt
import math
import uuid
from decimal import Decimal

import pytest

from berth import BerthError, Json
from berth._gen.berth.v1 import values_pb2
from berth.values import to_python, to_value

V = values_pb2.Value
UTC = dt.timezone.utc


@pytest.mark.parametrize(
    "value, expected",
    [
        (V(null=True), None),
        (V(), None),
        (V(bool=True), True),
        (V(int64=-(2**63)), -(2**63)),
        (V(double=1.25), 1.25),
        (V(decimal="-12345678901234567890.000000001"), Decimal("-12345678901234567890.000000001")),
        (V(decimal="$1,234.50"), "$1,234.50"),
        (V(text="héllo ☃"), "héllo ☃"),
        (V(bytes=b"\x00\xff"), b"\x00\xff"),
        (V(date="2024-02-29"), dt.date(2024, 2, 29)),
        (V(date="0000-00-00"), "0000-00-00"),
        (V(date="12000-01-01"), "12000-01-01"),
        (V(time="13:14:15.5"), dt.time(13, 14, 15, 500000)),
        (V(time="13:14:15+05:30"), dt.time(13, 14, 15, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30)))),
        (V(time="13:14:15-02"), dt.time(13, 14, 15, tzinfo=dt.timezone(dt.timedelta(hours=-2)))),
        (V(time="838:59:59"), dt.timedelta(hours=838, minutes=59, seconds=59)),
        (V(time="-01:00:00"), -dt.timedelta(hours=1)),
        (V(local_timestamp="2024-05-06T07:08:09.123456789"), dt.datetime(2024, 5, 6, 7, 8, 9, 123456)),
        (V(local_timestamp="0000-00-00T00:00:00"), "0000-00-00T00:00:00"),
        (V(text="infinity"), "infinity"),
        (V(json='{"a": [1, null]}'), {"a": [1, None]}),
        (V(array=values_pb2.ValueList(values=[V(int64=1), V(null=True), V(array=values_pb2.ValueList(values=[V(text="x")]))])), [1, None, ["x"]]),
    ],
)
def test_values_become_python_values(value, expected):
    assert to_python(value) == expected
    assert type(to_python(value)) is type(expected)


def test_timestamps_are_aware_utc_datetimes_to_the_microsecond_before_and_after_1970():
    for instant in (dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC), dt.datetime(1901, 1, 1, 0, 0, 0, 1, tzinfo=UTC)):
        back = to_python(to_value(instant))
        assert back == instant and back.tzinfo is UTC
    berlin = dt.timezone(dt.timedelta(hours=2))
    assert to_python(to_value(dt.datetime(2024, 5, 6, 9, 0, tzinfo=berlin))) == dt.datetime(2024, 5, 6, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "obj, kind, wire",
    [
        (None, "null", True),
        (True, "bool", True),
        (2**63 - 1, "int64", 2**63 - 1),
        (2**64, "decimal", str(2**64)),
        (0.5, "double", 0.5),
        (Decimal("1.10"), "decimal", "1.10"),
        ("x", "text", "x"),
        (bytearray(b"ab"), "bytes", b"ab"),
        (memoryview(b"ab"), "bytes", b"ab"),
        (dt.date(2024, 1, 2), "date", "2024-01-02"),
        (dt.time(1, 2, 3, 4), "time", "01:02:03.000004"),
        (dt.timedelta(hours=26, seconds=1), "time", "26:00:01"),
        (-dt.timedelta(minutes=90), "time", "-01:30:00"),
        (dt.datetime(2024, 1, 2, 3, 4, 5, 6), "local_timestamp", "2024-01-02T03:04:05.000006"),
        ({"a": 1}, "json", '{"a": 1}'),
        (Json([1, 2]), "json", "[1, 2]"),
        (uuid.UUID(int=1), "text", "00000000-0000-0000-0000-000000000001"),
    ],
)
def test_python_values_become_parameters_of_the_right_kind(obj, kind, wire):
    value = to_value(obj)
    assert value.WhichOneof("kind") == kind
    assert getattr(value, kind) == wire


def test_lists_and_tuples_are_arrays():
    value = to_value([1, (2, None)])
    assert to_python(value) == [1, [2, None]]


def test_nan_and_infinity_travel_as_doubles():
    assert math.isnan(to_python(to_value(float("nan"))))
    assert to_python(to_value(float("-inf"))) == float("-inf")


def test_an_unsupported_parameter_is_a_typed_invalid_argument():
    with pytest.raises(BerthError) as info:
        to_value(object())
    assert info.value.code == "INVALID_ARGUMENT"
    assert info.value.reason == "unsupported_parameter_type"
    assert "object" in info.value.message


def test_json_can_stay_text():
    assert to_python(V(json='{"a":1}'), json_loads=None) == '{"a":1}'
