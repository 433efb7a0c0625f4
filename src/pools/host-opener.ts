import { scrubSecrets } from "../connections/settings.js";
import { tlsPlanFor } from "../connections/tls-plan.js";
import type { Driver, DriverSession } from "../drivers/driver.js";
import { type BerthError, UnavailableError } from "../errors/berth-error.js";
import { within } from "./bounded.js";
import type { Permit } from "./budget.js";
import { OpenTimedOut } from "./pool-errors.js";
import type { ConnectionPoolOptions } from "./pool-types.js";
import { notAnswering } from "./unreachable.js";

/**
 * How a pool reaches its host: the driver's open with the connection's settings (TLS plan, SSH
 * bastion), bounded by the connect timeout; what a failed open means to a caller; and the health
 * probe's session of its own. Kept apart from ConnectionPool because none of it is on the path of a
 * session that is already open: the pool's bookkeeping (slots, permits, waiters) stays there.
 */
export class HostOpener {
  /** `server:port`, as errors name the host. */
  readonly host: string;
  readonly #driver: Driver;
  readonly #connectTimeoutMs: number;
  readonly #connect: (connectTimeoutMs: number) => Promise<DriverSession>;
  readonly #scrub: (text: string) => string;

  constructor(
    options: Pick<ConnectionPoolOptions, "settings" | "credentials" | "driver" | "connectTimeoutMs">,
  ) {
    const { settings, credentials, driver } = options;
    this.host = `${settings.server}:${settings.port}`;
    this.#driver = driver;
    this.#connectTimeoutMs = options.connectTimeoutMs;
    const plan = tlsPlanFor(settings, settings.server, credentials.clientKey);
    this.#scrub = (text) => scrubSecrets(text, credentials);
    this.#connect = (connectTimeoutMs) =>
      driver.connect({
        host: settings.server,
        port: settings.port,
        database: settings.database,
        credentials,
        tls: plan,
        connectTimeoutMs,
        engineOptions: settings.engineOptions,
        // Through the connection's SSH bastion: the guarded driver opens (and reopens) the tunnel.
        ...(settings.ssh ? { ssh: settings.ssh } : {}),
      });
  }

  /**
   * The driver's open, bounded by the connect timeout whatever the driver does with it (DNS, TLS
   * fallback and sign-in each take their time): a session that arrives later is closed, and only
   * then is its permit given back (another instance must not open one while it still exists).
   * Rejects with OpenTimedOut at the bound, else with the driver's own error.
   */
  open(permit: Permit | undefined): Promise<DriverSession> {
    const ms = this.#connectTimeoutMs;
    const attempt = this.#connect(ms);
    return within(attempt, ms, () => {
      attempt.then(
        (late) => {
          late.destroy();
          permit?.release();
        },
        () => permit?.release(),
      );
      throw new OpenTimedOut(ms);
    });
  }

  /** What a failed open (OpenTimedOut or the driver's error, not a BerthError) tells the caller. */
  failure(err: unknown): BerthError {
    const f = err instanceof OpenTimedOut ? undefined : this.#driver.describeError(err);
    // A connect timeout means the host took (or swallowed) the connection and said nothing.
    if (!f || f.reason === "timeout")
      return notAnswering(
        this.host,
        `no session opened within the connect timeout (${this.#connectTimeoutMs} ms)`,
        { error_code: f?.code ?? "ETIMEDOUT" },
      );
    return new UnavailableError(`Cannot open a session to ${this.host}: ${this.#scrub(f.message)}`, {
      reason: f.reason,
      error_code: f.code,
    });
  }

  /**
   * Health probe on a session of its own (not a pooled one, so a busy pool cannot make the server
   * look down): connect, ping (or `inspect`, which asks the host what it is), close. Returns the
   * latency; throws the driver's failure.
   */
  async probe(timeoutMs: number, inspect?: (session: DriverSession) => Promise<void>): Promise<number> {
    const started = performance.now();
    let session: DriverSession | undefined;
    const attempt = this.#connect(timeoutMs).then(async (s) => {
      session = s;
      await (inspect ? inspect(s) : s.ping());
    });
    try {
      await within(attempt, timeoutMs, () => {
        throw Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: "ETIMEDOUT" });
      });
      return performance.now() - started;
    } finally {
      attempt.catch(() => {}).finally(() => session?.destroy());
    }
  }
}
