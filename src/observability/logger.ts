import pino, { type DestinationStream, type Logger } from "pino";
import { traceFields } from "./tracing.js";

export type { Logger };

/**
 * Paths pino censors wherever they appear in a log object. Secrets should never be logged in the
 * first place; this is the second line of defence (DESIGN §2 rule 5).
 */
export const REDACTED_PATHS = [
  "password",
  "*.password",
  "*.*.password",
  "username",
  "*.username",
  "*.*.username",
  "clientKey",
  "*.clientKey",
  "*.*.clientKey",
  "token",
  "*.token",
  "authorization",
  "*.authorization",
  "*.headers.authorization",
  "*.headers.cookie",
  "idToken",
  "*.idToken",
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "berth" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) },
      // With tracing on, each line written while a call's span is active carries its trace id.
      mixin: traceFields,
    },
    destination,
  );
}
