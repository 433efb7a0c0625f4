import { BerthError } from "../errors/berth-error.js";

export const CLEARTEXT_PASSWORD_REFUSED = "cleartext_password_refused";

/**
 * The server asked for the password in clear text (PostgreSQL AuthenticationCleartextPassword,
 * MySQL mysql_clear_password) on a connection without TLS, and the connection does not allow it:
 * anyone on the path, or a host that only pretends to be the database, would read it. Thrown before
 * a byte of the password is written.
 */
export class CleartextPasswordRefusedError extends BerthError {
  constructor(method: string) {
    super(
      "security_violation",
      `The server asked for the password in clear text (${method}) on a connection without TLS; Berth did not send it`,
      { reason: CLEARTEXT_PASSWORD_REFUSED },
    );
  }
}
