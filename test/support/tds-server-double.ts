import { createServer, type Socket } from "node:net";

/**
 * A test double of SQL Server for the real tedious driver, written from [MS-TDS]: PRELOGIN
 * (ENCRYPT_NOT_SUP), LOGIN7 (the obfuscated password checked: LOGINACK, or ERROR 18456), then
 * requests answered with result sets made up from markers in the statement text:
 *   `rows:N`          N rows of (n int, label nvarchar), sent as fast as the client reads them
 *   `SERVERPROPERTY`  one row of two nvarchar (version, edition)
 *   `types:1`         one row of bigint, decimal(18,4), money, uniqueidentifier, datetime2(7),
 *                     datetimeoffset(7), varbinary, bit, each with a known value (TYPE_VALUES)
 *   `WAITFOR`         no answer until the client sends an attention
 *   anything else     DONE (the initial SET batch, resets, SELECT 1 answers one int row)
 * Transaction manager requests (packet type 14) are answered with the ENVCHANGE a server sends
 * (begin: a new 8-byte descriptor; commit, rollback: the old one) and a DONE.
 * An attention (packet type 6) stops a result being sent: the response in progress (or the one
 * still owed) is ended with a DONE, and the acknowledgement follows as a message of its own, a DONE
 * with DONE_ATTN, as [MS-TDS] 2.2.1.7 has the server do.
 * It is not SQL Server: no parsing of SQL, no transactions, one request at a time per session.
 */
export interface TdsServerDouble {
  port: number;
  /** Transaction manager requests seen: begin (with its isolation level), commit, rollback. */
  transactions: { op: "begin" | "commit" | "rollback"; isolation?: number }[];
  /** Rows written to sockets so far (to see backpressure hold the server). */
  rowsSent: number;
  attentions: number;
  resets: number;
  close(): Promise<void>;
}

const PACKET_SIZE = 4096;
const ucs2 = (s: string) => Buffer.from(s, "utf16le");
const u16 = (n: number) => Buffer.from([n & 0xff, (n >> 8) & 0xff]);
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const bVarChar = (s: string) => Buffer.concat([Buffer.from([s.length]), ucs2(s)]);
const COLLATION = Buffer.from([0x09, 0x04, 0xd0, 0x00, 0x34]);

function done(status: number, count = 0, token = 0xfd): Buffer {
  const b = Buffer.alloc(13);
  b[0] = token;
  b.writeUInt16LE(status, 1);
  b.writeUInt16LE(0xc1, 3);
  b.writeBigUInt64LE(BigInt(count), 5);
  return b;
}

function colmetadata(columns: ("int" | "nvarchar")[], names: string[]): Buffer {
  const parts = [Buffer.from([0x81]), u16(columns.length)];
  columns.forEach((c, i) => {
    parts.push(u32(0), u16(0x0001)); // user type, flags: nullable
    parts.push(
      c === "int" ? Buffer.from([0x26, 4]) : Buffer.concat([Buffer.from([0xe7]), u16(8000), COLLATION]),
    );
    parts.push(bVarChar(names[i]!));
  });
  return Buffer.concat(parts);
}

function row(values: (number | string)[]): Buffer {
  const parts = [Buffer.from([0xd1])];
  for (const v of values) {
    if (typeof v === "number") parts.push(Buffer.from([4]), u32(v));
    else parts.push(u16(Buffer.byteLength(v, "utf16le")), ucs2(v));
  }
  return Buffer.concat(parts);
}

/** Days from 0001-01-01 (TDS's date epoch) to a UTC date. */
function tdsDays(y: number, m: number, d: number): number {
  const epoch = new Date(0);
  epoch.setUTCFullYear(1, 0, 1);
  const day = new Date(0);
  day.setUTCFullYear(y, m - 1, d);
  return Math.round((day.getTime() - epoch.getTime()) / 86_400_000);
}

const le = (n: bigint, bytes: number) => {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) b[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return b;
};

