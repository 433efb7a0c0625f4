/**
 * `npm run bench -- <name>`: runs one benchmark from test/bench. Benchmarks print numbers and
 * ratios against the direct driver measured in the same run; they assert nothing.
 */
const BENCHES: Record<string, string> = {
  "connection-test": "./connection-test-latency.js",
  broker: "./broker-bench.js",
  frontdoor: "./frontdoor-bench.js",
  shared: "./shared-bench.js",
  "execute-profile": "./execute-profile.js",
  session: "./session-bench.js",
};

const name = process.argv[2];
if (!name || !BENCHES[name]) {
  console.error(`usage: npm run bench -- <${Object.keys(BENCHES).join("|")}>`);
  process.exit(2);
}
await import(BENCHES[name]!);
