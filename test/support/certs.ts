import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCertificates {
  dir: string;
  caPem: string;
  /** Server certificate for DNS:localhost only (no IP), signed by the CA. */
  serverCert: string;
  serverKey: string;
  /** The same name and CA, already expired. */
  expiredCert: string;
}

/**
 * A certificate chain made with the openssl CLI: a CA, a server certificate for `localhost`, and an
 * expired one. Files are owned by the postgres user (the server refuses a key others can read).
 */
export function makeCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), "berth-certs-"));
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-subj",
      "/CN=Berth Test CA",
      "-days",
      "2",
    ],
    { cwd: dir, stdio: "pipe" },
  );
  const chain = { dir, caPem: readFileSync(join(dir, "ca.crt"), "utf8") };
  const server = issueCertificate(chain, "server", { cn: "localhost", dns: ["localhost"] });
  // -days 0: valid from now until now, so expired a second later. Same key as the good one.
  issueCertificate(chain, "expired", { cn: "localhost", dns: ["localhost"], days: 0, keyFrom: server.key });
  chmodSync(dir, 0o755);
  chmodSync(server.key, 0o600);
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString());
    for (const f of ["server.key", "server.crt", "expired.crt", "ca.crt"]) chownSync(join(dir, f), uid, gid);
  }
  return {
    ...chain,
    serverCert: server.cert,
    serverKey: server.key,
    expiredCert: join(dir, "expired.crt"),
  };
}

/**
 * Another certificate from the chain's CA: a server certificate (SAN DNS names) or a client one
 * (a subject CN that names a service principal). Returns the PEM file paths.
 */
export function issueCertificate(
  certs: Pick<TestCertificates, "dir">,
  name: string,
  options: { cn: string; dns?: string[]; days?: number; clientAuth?: boolean; keyFrom?: string },
): { cert: string; key: string; certPem: string; keyPem: string } {
  const run = (...args: string[]) => execFileSync("openssl", args, { cwd: certs.dir, stdio: "pipe" });
  const key = options.keyFrom ?? join(certs.dir, `${name}.key`);
  run(
    "req",
    ...(options.keyFrom ? ["-new", "-key", key] : ["-newkey", "rsa:2048", "-nodes", "-keyout", key]),
    "-out",
    `${name}.csr`,
    "-subj",
    `/CN=${options.cn}`,
  );
  const ext = [
    ...(options.dns?.length ? [`subjectAltName=${options.dns.map((d) => `DNS:${d}`).join(",")}`] : []),
    ...(options.clientAuth ? ["extendedKeyUsage=clientAuth"] : []),
  ];
  writeFileSync(join(certs.dir, `${name}.ext`), `${ext.join("\n")}\n`);
  run(
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    `${name}.crt`,
    "-days",
    String(options.days ?? 2),
    "-extfile",
    `${name}.ext`,
  );
  const cert = join(certs.dir, `${name}.crt`);
  return { cert, key, certPem: readFileSync(cert, "utf8"), keyPem: readFileSync(key, "utf8") };
}
