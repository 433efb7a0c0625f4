import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  type BerthError,
  ConflictError,
  CredentialIntegrityError,
  NotFoundError,
  ValidationError,
} from "../../src/errors/berth-error.js";
import { toConnectError, toRestError } from "../../src/errors/mapping.js";
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
});
