import { type Berth, startBerth } from "./app.js";
import { ConfigError, loadConfig } from "./config/config.js";

/** `npm start`: read the environment once, start, and drain on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  // Handlers first: without one, a signal's default action kills the process at once, and a
  // supervisor may well signal while Berth is still starting. A signal during start-up is honoured
  // as soon as start-up completes.
  let berth: Berth | undefined;
  let pending: string | undefined;
  let stopping = false;
  const stop = (signal: string) => {
    if (!berth) {
      pending = signal;
      return;
    }
    if (stopping) {
      berth.log.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    berth.log.info({ signal }, "draining");
    berth.close().then(
      () => process.exit(0),
      (err) => {
        berth?.log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  // SIGHUP: a renewed certificate is picked up without a restart (open connections keep theirs).
  process.on("SIGHUP", () => {
    berth?.reloadTls().catch(() => {});
  });
  berth = await startBerth(config);
  if (pending) stop(pending);
}

main().catch((err) => {
  process.stderr.write(`berth failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
