"""The README's example service runs against a real Berth and does what it says."""

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import psql

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "service.py"


def test_the_example_service_records_an_order_streams_and_reports(berth_server):
    customer = f"ada-{os.urandom(3).hex()}"
    env = {
        **os.environ,
        "BERTH_URL": berth_server.grpc_url,
        "BERTH_TOKEN": berth_server.token,
        "BERTH_CONNECTION": berth_server.connections["pg"],
        "EXAMPLE_CUSTOMER": customer,
        "EXAMPLE_ROWS": "100000",
    }
    run = subprocess.run([sys.executable, str(EXAMPLE)], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["streamed_rows"] == 100_000
    assert out["streamed_sum"] == 100_000 * 100_001 // 2
    assert out["customer_total"] == "44.99"
    # In the database: the committed order, and not the one rolled back.
    assert psql(f"SELECT id, total FROM example_orders WHERE customer = '{customer}'") == [f"{out['order_id']}|44.99"]
    psql(f"DELETE FROM example_orders WHERE customer = '{customer}'")
