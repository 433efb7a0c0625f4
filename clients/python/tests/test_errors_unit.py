"""BerthError from a gRPC status: details decoded, retry decisions, without a server."""

import grpc
import pytest

from berth import BerthError, RetryPolicy
from berth._retry import with_retries
from berth.errors import _types, from_rpc_error, from_statement_error


class FakeRpcError(grpc.RpcError):
    def __init__(self, code, message, trailers=()):
        self._code, self._message, self._trailers = code, message, trailers

    def code(self):
        return self._code

    def details(self):
        return self._message

    def trailing_metadata(self):
        return self._trailers


def status_trailer(code, message, *details):
    t = _types()
    status = t.Status(code=code.value[0], message=message)
    for d in details:
        status.details.add().Pack(d)
    return (("grpc-status-details-bin", status.SerializeToString()),)


def test_error_info_gives_kind_reason_engine_code_stage_remedy_and_request_id():
    t = _types()
    info = t.ErrorInfo(
        reason="connection_operation_failed",
        domain="berth.dev",
        metadata={"reason": "authentication_failed", "error_code": "28P01", "stage": "auth",
                  "remedy": "Check the username and password", "request_id": "req-1"},
    )
    err = from_rpc_error(FakeRpcError(grpc.StatusCode.FAILED_PRECONDITION, "password authentication failed",
                                      status_trailer(grpc.StatusCode.FAILED_PRECONDITION, "x", info)))
    assert (err.code, err.kind, err.reason, err.engine_code, err.stage, err.request_id) == (
        "FAILED_PRECONDITION", "connection_operation_failed", "authentication_failed", "28P01", "auth", "req-1")
    assert err.remedy == "Check the username and password"
    assert err.grpc_code is grpc.StatusCode.FAILED_PRECONDITION
    assert "28P01" in str(err) and "Check the username" in str(err)


def test_bad_request_and_retry_info_are_decoded():
    t = _types()
    bad = t.BadRequest()
    bad.field_violations.add(field="port", description="must be 1-65535")
    retry = t.RetryInfo()
    retry.retry_delay.seconds = 3
    info = t.ErrorInfo(reason="rate_limited", domain="berth.dev", metadata={"reason": "rate_limited"})
    err = from_rpc_error(FakeRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down",
                                      status_trailer(grpc.StatusCode.RESOURCE_EXHAUSTED, "x", info, bad, retry)))
    assert err.field_violations == [("port", "must be 1-65535")]
    assert err.retry_after == 3.0


def test_a_garbled_details_trailer_still_gives_the_status():
    err = from_rpc_error(FakeRpcError(grpc.StatusCode.INTERNAL, "boom", (("grpc-status-details-bin", b"\xff\x00garbage"),)))
    assert (err.code, err.message, err.kind) == ("INTERNAL", "boom", "")


@pytest.mark.parametrize(
    "err, retry",
    [
        (BerthError("UNAVAILABLE", "failed to connect to all addresses; last error: Connection refused"), True),
        (BerthError("UNAVAILABLE", "Socket closed"), False),  # may have run: Berth went away mid-call
        (BerthError("UNAVAILABLE", "x", kind="unavailable", reason="database_not_answering"), True),
        (BerthError("UNAVAILABLE", "x", kind="unavailable", reason="connection_lost"), False),
        (BerthError("RESOURCE_EXHAUSTED", "x", kind="pool_operation_failed", reason="pool_exhausted"), True),
        (BerthError("RESOURCE_EXHAUSTED", "x", kind="payload_too_large"), False),
        (BerthError("FAILED_PRECONDITION", "x", kind="query_failed"), False),
        (BerthError("DEADLINE_EXCEEDED", "x", kind="deadline_exceeded"), False),
    ],
)
def test_only_failures_that_never_reached_the_database_are_retried(err, retry):
    assert err.never_reached_database is retry


def test_retries_back_off_and_stop_after_max_attempts():
    calls, pauses = [], []

    def attempt():
        calls.append(1)
        raise BerthError("UNAVAILABLE", "x", kind="pool_operation_failed", reason="pool_exhausted")

    with pytest.raises(BerthError):
        with_retries(RetryPolicy(max_attempts=4, initial_backoff=0.1, max_backoff=0.3), None, attempt, lambda p, _e: pauses.append(p))
    assert len(calls) == 4
    assert len(pauses) == 3 and all(0.05 <= p <= 0.3 for p in pauses) and pauses[2] >= 0.15


def test_a_retry_after_from_the_server_is_waited_and_a_deadline_stops_retrying():
    pauses = []

    def attempt():
        raise BerthError("RESOURCE_EXHAUSTED", "x", kind="rate_limited", reason="rate_limited", retry_after=2.0)

    with pytest.raises(BerthError):
        with_retries(RetryPolicy(max_attempts=2), None, attempt, lambda p, _e: pauses.append(p))
    assert pauses == [2.0]
    pauses.clear()
    import time
    with pytest.raises(BerthError):
        with_retries(RetryPolicy(max_attempts=5), time.monotonic() + 1.0, attempt, lambda p, _e: pauses.append(p))
    assert pauses == []  # waiting 2 s would pass the deadline: fail now


def test_in_band_statement_errors_get_the_code_of_the_same_failure_on_a_one_shot_call():
    assert from_statement_error("query_failed", "23505", "dup").code == "FAILED_PRECONDITION"
    assert from_statement_error("timeout", "", "slow").code == "DEADLINE_EXCEEDED"
    assert from_statement_error("cancelled", "57014", "stop").code == "CANCELLED"
    assert from_statement_error("validation_failed", "", "bad").code == "INVALID_ARGUMENT"
