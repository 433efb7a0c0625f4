import { describe, expect, it } from "vitest";
import { hashPassword, verifyPassword } from "../../src/identity/passwords.js";

describe("password hashing", () => {
  it("verifies the right password and rejects others", async () => {
    const h = await hashPassword("correct horse");
    expect(h).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(h).not.toContain("correct");
    expect(await verifyPassword("correct horse", h)).toBe(true);
    expect(await verifyPassword("correct horsE", h)).toBe(false);
    expect(await verifyPassword("correct horse", "garbage")).toBe(false);
  });

  it("does not stall the event loop while hashing", async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await Promise.all([hashPassword("a"), hashPassword("b"), hashPassword("c")]);
    clearInterval(timer);
    // scrypt runs on libuv's pool; the loop kept turning meanwhile.
    expect(ticks).toBeGreaterThan(5);
  });
});
