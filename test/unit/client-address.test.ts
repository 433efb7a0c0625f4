import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { clientAddresses } from "../../src/server/client-address.js";

const addresses = (list: string) =>
  clientAddresses(loadConfig({ BERTH_TRUSTED_PROXIES: list }).trustedProxies);

describe("the client's address behind trusted proxies", () => {
  it("takes the rightmost hop that is not a trusted proxy, from a trusted peer only", () => {
    const a = addresses("10.0.0.0/8, fd00::/8");
    expect(a.of("10.0.0.5", "203.0.113.7")).toBe("203.0.113.7");
    expect(a.of("10.0.0.5", "198.51.100.1, 203.0.113.7")).toBe("203.0.113.7");
    // A chain of trusted proxies is walked through.
    expect(a.of("10.0.0.5", "203.0.113.7, 10.1.1.1, 10.2.2.2")).toBe("203.0.113.7");
    expect(a.of("::ffff:10.0.0.5", "203.0.113.7")).toBe("203.0.113.7");
    expect(a.of("10.0.0.5", "::FFFF:203.0.113.7")).toBe("203.0.113.7");
    expect(a.of("fd00::1", "[2001:db8::7]:4711")).toBe("2001:db8::7");
    expect(a.of("10.0.0.5", "203.0.113.7:5555")).toBe("203.0.113.7");
    expect(a.of("10.0.0.5", ["198.51.100.1", "203.0.113.9"])).toBe("203.0.113.9");
    // Not trusted, no header, or nothing but proxies: the peer (or the last proxy) stands.
    expect(a.of("192.0.2.1", "203.0.113.7")).toBe("192.0.2.1");
    expect(a.of("10.0.0.5", undefined)).toBe("10.0.0.5");
    expect(a.of("10.0.0.5", "10.9.9.9")).toBe("10.9.9.9");
    // Garbage the proxy passed on: the last good hop stands, never the garbage.
    expect(a.of("10.0.0.5", "evil, 10.9.9.9")).toBe("10.9.9.9");
    expect(a.of("10.0.0.5", "not-an-address")).toBe("10.0.0.5");
    expect(a.isTrustedProxy("10.3.3.3")).toBe(true);
    expect(a.isTrustedProxy("192.0.2.1")).toBe(false);
  });

  it("trusts nobody by default", () => {
    const a = addresses("");
    expect(a.of("10.0.0.5", "203.0.113.7")).toBe("10.0.0.5");
    expect(a.isTrustedProxy("127.0.0.1")).toBe(false);
  });

  it("refuses host names and bad entries at start, naming them", () => {
    expect(() => loadConfig({ BERTH_TRUSTED_PROXIES: "lb.internal, 10.0.0.0/33" })).toThrow(
      /BERTH_TRUSTED_PROXIES: "10.0.0.0\/33": the prefix length[\s\S]*BERTH_TRUSTED_PROXIES: "lb.internal": not a CIDR or an IP address/,
    );
  });
});
