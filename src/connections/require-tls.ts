import { TlsRequiredError } from "../errors/berth-error.js";
import type { ConnectionSettings } from "./settings.js";

/** Under BERTH_REQUIRE_TLS, a configuration that may fall back to plain text is refused. */
export function enforceTls(requireTls: boolean | undefined, settings: ConnectionSettings): void {
  if (requireTls && (settings.sslMode === "disable" || settings.sslMode === "prefer")) {
    throw new TlsRequiredError(settings.sslMode);
  }
}
