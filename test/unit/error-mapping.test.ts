import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  type BerthError,
  ConflictError,
  CredentialIntegrityError,
  NotFoundError,
  ValidationError,
} from "../../src/errors/berth-error.js";
import { asBerthError, isServerFault, toConnectError, toRestError } from "../../src/errors/mapping.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../src/gen/google/rpc/error_details_pb.js";

describe("error mapping", () => {
  it("maps kinds to Connect codes with ErrorInfo, and to RFC envelopes with HTTP statuses", () => {
    const cases: [BerthError, Code, number][] = [
      [ValidationError.field("port", "bad"), Code.InvalidArgument, 400],
      [new NotFoundError("connection", "x"), Code.NotFound, 404],
      [new ConflictError("stale"), Code.Aborted, 409],
      [new CredentialIntegrityError("id", "password"), Code.DataLoss, 500],
    ];
    for (const [err, code, http] of cases) {
      const ce = toConnectError(err, "rid");
      expect(ce.code).toBe(code);
      const info = ce.findDetails(ErrorInfoSchema)[0]!;
      expect(info.reason).toBe(err.kind);
      expect(info.metadata.request_id).toBe("rid");
      const rest = toRestError(err, "rid");
      expect(rest.status).toBe(http);
      expect(rest.body.error).toBe(err.kind);
      expect(rest.body.details.request_id).toBe("rid");
    }
  });

  it("attaches field violations as google.rpc.BadRequest", () => {
    const ce = toConnectError(new ValidationError([{ field: "name", description: "is required" }]), "r");
    expect(ce.findDetails(BadRequestSchema)[0]!.fieldViolations[0]).toMatchObject({
      field: "name",
      description: "is required",
    });
  });

  it("hides unexpected errors behind a generic message with the request id", () => {
    const leaky = new Error("connect to postgres://app:hunter2@db failed");
    const ce = toConnectError(leaky, "req-1");
    expect(ce.code).toBe(Code.Internal);
    expect(ce.rawMessage).not.toContain("hunter2");
    expect(ce.rawMessage).toContain("req-1");
    expect(JSON.stringify(toRestError(leaky, "req-1").body)).not.toContain("hunter2");
  });

  it("keeps framework errors meaningful", () => {
    expect(toRestError(new ConnectError("bad", Code.InvalidArgument), "r").status).toBe(400);
  });

  it("a call its client gave up on is cancelled, not a server fault; deadlines and typed errors keep theirs", () => {
    const gone = new AbortController();
    gone.abort();
    // What a transport throws into the handler when the client has gone: a write into a dead stream.
    const writeError = Object.assign(new Error("The stream has been destroyed"), {
      code: "ERR_HTTP2_INVALID_STREAM",
    });
    expect(asBerthError(writeError).kind).toBe("internal");
    const cancelled = asBerthError(writeError, gone.signal);
    expect(cancelled.kind).toBe("cancelled");
    expect(isServerFault(cancelled)).toBe(false);
    expect(toConnectError(cancelled, "r").code).toBe(Code.Canceled);
    const reset = new AbortController();
    reset.abort(new ConnectError("stream reset", Code.Canceled));
    expect(asBerthError(writeError, reset.signal).kind).toBe("cancelled");
    const late = new AbortController();
    late.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
    expect(asBerthError(writeError, late.signal).kind).toBe("internal");
    expect(asBerthError(new NotFoundError("lease", "l"), gone.signal).kind).toBe("not_found");
    expect(asBerthError(new ConnectError("aborted", Code.Canceled)).kind).toBe("cancelled");
  });
});
