"""An example service using Berth from Python: it leases a session, records an order in a
transaction, streams a large result without holding it in memory, and reports through DB-API.

    BERTH_URL=http://127.0.0.1:9090 BERTH_TOKEN=berth_t_... BERTH_CONNECTION=<connection id> \\
        python examples/service.py

The connection is a PostgreSQL one (the SQL below uses $1 placeholders and generate_series).
Prints one JSON line with what it did; the package's tests run it.
"""

from __future__ import annotations

import json
import os
import sys
from decimal import Decimal

from berth import BerthClient, BerthError, dbapi

SCHEMA = """
CREATE TABLE IF NOT EXISTS example_orders (
    id bigserial PRIMARY KEY,
    customer text NOT NULL,
    total numeric(12, 2) NOT NULL,
    placed_at timestamptz NOT NULL DEFAULT now()
)"""


def record_order(berth: BerthClient, connection: str, customer: str, lines: list) -> int:
    """One order and its total, all or nothing: a session holds one database session for us."""
    with berth.session(connection) as session:
        session.query(SCHEMA)
        with session.transaction() as tx:
            total = sum((Decimal(price) * qty for price, qty in lines), Decimal("0"))
            order_id = tx.query(
                "INSERT INTO example_orders (customer, total) VALUES ($1, $2) RETURNING id", [customer, total]
            ).scalar()
            if total <= 0:
                raise ValueError("an order needs a positive total")  # rolls the insert back
        return order_id


def sum_large_result(berth: BerthClient, connection: str, rows: int) -> tuple:
    """Streams a large result: batches are pulled as we go, so memory stays flat."""
    count = total = 0
    with berth.stream(connection, "SELECT g, md5(g::text) FROM generate_series(1, $1) g", [rows], timeout=120) as stream:
        for number, _digest in stream:
            count += 1
            total += number
    return count, total


def report(url: str, token: str, connection: str, customer: str) -> Decimal:
    """The same database through DB-API, as code written for psycopg2 would use it."""
    with dbapi.connect(url=url, token=token, connection=connection) as conn:
        cur = conn.cursor()
        cur.execute("SELECT coalesce(sum(total), 0) FROM example_orders WHERE customer = %s", (customer,))
        return cur.fetchone()[0]


def main() -> int:
    url, token, connection = os.environ["BERTH_URL"], os.environ["BERTH_TOKEN"], os.environ["BERTH_CONNECTION"]
    customer = os.environ.get("EXAMPLE_CUSTOMER", "ada")
    rows = int(os.environ.get("EXAMPLE_ROWS", "200000"))
    with BerthClient(url, token=token, timeout=30) as berth:
        try:
            order_id = record_order(berth, connection, customer, [("19.99", 2), ("5.01", 1)])
            try:
                record_order(berth, connection, customer, [("0", 1)])
            except ValueError:
                pass  # rolled back: not in the report
            count, total = sum_large_result(berth, connection, rows)
        except BerthError as err:
            # Typed: code, reason, engine code (SQLSTATE), request id for the logs.
            print(f"berth failed: {err}", file=sys.stderr)
            return 1
    spent = report(url, token, connection, customer)
    print(json.dumps({"order_id": order_id, "streamed_rows": count, "streamed_sum": total, "customer_total": str(spent)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