/** The `types:1` row: [MS-TDS] TYPE_INFO for each column, and its value as the server encodes it. */
const TYPE_COLUMNS: [string, Uint8Array, Uint8Array][] = [
  ["big", Buffer.from([0x26, 8]), Buffer.concat([Buffer.from([8]), le(9007199254740993n, 8)])],
  // decimal(18,4): a sign byte (1 = positive), then the integer 12345.6789 × 10^4.
  ["dec", Buffer.from([0x6a, 9, 18, 4]), Buffer.concat([Buffer.from([9, 1]), le(123456789n, 8)])],
  // money: the value × 10^4 as int64, high 32 bits first.
  ["cash", Buffer.from([0x6e, 8]), Buffer.concat([Buffer.from([8]), le(0n, 4), le(2147483647n, 4)])],
  [
    "id",
    Buffer.from([0x24, 16]),
    Buffer.concat([Buffer.from([16]), Buffer.from("FF19966F868B11D0B42D00C04FC964FF", "hex")]),
  ],
  // datetime2(7) 2024-02-29 23:59:58.1234567: 100 ns units since midnight (5 bytes), then days.
  [
    "at",
    Buffer.from([0x2a, 7]),
    Buffer.concat([
      Buffer.from([8]),
      le(86398n * 10_000_000n + 1234567n, 5),
      le(BigInt(tdsDays(2024, 2, 29)), 3),
    ]),
  ],
  // datetimeoffset(7) 2024-01-02T05:04:05.0060007+02:00: the UTC time and date, then the offset in minutes.
  [
    "seen",
    Buffer.from([0x2b, 7]),
    Buffer.concat([
      Buffer.from([10]),
      le(BigInt(3 * 3600 + 4 * 60 + 5) * 10_000_000n + 60007n, 5),
      le(BigInt(tdsDays(2024, 1, 2)), 3),
      le(120n, 2),
    ]),
  ],
  [
    "blob",
    Buffer.concat([Buffer.from([0xa5]), u16(100)]),
    Buffer.concat([u16(3), Buffer.from([0x00, 0xbe, 0xef])]),
  ],
  ["flag", Buffer.from([0x68, 1]), Buffer.from([1, 1])],
];

function typesResult(): Buffer {
  const meta: Uint8Array[] = [Buffer.from([0x81]), u16(TYPE_COLUMNS.length)];
  for (const [name, info] of TYPE_COLUMNS) meta.push(u32(0), u16(0x0001), info, bVarChar(name));
  return Buffer.concat([
    ...meta,
    Buffer.from([0xd1]),
    ...TYPE_COLUMNS.map(([, , value]) => value),
    done(0x0010, 1),
  ]);
}

