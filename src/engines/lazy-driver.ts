import type { Driver, DriverFailure } from "../drivers/driver.js";
import type { EngineId } from "./engine.js";

/**
 * A driver whose module (and its client library) loads on first use. tedious and oracledb cost
 * about a second of start-up between them on this machine, which every Berth that never talks to
 * SQL Server or Oracle would otherwise pay on each start. Only the synchronous error helpers need
 * the module already loaded; they are only asked about errors that came out of it.
 */
export function lazyDriver(
  engine: EngineId,
  load: () => Promise<Driver>,
  options: { locates?: boolean } = {},
): Driver {
  let loaded: Driver | undefined;
  let loading: Promise<Driver> | undefined;
  const driver = async (): Promise<Driver> => {
    // A load that failed (a transient file-system error) is tried again on the next use.
    loading ??= load().then(
      (d) => {
        loaded = d;
        return d;
      },
      (err: unknown) => {
        loading = undefined;
        throw err;
      },
    );
    return loading;
  };
  const unloaded = (err: unknown): DriverFailure => ({
    reason: "driver_unavailable",
    code: "",
    message: err instanceof Error ? err.message : String(err),
  });
  return {
    engine,
    ...(options.locates
      ? {
          locate: async (host, engineOptions, timeoutMs) => {
            const d = await driver();
            if (!d.locate) throw new Error(`the ${engine} driver cannot locate instances`);
            return d.locate(host, engineOptions, timeoutMs);
          },
        }
      : {}),
    negotiateTls: async (socket, tls, engineOptions) =>
      (await driver()).negotiateTls(socket, tls, engineOptions),
    connect: async (params) => (await driver()).connect(params),
    describeError: (err) => (loaded ? loaded.describeError(err) : unloaded(err)),
    isConnectionError: (err) => loaded?.isConnectionError(err) ?? true,
  };
}
