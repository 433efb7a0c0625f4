import { describe, expect, it } from "vitest";
import {
  BundleError,
  HEADER_BYTES,
  MAX_BUNDLE_BYTES,
  openBundle,
  type ScryptParams,
  sealBundle,
} from "../../src/connections/bundle-format.js";
import { parsePayload } from "../../src/connections/bundle-payload.js";

// The smallest cost the format accepts, so that trying every byte stays quick; the default is tested once.
const FAST: ScryptParams = { log2N: 14, r: 8, p: 1 };
const PASSPHRASE = "correct horse battery staple";
const CANARY = "bundle-canary-pw-5d1e0c7a";

async function refusal(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BundleError);
  return String((err as BundleError).details.reason);
}

describe("the bundle file format", () => {
  it("round-trips with the default scrypt cost, and says so in its header", async () => {
    const payload = { secret: CANARY, n: [1, 2, 3] };
    const bundle = await sealBundle(payload, PASSPHRASE);
    expect(bundle.subarray(0, 8).toString("ascii")).toBe("BERTHBDL");
    expect([...bundle.subarray(8, 13)]).toEqual([1, 1, 17, 8, 1]);
    expect(await openBundle(bundle, PASSPHRASE)).toEqual(payload);
  });

  it("holds no secret in clear: not the password, not its base64 or hex, not the passphrase", async () => {
    const bundle = await sealBundle({ password: CANARY }, PASSPHRASE, FAST);
    const forms = [
      CANARY,
      Buffer.from(CANARY).toString("base64"),
      Buffer.from(CANARY).toString("base64url"),
      Buffer.from(CANARY).toString("hex"),
      PASSPHRASE,
    ];
    for (const view of [bundle.toString("latin1"), bundle.toString("base64"), bundle.toString("hex")])
      for (const form of forms) expect(view).not.toContain(form);
    // Two bundles of the same payload share nothing but the header's fixed part (fresh salt and nonce).
    const again = await sealBundle({ password: CANARY }, PASSPHRASE, FAST);
    expect(again.subarray(13).equals(bundle.subarray(13))).toBe(false);
  });

  it("refuses a wrong passphrase with a typed reason", async () => {
    const bundle = await sealBundle({ a: 1 }, PASSPHRASE, FAST);
    expect(await refusal(openBundle(bundle, `${PASSPHRASE}!`))).toBe("bundle_authentication_failed");
    expect(await refusal(openBundle(bundle, ""))).toBe("bundle_authentication_failed");
  });

  it("refuses a flipped bit anywhere in the file: header, ciphertext and tag", async () => {
    const bundle = await sealBundle({ a: CANARY }, PASSPHRASE, FAST);
    const reasons = new Map<number, string>();
    for (let i = 0; i < bundle.length; i++) {
      const altered = Buffer.from(bundle);
      altered[i]! ^= 0x01;
      reasons.set(i, await refusal(openBundle(altered, PASSPHRASE)));
    }
    // Each region refuses for its own reason; a KDF parameter moved within bounds fails the tag.
    expect(reasons.get(0)).toBe("bundle_malformed");
    expect(reasons.get(8)).toBe("bundle_version_unsupported");
    expect(reasons.get(9)).toBe("bundle_kdf_unsupported");
    expect(reasons.get(20)).toBe("bundle_authentication_failed"); // salt
    expect(reasons.get(HEADER_BYTES - 1)).toBe("bundle_malformed"); // length
    expect(reasons.get(HEADER_BYTES)).toBe("bundle_authentication_failed"); // ciphertext
    expect(reasons.get(bundle.length - 1)).toBe("bundle_authentication_failed"); // tag
  }, 60_000);

  it("refuses a truncated or extended file before deriving anything", async () => {
    const bundle = await sealBundle({ a: 1 }, PASSPHRASE, FAST);
    for (const n of [0, 7, HEADER_BYTES, bundle.length - 16, bundle.length - 1])
      expect(await refusal(openBundle(bundle.subarray(0, n), PASSPHRASE))).toBe("bundle_malformed");
    expect(await refusal(openBundle(Buffer.concat([bundle, Buffer.from([0])]), PASSPHRASE))).toBe(
      "bundle_malformed",
    );
  });

  it("refuses key derivation settings outside its bounds (a header asking for 2^30 work is not obeyed)", async () => {
    const bundle = await sealBundle({ a: 1 }, PASSPHRASE, FAST);
    for (const [offset, value] of [
      [10, 30],
      [10, 10],
      [11, 200],
      [12, 9],
      // Within the old bounds (2^20, r=4, p=4: 512 MiB) yet more than Berth writes: refused unread.
      [10, 18],
      [10, 20],
      [11, 9],
      [11, 16],
      [12, 2],
      [12, 4],
    ] as const) {
      const altered = Buffer.from(bundle);
      altered[offset] = value;
      expect(await refusal(openBundle(altered, PASSPHRASE))).toBe("bundle_kdf_unsupported");
    }
  });

  it("refuses a passphrase shorter than 12 characters, and a file over the cap", async () => {
    expect(await refusal(sealBundle({}, "short-pass1"))).toBe("passphrase_too_short");
    expect(await refusal(sealBundle({ big: "x".repeat(MAX_BUNDLE_BYTES) }, PASSPHRASE, FAST))).toBe(
      "bundle_too_large",
    );
    expect(await refusal(openBundle(Buffer.alloc(MAX_BUNDLE_BYTES + 1), PASSPHRASE))).toBe(
      "bundle_too_large",
    );
  });

  it("an authentic payload of another shape is refused by name of field, never by value", () => {
    let err: unknown;
    try {
      parsePayload({
        format: "berth.bundle",
        version: 1,
        exportedAt: "",
        exportedBy: "",
        connections: [{ spec: { password: 5, x: CANARY }, grants: [] }],
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BundleError);
    expect((err as BundleError).message).toMatch(/connections\.0\.spec/);
    expect((err as BundleError).message).not.toContain(CANARY);
  });
});
