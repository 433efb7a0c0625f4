import type { DriverFailure } from "../driver.js";

/** A failure on the way through an SSH bastion, already in Berth's vocabulary (reasons `ssh_*`). */
export class SshError extends Error {
  readonly code: string;
  constructor(
    readonly reason: string,
    message: string,
    readonly details: Record<string, string> = {},
    code = "",
  ) {
    super(message);
    this.code = code;
  }

  get failure(): DriverFailure {
    return { reason: this.reason, code: this.code, message: this.message };
  }
}
