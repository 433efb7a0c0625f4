import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, it } from "node:test";
import { BerthError, createBerthClient } from "@berth/client";
import { createConnection, createServiceToken, type RunningBerth, startBerth } from "./support/berth.js";
import { makeCa } from "./support/certs.js";

/** TLS to Berth, and mutual TLS: a client certificate instead of a token. */
const ca = makeCa();
const server = ca.server();
const service = ca.client("service", "tls-orders");
const stranger = makeCa().client("stranger", "tls-orders");
let berth: RunningBerth;
let pgId: string;

before(async () => {
  berth = await startBerth({
    tlsCa: ca.caPem,
    env: {
      BERTH_TLS_CERT_FILE: server.cert,
      BERTH_TLS_KEY_FILE: server.key,
      BERTH_TLS_CLIENT_CA_FILE: ca.caFile,
    },
  });
  pgId = await createConnection(berth, "postgresql");
  // The certificate's CN names this service token: its connections and level are the certificate's.
  await createServiceToken(berth, [pgId], "tls-orders");
});

after(async () => {
  await berth?.dispose();
  rmSync(ca.dir, { recursive: true, force: true });
});

for (const transport of ["grpc", "connect"] as const) {
  it(`authenticates by client certificate over ${transport}`, async () => {
    const client = createBerthClient({
      url: berth.url,
      transport,
      tls: { ca: ca.caPem, cert: service.certPem, key: service.keyPem },
    });
    try {
      const { rows } = await client.query(pgId, "SELECT current_database() AS db");
      assert.equal(rows[0]!.db, "test");
      const inSession = await client.session(
        pgId,
        async (s) => (await s.query("SELECT 2 AS two")).rows[0]!.two,
      );
      assert.equal(inSession, 2n);
    } finally {
      client.close();
    }
  });
}

it("is UNAUTHENTICATED with TLS but neither certificate nor token, or a certificate from another CA", async () => {
  for (const tls of [{ ca: ca.caPem }, { ca: ca.caPem, cert: stranger.certPem, key: stranger.keyPem }]) {
    const client = createBerthClient({ url: berth.url, tls, retry: { maxAttempts: 1 } });
    try {
      await assert.rejects(
        client.query(pgId, "SELECT 1"),
        (e: unknown) => e instanceof BerthError && e.code === "UNAUTHENTICATED",
      );
    } finally {
      client.close();
    }
  }
});

it("refuses a server whose certificate does not chain to the given CA", async () => {
  const client = createBerthClient({
    url: berth.url,
    tls: { ca: makeCa().caPem },
    retry: { maxAttempts: 1 },
  });
  try {
    await assert.rejects(
      client.query(pgId, "SELECT 1"),
      (e: unknown) => e instanceof BerthError && e.code === "UNAVAILABLE",
    );
  } finally {
    client.close();
  }
});
