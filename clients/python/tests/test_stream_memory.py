"""A 1,000,000-row stream read by a slow consumer: memory stays flat in this process and in Berth,
because the slowness travels back to the database (flow control end to end)."""

import gc
import time
from typing import Iterator

import pytest
from berth_process import BerthProcess, rss_mib, until
from conftest import direct

from berth import BerthClient

ROWS = 1_000_000
PAD = 100
SQL = {
    "pg": f"SELECT g, repeat('x', {PAD}) AS pad FROM generate_series(1, {ROWS}) g",
    "mysql": f"SELECT seq, REPEAT('x', {PAD}) AS pad FROM seq_1_to_{ROWS}",
}
PAUSE_AT = (100_000, 600_000)
PAUSE_S = 1.0
# Berth's V8 heap is capped well below the stream's size (over 100 MB of rows, several times that as
# JavaScript objects): a Berth that held the stream instead of passing it on would die out of memory.
# The cap is the measure, not resident memory, which V8 grows and shrinks lazily by tens of MiB.
HEAP_CAP_MIB = 96


@pytest.fixture(scope="module")
def berth_server() -> Iterator[BerthProcess]:
    server = BerthProcess(env={"NODE_OPTIONS": f"--max-old-space-size={HEAP_CAP_MIB}"})
    try:
        server.start()
        server.set_up()
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="module")
def client(berth_server: BerthProcess) -> Iterator[BerthClient]:
    with BerthClient(berth_server.grpc_url, token=berth_server.token) as c:
        yield c


def waiting_on_the_client(engine: str) -> bool:
    """Whether the database is blocked writing the result to Berth (Berth stopped reading)."""
    if engine == "pg":
        rows = direct("pg", "SELECT wait_event FROM pg_stat_activity WHERE query LIKE '%generate_series(1, 1000000)%' "
                            "AND pid <> pg_backend_pid()")
        return rows == ["ClientWrite"]
    rows = direct("mysql", "SELECT state FROM information_schema.processlist WHERE info LIKE '%seq_1_to_1000000%' "
                           "AND id <> connection_id()")
    return rows == ["Writing to net"]


def test_a_million_rows_to_a_slow_consumer_keep_memory_flat_on_both_ends(client, berth_server, connection, engine):
    gc.collect()
    client_base, server_base = rss_mib(), berth_server.rss_mib()
    client_peak, server_peak = client_base, server_base
    expected, pad_bytes = 1, 0
    blocked_seen = 0
    with client.stream(connection, SQL[engine], timeout=300) as rows:
        for number, pad in rows:
            assert number == expected
            expected += 1
            pad_bytes += len(pad)
            if number % 5_000 == 0:
                client_peak = max(client_peak, rss_mib())
                server_peak = max(server_peak, berth_server.rss_mib())
            if number in PAUSE_AT:
                # The consumer stops reading: Berth stops reading from the database, which waits.
                started = time.monotonic()
                until(lambda: waiting_on_the_client(engine), timeout=PAUSE_S * 5, interval=0.1,
                      what="the database to wait for Berth")
                blocked_seen += 1
                # The slowness itself (what is tested, not a wait for a condition).
                time.sleep(max(0.0, PAUSE_S - (time.monotonic() - started)))
                # Still waiting at the end of the pause: Berth did not go on reading meanwhile. Had it,
                # the database would have sent the rest of the result (~90 MB: a second or two) and be
                # done, never waiting again. The state is read again for a moment rather than once:
                # MariaDB's processlist flickers between states while a write blocks.
                until(lambda: waiting_on_the_client(engine), timeout=2.0, interval=0.05,
                      what="the database still waiting for Berth after the pause")
        completion = rows.completion
    assert expected - 1 == ROWS
    assert pad_bytes == ROWS * PAD
    assert completion.rows_returned == ROWS
    assert blocked_seen == len(PAUSE_AT)
    # More than 100 MB went through each process. This one grew by a fraction of it; Berth, held to a
    # heap smaller than the stream, served all of it and is still up.
    assert client_peak - client_base < 48, f"client grew {client_peak - client_base:.0f} MiB"
    assert berth_server.proc is not None and berth_server.proc.poll() is None, "Berth died during the stream"
    assert server_peak - server_base < 2 * HEAP_CAP_MIB, f"Berth grew {server_peak - server_base:.0f} MiB"
