import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { FrontDoorClient } from "./client.js";
import type { ClientObserver } from "./client-identity.js";

/** The front door's figures on /metrics: clients by state, transactions, bytes, waits, pins, sign-ins. */
export function createFrontDoorMetrics(registry: Registry, clients: () => Iterable<FrontDoorClient>) {
  new Gauge({
    name: "berth_frontdoor_clients",
    help: "PostgreSQL front-door clients by state (idle, waiting for a backend, active, pinned to a backend)",
    labelNames: ["connection_id", "state"],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of clients()) {
        this.inc({ connection_id: c.connectionId, state: c.state });
        if (c.pinned) this.inc({ connection_id: c.connectionId, state: "pinned" });
      }
    },
  });
  // Counted in plain numbers on the per-transaction path, read into the metrics at scrape time.
  const totals = { transactions: 0, in: 0, out: 0 };
  new Counter({
    name: "berth_frontdoor_transactions_total",
    help: "Transactions (ReadyForQuery reporting idle) served through the PostgreSQL front door",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(totals.transactions);
    },
  });
  new Counter({
    name: "berth_frontdoor_bytes_total",
    help: "Bytes through the PostgreSQL front door, from clients (in) and to them (out)",
    labelNames: ["direction"],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ direction: "in" }, totals.in);
      this.inc({ direction: "out" }, totals.out);
    },
  });
  const waits = new Histogram({
    name: "berth_frontdoor_backend_wait_seconds",
    help: "Time a front-door client waited for a backend at the start of a transaction",
    buckets: [0.0001, 0.001, 0.005, 0.025, 0.1, 0.5, 2, 10],
    registers: [registry],
  });
  const pins = new Counter({
    name: "berth_frontdoor_pins_total",
    help: "Clients pinned to their backend until they disconnect, by why",
    labelNames: ["why"],
    registers: [registry],
  });
  const signIns = new Counter({
    name: "berth_frontdoor_sign_ins_total",
    help: "Front-door sign-ins by outcome (ok, or the reason refused)",
    labelNames: ["outcome"],
    registers: [registry],
  });
  type Observer = ClientObserver<FrontDoorClient>;
  const observer = (closed: Observer["closed"]): Observer => ({
    waiting: () => {},
    active: () => {},
    pinned: (why) => pins.inc({ why }),
    transaction: () => {
      totals.transactions++;
    },
    bytes: (direction, n) => {
      totals[direction] += n;
    },
    waited: (ms) => waits.observe(ms / 1000),
    closed,
  });
  return { observer, signIn: (outcome: string) => signIns.inc({ outcome }) };
}
