import { connect } from "node:net";

/**
 * Which real services this machine has. A suite that needs a missing one is skipped and says why;
 * under BERTH_TEST_REQUIRE_SERVICES=1 (CI) a missing service fails the run instead, so nothing
 * passes by being skipped there (DESIGN §5).
 */
export const LOCAL = {
  postgres: { host: "127.0.0.1", port: 5432, user: "postgres", database: "test" },
  mariadb: { host: "127.0.0.1", port: 3306, user: "root", database: "test" },
  redis: { host: "127.0.0.1", port: 6379 },
} as const;

function reachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

export const requireServices = process.env.BERTH_TEST_REQUIRE_SERVICES === "1";

/** Resolves to true when the service answers; throws under BERTH_TEST_REQUIRE_SERVICES=1 when it does not. */
export async function serviceAvailable(name: keyof typeof LOCAL): Promise<boolean> {
  const { host, port } = LOCAL[name];
  const ok = await reachable(host, port);
  if (!ok) {
    const why = `${name} is not reachable on ${host}:${port}`;
    if (requireServices) throw new Error(`${why}, and BERTH_TEST_REQUIRE_SERVICES=1 requires it`);
    console.warn(`skipping: ${why}`);
  }
  return ok;
}
