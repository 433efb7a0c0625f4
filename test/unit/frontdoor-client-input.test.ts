import { describe, expect, it } from "vitest";
import { ClientInput } from "../../src/frontdoor/client-input.js";
import { message } from "../../src/frontdoor/wire.js";

describe("ClientInput", () => {
  const q = (sql: string) => message("Q", Buffer.from(`${sql}\0`));

  it("answers a chunk of whole messages as it came (no copy)", () => {
    const input = new ClientInput();
    const chunk = Buffer.concat([q("select 1"), q("select 2")]);
    input.push(chunk);
    expect(input.firstChunk()).toBe(chunk);
    input.consumedFirst(chunk.length);
    expect(input.bytes).toBe(0);
  });

  it("joins exactly one message split over chunks at every cut, header included", () => {
    const all = Buffer.concat([q("select 'a long enough statement'"), q("select 2")]);
    for (let cut = 1; cut < all.length; cut++) {
      const input = new ClientInput();
      input.push(all.subarray(0, cut));
      input.push(all.subarray(cut));
      const first = input.firstChunk();
      const length = input.head().readInt32BE(1) + 1;
      expect(first.subarray(0, length)).toEqual(q("select 'a long enough statement'"));
      input.consumedFirst(length);
      expect(input.bytes).toBe(all.length - length);
      expect(input.take(input.bytes)).toEqual(q("select 2"));
    }
  });

  it("keeps a partial message after the handled ones", () => {
    const input = new ClientInput();
    const whole = q("select 1");
    input.push(Buffer.concat([whole, q("select 2").subarray(0, 3)]));
    input.firstChunk();
    input.consumedFirst(whole.length);
    expect(input.bytes).toBe(3);
  });
});
