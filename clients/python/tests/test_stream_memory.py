"""A 1,000,000-row stream read by a slow consumer: memory stays flat in this process and in Berth,
because the slowness travels back to the database (flow control end to end)."""

import gc
import time

from berth_process import rss_mib, until
from conftest import direct

ROWS = 1_000_000
PAD = 100
SQL = {
    "pg": f"SELECT g, repeat('x', {PAD}) AS pad FROM generate_series(1, {ROWS}) g",
    "mysql": f"SELECT seq, REPEAT('x', {PAD}) AS pad FROM seq_1_to_{ROWS}",
}
# Both pauses early: what is left of the result (over 80 MB) must be far more than every buffer on
# the way (the kernel's, Berth's, HTTP/2's windows, grpc's), so that a database still waiting after
# the pause proves Berth stopped reading rather than that the rest fitted in the buffers.
PAUSE_AT = (100_000, 250_000)
PAUSE_S = 1.0


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
                # the database would have sent the rest of the result and be done, never waiting
                # again. The state is read again for a moment rather than once: MariaDB's processlist
                # flickers between states while a write blocks.
                until(lambda: waiting_on_the_client(engine), timeout=3.0, interval=0.05,
                      what="the database still waiting for Berth after the pause")
        completion = rows.completion
    assert expected - 1 == ROWS
    assert pad_bytes == ROWS * PAD
    assert completion.rows_returned == ROWS
    assert blocked_seen == len(PAUSE_AT)
    # More than 100 MB went through each process. This one grew by a fraction of it. Berth's resident
    # memory moves with V8's lazy heap growth (110 MiB seen once in CI with backpressure holding), so
    # its bound is looser: held in Berth, the million rows would be several hundred MiB of JavaScript
    # objects, far above it. The database waiting on Berth during the pauses is the sharper proof.
    assert client_peak - client_base < 48, f"client grew {client_peak - client_base:.0f} MiB"
    assert server_peak - server_base < 160, f"Berth grew {server_peak - server_base:.0f} MiB"
