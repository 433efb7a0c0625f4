import { Credentials } from "../../src/connections/settings.js";
import { tlsPlanFor } from "../../src/connections/tls-plan.js";
import { validateSpec } from "../../src/connections/validation.js";
import type { ConnectParams } from "../../src/drivers/driver.js";
import type { EngineId } from "../../src/engines/index.js";

/** What a pool would hand a driver for this spec: validated, defaulted, with its TLS plan. */
export function connectParamsFor(
  type: EngineId,
  spec: Record<string, unknown>,
  options: { password?: string; clientKey?: string; connectTimeoutMs?: number } = {},
): ConnectParams {
  const password = options.password ?? "pw";
  const { settings } = validateSpec(
    { name: "t", type, server: "db.example", username: "app", password, ...spec },
    { kind: "new" },
  );
  return {
    host: settings.server,
    port: settings.port,
    database: settings.database,
    credentials: new Credentials("app", password, options.clientKey),
    tls: tlsPlanFor(settings, settings.server, options.clientKey),
    connectTimeoutMs: options.connectTimeoutMs ?? 4000,
    engineOptions: settings.engineOptions,
  };
}
