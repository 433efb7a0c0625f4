import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/config.js";
import { createTargetPolicy, TargetDeniedError } from "../../src/connections/target-policy.js";

/** The policy a Berth started with these variables would enforce. */
const policy = (env: Record<string, string> = {}) => createTargetPolicy(loadConfig(env).targets);

/** Why a target is refused ("" when it is allowed). */
function verdict(p: ReturnType<typeof policy>, host: string, addresses: string[] = [host]): string {
  try {
    p.check(host, addresses);
    return "";
  } catch (err) {
    expect(err).toBeInstanceOf(TargetDeniedError);
    return (err as Error).message;
  }
}

describe("BERTH_ALLOWED_TARGETS / BERTH_DENIED_TARGETS at start-up", () => {
  it("refuses a bad entry, naming the variable, the entry and what is expected", () => {
    try {
      loadConfig({
        BERTH_DENIED_TARGETS: "10.0.0.0/33, 300.1.1.1/8, fd00::/129",
        BERTH_ALLOWED_TARGETS: "db_1.internal,*.ok.internal",
      });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const msg = (err as Error).message;
      expect(msg).toContain(
        'BERTH_DENIED_TARGETS: "10.0.0.0/33": the prefix length must be a whole number from 0 to 32',
      );
      expect(msg).toContain(
        'BERTH_DENIED_TARGETS: "300.1.1.1/8": "300.1.1.1" is not an IPv4 or IPv6 address',
      );
      expect(msg).toContain(
        'BERTH_DENIED_TARGETS: "fd00::/129": the prefix length must be a whole number from 0 to 128',
      );
      expect(msg).toContain('BERTH_ALLOWED_TARGETS: "db_1.internal": not a CIDR');
      expect(msg).not.toContain("ok.internal");
    }
  });

  it("refuses an allow-list with no entry (it would allow nothing)", () => {
    expect(() => loadConfig({ BERTH_ALLOWED_TARGETS: " , ," })).toThrow(
      /BERTH_ALLOWED_TARGETS: lists no target/,
    );
  });

  it("accepts CIDRs, single addresses (bracketed IPv6 too), names and wildcards", () => {
    const c = loadConfig({
      BERTH_DENIED_TARGETS: "10.0.0.0/8, 192.168.1.7, [fd00::1], fd00::/8, DB.Internal., *.db.internal",
    });
    expect(c.targets.denied.map((r) => r.kind)).toEqual(["cidr", "cidr", "cidr", "cidr", "name", "name"]);
    expect(c.targets.allowed).toBeUndefined();
  });
});

describe("the default denials", () => {
  const p = policy();

  it.each([
    ["169.254.169.254"],
    ["169.254.10.20"],
    ["fe80::1"],
    ["fd00:ec2::254"],
    ["100.100.100.200"],
    ["::ffff:169.254.169.254"],
    ["::ffff:a9fe:a9fe"],
  ])("denies %s", (address) => {
    expect(verdict(p, address)).toMatch(/denied by default/);
  });

  it("denies the GCP metadata name whatever it resolves to, and any name resolving to a metadata address", () => {
    expect(verdict(p, "metadata.google.internal", ["10.0.0.1"])).toMatch(/denied by default/);
    expect(verdict(p, "METADATA.google.internal.", ["10.0.0.1"])).toMatch(/denied by default/);
    expect(verdict(p, "innocent.example.com", ["10.0.0.1", "169.254.169.254"])).toBe(
      "Berth may not connect to innocent.example.com (169.254.169.254): link-local and cloud metadata addresses are denied by default",
    );
  });

  it("allows everything else", () => {
    for (const a of ["127.0.0.1", "10.1.2.3", "::1", "2001:db8::1", "100.100.100.201"])
      expect(verdict(p, a)).toBe("");
  });

  it("is lifted only by an allowed entry naming it (or a part of it) exactly", () => {
    // A broad allow-list does not reopen metadata or link-local.
    const broad = policy({ BERTH_ALLOWED_TARGETS: "0.0.0.0/0,::/0,*.internal" });
    expect(verdict(broad, "169.254.169.254")).toMatch(/denied by default/);
    expect(verdict(broad, "fe80::1")).toMatch(/denied by default/);
    expect(verdict(broad, "metadata.google.internal", ["10.0.0.1"])).toMatch(/denied by default/);
    expect(verdict(broad, "10.0.0.1")).toBe("");
    // Naming the link-local range opens it, but not the metadata address listed on its own.
    const linkLocal = policy({ BERTH_ALLOWED_TARGETS: "0.0.0.0/0,169.254.0.0/16" });
    expect(verdict(linkLocal, "169.254.10.20")).toBe("");
    expect(verdict(linkLocal, "169.254.169.254")).toMatch(/denied by default/);
    // Naming one host inside a default range opens that host alone.
    const one = policy({ BERTH_ALLOWED_TARGETS: "0.0.0.0/0,169.254.169.254,metadata.google.internal" });
    expect(verdict(one, "169.254.169.254")).toBe("");
    expect(verdict(one, "metadata.google.internal", ["169.254.169.254"])).toBe("");
    expect(verdict(one, "169.254.169.253")).toMatch(/denied by default/);
  });
});

