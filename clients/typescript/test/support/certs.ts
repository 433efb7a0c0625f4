import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Issued {
  cert: string;
  key: string;
  certPem: string;
  keyPem: string;
}

/**
 * A CA made with the openssl CLI, a server certificate for `localhost`, and client certificates
 * whose subject CN names a service token (Berth's mutual TLS).
 */
export function makeCa() {
  const dir = mkdtempSync(join(tmpdir(), "berth-sdk-certs-"));
  const run = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  run(
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
    "/CN=Berth SDK Test CA",
    "-days",
    "2",
  );
  const issue = (name: string, cn: string, ext: string): Issued => {
    run(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${cn}`,
    );
    writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
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
      "2",
      "-extfile",
      `${name}.ext`,
    );
    const cert = join(dir, `${name}.crt`);
    const key = join(dir, `${name}.key`);
    return { cert, key, certPem: readFileSync(cert, "utf8"), keyPem: readFileSync(key, "utf8") };
  };
  return {
    dir,
    caFile: join(dir, "ca.crt"),
    caPem: readFileSync(join(dir, "ca.crt"), "utf8"),
    server: () => issue("server", "localhost", "subjectAltName=DNS:localhost"),
    client: (name: string, cn: string) => issue(name, cn, "extendedKeyUsage=clientAuth"),
  };
}
