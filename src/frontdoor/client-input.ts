/**
 * What a client sent that is not handled yet: whole chunks as they came, so that a chunk of whole
 * messages can be forwarded as it is (one write, no copy); a message split over chunks is joined
 * once, when all of it is there.
 */
export class ClientInput {
  #chunks: Buffer[] = [];
  #bytes = 0;

  get bytes(): number {
    return this.#bytes;
  }

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
  }

  /** The first message's header (type byte and length) is readable from this buffer; at least 5 bytes must be pending. */
  head(): Buffer {
    const first = this.#chunks[0]!;
    if (first.length >= 5) return first;
    const joined = Buffer.concat(this.#chunks);
    this.#chunks = [joined];
    return joined;
  }

  /** Removes and answers the first `n` bytes. */
  take(n: number): Buffer {
    const first = this.#chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.#chunks);
      out = all.subarray(0, n);
      this.#chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.#bytes -= n;
    return out;
  }

  /**
   * The first chunk, starting with a whole message: when the first message spans chunks, exactly it
   * is joined into a chunk of its own. At least one whole message must be pending.
   */
  firstChunk(): Buffer {
    const chunk = this.#chunks[0]!;
    if (chunk.length >= 5 && chunk.length >= chunk.readInt32BE(1) + 1) return chunk;
    const joined = this.take(this.head().readInt32BE(1) + 1);
    this.#chunks.unshift(joined);
    this.#bytes += joined.length;
    return joined;
  }

  /** The first chunk was handled up to `at`; what is left of it (a partial message) stays first. */
  consumedFirst(at: number): void {
    const chunk = this.#chunks.shift()!;
    this.#bytes -= chunk.length;
    if (at < chunk.length) {
      this.#chunks.unshift(chunk.subarray(at));
      this.#bytes += chunk.length - at;
    }
  }
}