describe("the operator's rules", () => {
  it("BERTH_DENIED_TARGETS: CIDRs against every resolved address, patterns against the name", () => {
    const p = policy({ BERTH_DENIED_TARGETS: "10.0.0.0/8,fd00::/8,*.db.internal,exact.example.com" });
    expect(verdict(p, "10.9.9.9")).toMatch(/BERTH_DENIED_TARGETS denies it/);
    expect(verdict(p, "::ffff:10.9.9.9")).toMatch(/BERTH_DENIED_TARGETS/);
    expect(verdict(p, "fd12::1")).toMatch(/BERTH_DENIED_TARGETS/);
    expect(verdict(p, "ok.example.com", ["192.168.0.1", "10.0.0.1"])).toMatch(
      /ok\.example\.com \(10\.0\.0\.1\)/,
    );
    expect(verdict(p, "pg.DB.internal.", ["192.168.0.1"])).toMatch(/BERTH_DENIED_TARGETS/);
    expect(verdict(p, "exact.example.com", ["192.168.0.1"])).toMatch(/BERTH_DENIED_TARGETS/);
    // A wildcard matches below its suffix only; an exact name only itself.
    expect(verdict(p, "db.internal", ["192.168.0.1"])).toBe("");
    expect(verdict(p, "sub.exact.example.com", ["192.168.0.1"])).toBe("");
  });

  it("an IPv6 address that carries an IPv4 one (NAT64, SIIT, 6to4, IPv4-compatible) is held to that address's rules too", () => {
    const open = policy();
    for (const a of [
      "64:ff9b::a9fe:a9fe",
      "64:ff9b::169.254.169.254",
      "2002:a9fe:a9fe::1",
      "::169.254.169.254",
      // SIIT, and NAT64's local-use prefix at /96 and at /48 (RFC 6052 skips bits 64–71).
      "::ffff:0:a9fe:a9fe",
      "64:ff9b:1::a9fe:a9fe",
      "64:ff9b:1:a9fe:a9:fe00::",
    ])
      expect(verdict(open, a), a).toMatch(/denied by default/);
    const p = policy({ BERTH_DENIED_TARGETS: "10.0.0.0/8" });
    for (const a of [
      "64:ff9b::a00:1",
      "64:FF9B::10.1.2.3",
      "2002:0a01:0203:1::5",
      "::10.9.9.9",
      "64:ff9b:1::a00:1",
    ])
      expect(verdict(p, a), a).toMatch(/BERTH_DENIED_TARGETS/);
    // Other IPv6 addresses, and these forms around allowed IPv4 hosts, are untouched.
    for (const a of [
      "64:ff9b::c0a8:101",
      "2002:c0a8:101::1",
      "2001:db8::a00:1",
      "64:ff9b:1::c0a8:101",
      "::1",
    ])
      expect(verdict(p, a), a).toBe("");
  });

  it("0.0.0.0 and :: reach this machine: they are held to the loopback rules", () => {
    const p = policy({ BERTH_DENIED_TARGETS: "127.0.0.0/8,::1" });
    expect(verdict(p, "0.0.0.0")).toMatch(/BERTH_DENIED_TARGETS/);
    expect(verdict(p, "::")).toMatch(/BERTH_DENIED_TARGETS/);
  });

  it("BERTH_ALLOWED_TARGETS: a target must match it, by name or with every address", () => {
    const p = policy({ BERTH_ALLOWED_TARGETS: "192.168.0.0/16,*.db.internal" });
    expect(verdict(p, "192.168.4.4")).toBe("");
    expect(verdict(p, "pg.db.internal", ["172.16.0.1"])).toBe("");
    expect(verdict(p, "172.16.0.1")).toBe(
      "Berth may not connect to 172.16.0.1: BERTH_ALLOWED_TARGETS does not list it",
    );
    expect(verdict(p, "mixed.example.com", ["192.168.0.1", "172.16.0.1"])).toMatch(/does not list it/);
  });

  it("BERTH_DENIED_TARGETS wins over BERTH_ALLOWED_TARGETS", () => {
    const p = policy({
      BERTH_ALLOWED_TARGETS: "10.0.0.0/8,*.db.internal",
      BERTH_DENIED_TARGETS: "10.0.0.5,bad.db.internal",
    });
    expect(verdict(p, "10.0.0.6")).toBe("");
    expect(verdict(p, "10.0.0.5")).toMatch(/BERTH_DENIED_TARGETS/);
    expect(verdict(p, "bad.db.internal", ["10.0.0.7"])).toMatch(/BERTH_DENIED_TARGETS/);
    expect(verdict(p, "good.db.internal", ["10.0.0.5"])).toMatch(/BERTH_DENIED_TARGETS/);
  });

  it("resolve() checks the name before looking it up, then every address it resolves to", async () => {
    // The name does not resolve here: being refused as target_denied, not host_not_found, shows
    // the name was refused before any lookup.
    await expect(policy().resolve("metadata.google.internal")).rejects.toThrow(TargetDeniedError);
    const p = policy({ BERTH_DENIED_TARGETS: "127.0.0.0/8" });
    await expect(p.resolve("localhost")).rejects.toThrow(/localhost \(127\.0\.0\.1\): BERTH_DENIED_TARGETS/);
    await expect(p.resolve("[::1]")).resolves.toEqual(["::1"]);
    // Spellings the resolver turns into a loopback address are judged by that address.
    await expect(p.resolve("127.1")).rejects.toThrow(/127\.1 \(127\.0\.0\.1\): BERTH_DENIED_TARGETS/);
    await expect(p.resolve("2130706433")).rejects.toThrow(TargetDeniedError);
    await expect(policy().resolve("localhost")).resolves.toContain("127.0.0.1");
  });
});
