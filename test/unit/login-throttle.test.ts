import { describe, expect, it } from "vitest";
import { LoginThrottle } from "../../src/identity/login-throttle.js";

describe("login throttle", () => {
  it("locks an account at the limit until its oldest failure leaves the window", () => {
    let now = 1_000_000;
    const t = new LoginThrottle({ limit: 3, windowMs: 60_000, now: () => now });
    t.recordFailure("ann");
    now += 10_000;
    t.recordFailure("ann");
    t.recordFailure("ann");
    expect(t.lockedForMs("ann")).toBe(50_000);
    expect(t.lockedForMs("other")).toBe(0);
    now += 50_000;
    expect(t.lockedForMs("ann")).toBe(0);
  });

  it("forgets failures after a success", () => {
    const t = new LoginThrottle({ limit: 2, windowMs: 60_000 });
    t.recordFailure("bo");
    t.recordSuccess("bo");
    t.recordFailure("bo");
    expect(t.lockedForMs("bo")).toBe(0);
  });
});