export async function startTdsServerDouble(password: string): Promise<TdsServerDouble> {
  const sockets = new Set<Socket>();
  const state: TdsServerDouble = {
    port: 0,
    rowsSent: 0,
    attentions: 0,
    resets: 0,
    transactions: [],
    close: async () => {},
  };
  let nextDescriptor = 1n;

  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let buffered = Buffer.alloc(0);
    let message: Buffer[] = [];
    let socketTransaction: bigint | undefined;
    /** The request being answered: its rows stop when cancelled; `stopped` ends its response. */
    let current: { cancelled: boolean; stopped?: () => Promise<void> } | undefined;
    const acknowledgeAttention = async () => {
      await send(done(0x0000)); // the end of the response to the cancelled request
      await send(done(0x0020)); // DONE_ATTN
    };

    /** Sends one TDS message, cut into packets, waiting whenever the socket says it is full. */
    const send = async (payload: Buffer, last = true) => {
      for (let at = 0; at < payload.length || at === 0; at += PACKET_SIZE - 8) {
        const chunk = payload.subarray(at, at + PACKET_SIZE - 8);
        const header = Buffer.alloc(8);
        header[0] = 0x04;
        header[1] = last && at + PACKET_SIZE - 8 >= payload.length ? 0x01 : 0x00;
        header.writeUInt16BE(8 + chunk.length, 2);
        header[6] = 1;
        if (!socket.write(Buffer.concat([header, chunk]))) await new Promise((r) => socket.once("drain", r));
        if (payload.length === 0) break;
      }
    };

    const answer = async (type: number, body: Buffer, status: number) => {
      if (status & 0x08) state.resets++;
      const text = body.toString("utf16le") + body.subarray(1).toString("utf16le");
      if (type === 0x12) {
        const p = Buffer.alloc(18);
        p.writeUInt16BE(11, 1);
        p.writeUInt16BE(6, 3);
        p[5] = 0x01;
        p.writeUInt16BE(17, 6);
        p.writeUInt16BE(1, 8);
        p[10] = 0xff;
        p[17] = 0x02; // ENCRYPT_NOT_SUP
        return send(p);
      }
      if (type === 0x10) {
        // LOGIN7: the password is at ibPassword/cchPassword, each byte XOR 0xA5 then nibbles swapped.
        const at = body.readUInt16LE(44);
        const raw = Buffer.from(body.subarray(at, at + body.readUInt16LE(46) * 2));
        for (let i = 0; i < raw.length; i++) {
          const x = raw[i]! ^ 0xa5;
          raw[i] = ((x & 0x0f) << 4) | (x >> 4);
        }
        if (raw.toString("utf16le") !== password) {
          const msg = "Login failed for user 'app'.";
          const err = Buffer.concat([
            u32(18456),
            Buffer.from([1, 14]),
            u16(msg.length),
            ucs2(msg),
            bVarChar("DOUBLE"),
            Buffer.from([0]),
            u32(0),
          ]);
          return send(Buffer.concat([Buffer.from([0xaa]), u16(err.length), err, done(0x0002)]));
        }
        const ack = Buffer.concat([
          Buffer.from([1, 0x74, 0, 0, 4]),
          bVarChar("Microsoft SQL Server"),
          Buffer.from([16, 0, 0x0f, 0xa0]),
        ]);
        return send(Buffer.concat([Buffer.from([0xad]), u16(ack.length), ack, done(0)]));
      }
      if (type === 0x0e) {
        // Transaction manager: ALL_HEADERS (its length first), then the request type.
        const at = body.readUInt32LE(0);
        const request = body.readUInt16LE(at);
        const envchange = (kind: number, next: bigint | undefined, old: bigint | undefined) => {
          const value = (d: bigint | undefined) =>
            d === undefined ? Buffer.from([0]) : Buffer.concat([Buffer.from([8]), le(d, 8)]);
          const data = Buffer.concat([Buffer.from([kind]), value(next), value(old)]);
          return Buffer.concat([Buffer.from([0xe3]), u16(data.length), data]);
        };
        if (request === 5) {
          state.transactions.push({ op: "begin", isolation: body[at + 2] });
          const d = nextDescriptor++;
          socketTransaction = d;
          return send(Buffer.concat([envchange(8, d, undefined), done(0)]));
        }
        const op = request === 7 ? "commit" : "rollback";
        state.transactions.push({ op });
        const old = socketTransaction;
        socketTransaction = undefined;
        return send(Buffer.concat([envchange(request === 7 ? 9 : 10, undefined, old), done(0)]));
      }
      // SQL batch (1) or RPC (3): the statement's text is somewhere in the body, UTF-16.
      const n = /rows:(\d+)/.exec(text);
      if (n) {
        const total = Number(n[1]);
        const job = { cancelled: false };
        current = job;
        await send(colmetadata(["int", "nvarchar"], ["n", "label"]), false);
        let batch: Buffer[] = [];
        let i = 0;
        for (; i < total && !job.cancelled; i++) {
          batch.push(row([i + 1, `row-${i + 1}`]));
          if (batch.length === 100) {
            await send(Buffer.concat(batch), false);
            state.rowsSent += batch.length;
            batch = [];
          }
        }
        if (!job.cancelled) {
          state.rowsSent += batch.length;
          await send(Buffer.concat([...batch, done(0x0010, total)]));
        } else await acknowledgeAttention();
        current = undefined;
        return;
      }
      if (/types:1/.test(text)) return send(typesResult());
      if (/SERVERPROPERTY/.test(text)) {
        return send(
          Buffer.concat([
            colmetadata(["nvarchar", "nvarchar"], ["", ""]),
            row(["16.0.4000.1", "Developer Edition (64-bit)"]),
            done(0x0010, 1),
          ]),
        );
      }
      if (/WAITFOR/.test(text)) {
        // No answer until the attention; then the owed response and the acknowledgement.
        current = { cancelled: false, stopped: acknowledgeAttention };
        return;
      }
      if (/SELECT 1\b/.test(text))
        return send(Buffer.concat([colmetadata(["int"], [""]), row([1]), done(0x0010, 1)]));
      return send(done(0));
    };

    socket.on("data", (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 8 && buffered.length >= buffered.readUInt16BE(2)) {
        const length = buffered.readUInt16BE(2);
        const type = buffered[0]!;
        const status = buffered[1]!;
        message.push(buffered.subarray(8, length));
        buffered = buffered.subarray(length);
        if (type === 0x06) {
          state.attentions++;
          message = [];
          const job = current;
          if (job?.stopped) {
            current = undefined;
            void job.stopped();
          } else if (job)
            job.cancelled = true; // the rows loop ends its response and acknowledges
          // Nothing in progress (the response was already complete): the acknowledgement alone.
          else void send(done(0x0020));
          continue;
        }
        if ((status & 0x01) === 0) continue;
        const body = Buffer.concat(message);
        message = [];
        void answer(type, body, status);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  state.port = (server.address() as { port: number }).port;
  state.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return state;
}
