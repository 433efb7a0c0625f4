import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ConnectionSpecSchema } from "../../../../src/gen/berth/v1/types_pb.js";
import { type Connection, Engine, SslMode } from "../../../../src/gen/berth/v1/types_pb.js";

export type Spec = MessageInitShape<typeof ConnectionSpecSchema>;

/** The form's fields, as the inputs hold them (numbers as text until sent). */
export interface FormState {
  name: string;
  type: Engine;
  server: string;
  port: string;
  database: string;
  username: string;
  password: string;
  sslMode: SslMode;
  caCertificate: string;
  clientCertificate: string;
  /** Write-only like the password: empty on edit means keep the stored key. */
  clientKey: string;
  tlsServerName: string;
  instanceName: string;
  strictEncryption: boolean;
  oracleSid: string;
  allowCleartextPassword: boolean;
  frontDoorPoolMode: string;
  replicas: { server: string; port: string }[];
  maxReplicaLagMs: string;
  maxPoolSize: string;
  minPoolSize: string;
  acquireTimeoutMs: string;
  idleTimeoutMs: string;
  maxLifetimeMs: string;
  description: string;
  /** Reach the database through an SSH bastion (the section's switch). */
  ssh: boolean;
  sshHost: string;
  sshPort: string;
  sshUser: string;
  /** Write-only like the password, as are the passphrase and the SSH password: empty = keep. */
  sshPrivateKey: string;
  sshPassphrase: string;
  sshPassword: string;
  /** The bastion's host key, known_hosts format: pinned, checked at every sign-in. */
  sshHostKey: string;
}

const str = (n: number | undefined) => (n ? String(n) : "");

export function initialForm(c?: Connection): FormState {
  return {
    name: c?.name ?? "",
    type: c?.type ?? Engine.POSTGRESQL,
    server: c?.server ?? "",
    port: str(c?.port),
    database: c?.database ?? "",
    // Credentials are write-only: never shown, not even to the people who entered them.
    username: "",
    password: "",
    sslMode: c?.sslMode ?? SslMode.UNSPECIFIED,
    caCertificate: c?.caCertificate ?? "",
    clientCertificate: c?.clientCertificate ?? "",
    clientKey: "",
    tlsServerName: c?.tlsServerName ?? "",
    instanceName: c?.instanceName ?? "",
    strictEncryption: c?.strictEncryption ?? false,
    oracleSid: c?.oracleSid ?? "",
    allowCleartextPassword: c?.allowCleartextPassword ?? false,
    frontDoorPoolMode: c?.frontDoorPoolMode || "transaction",
    replicas: c?.replicas.map((r) => ({ server: r.server, port: str(r.port) })) ?? [],
    maxReplicaLagMs: str(c?.maxReplicaLagMs),
    maxPoolSize: c ? String(c.maxPoolSize) : "",
    minPoolSize: c ? String(c.minPoolSize) : "",
    acquireTimeoutMs: str(c?.acquireTimeoutMs),
    idleTimeoutMs: str(c?.idleTimeoutMs),
    maxLifetimeMs: str(c?.maxLifetimeMs),
    description: c?.description ?? "",
    ssh: c?.ssh !== undefined,
    sshHost: c?.ssh?.host ?? "",
    sshPort: str(c?.ssh?.port),
    sshUser: c?.ssh?.user ?? "",
    sshPrivateKey: "",
    sshPassphrase: "",
    sshPassword: "",
    sshHostKey: c?.ssh?.hostKey ?? "",
  };
}

/** Whether any of the bastion's write-only secrets was typed (sending any replaces all three). */
export const sshSecretsTyped = (f: FormState) => !!(f.sshPrivateKey || f.sshPassphrase || f.sshPassword);

/**
 * The tunnel as the spec states it. Always sent while the switch is on, like the replicas: an
 * update states the whole configuration, and leaving it out removes the tunnel. The secrets only
 * when typed (absent keeps the stored ones).
 */
function sshSpec(f: FormState, num: (s: string) => number | undefined): Spec["ssh"] {
  if (!f.ssh) return undefined;
  const typed = (s: string) => (s === "" ? undefined : s);
  return {
    host: f.sshHost.trim(),
    port: num(f.sshPort),
    user: f.sshUser,
    hostKey: f.sshHostKey.trim(),
    privateKey: typed(f.sshPrivateKey),
    passphrase: typed(f.sshPassphrase),
    password: typed(f.sshPassword),
  };
}

/**
 * The spec to send: each engine's own fields only for that engine (the server refuses the others),
 * and on edit the write-only fields only when typed (absent = keep what is stored).
 */
export function toSpec(f: FormState, editing: boolean): Spec {
  // Not a number stays not a number: the server says why next to the field.
  const num = (s: string) => (s.trim() === "" ? undefined : Number(s));
  const pg = f.type === Engine.POSTGRESQL;
  return {
    name: f.name,
    type: f.type,
    server: f.server,
    port: num(f.port),
    database: f.database,
    ...(f.username || !editing ? { username: f.username } : {}),
    ...(f.password || !editing ? { password: f.password } : {}),
    ...(f.clientKey ? { clientKey: f.clientKey } : {}),
    sslMode: f.sslMode,
    caCertificate: f.caCertificate,
    clientCertificate: f.clientCertificate,
    tlsServerName: f.tlsServerName,
    instanceName: f.type === Engine.SQLSERVER ? f.instanceName : "",
    strictEncryption: f.type === Engine.SQLSERVER && f.strictEncryption,
    oracleSid: f.type === Engine.ORACLE ? f.oracleSid : "",
    allowCleartextPassword: (pg || f.type === Engine.MYSQL) && f.allowCleartextPassword,
    frontDoorPoolMode: pg ? f.frontDoorPoolMode : "",
    replicas: f.replicas
      .filter((r) => r.server.trim() !== "" || r.port.trim() !== "")
      .map((r) => ({ server: r.server, port: num(r.port) ?? 0 })),
    // Both engines bound replica lag (MariaDB by Seconds_Behind_Master): sent for both, or an edit resets it.
    maxReplicaLagMs: pg || f.type === Engine.MYSQL ? num(f.maxReplicaLagMs) : undefined,
    maxPoolSize: num(f.maxPoolSize),
    minPoolSize: num(f.minPoolSize),
    acquireTimeoutMs: num(f.acquireTimeoutMs),
    idleTimeoutMs: num(f.idleTimeoutMs),
    maxLifetimeMs: num(f.maxLifetimeMs),
    description: f.description,
    ssh: sshSpec(f, num),
  };
}

/** Which section each field the server may name lives in (to open and point at it). */
export const SECTION_OF: Record<string, string> = {
  username: "credentials",
  password: "credentials",
  allowCleartextPassword: "credentials",
  sslMode: "tls",
  caCertificate: "tls",
  clientCertificate: "tls",
  clientKey: "tls",
  tlsServerName: "tls",
  strictEncryption: "tls",
  maxReplicaLagMs: "replicas",
  maxPoolSize: "pool",
  minPoolSize: "pool",
  acquireTimeoutMs: "pool",
  idleTimeoutMs: "pool",
  maxLifetimeMs: "pool",
  frontDoorPoolMode: "pool",
};
export const sectionOf = (field: string) =>
  field.startsWith("replicas")
    ? "replicas"
    : field.startsWith("ssh")
      ? "SSH tunnel"
      : (SECTION_OF[field] ?? "connection");

/** The server names the tunnel's fields by their place in the spec (`ssh.host`); the form by its own. */
const SSH_FIELDS: Record<string, keyof FormState> = {
  ssh: "ssh",
  "ssh.host": "sshHost",
  "ssh.port": "sshPort",
  "ssh.user": "sshUser",
  "ssh.privateKey": "sshPrivateKey",
  "ssh.passphrase": "sshPassphrase",
  "ssh.password": "sshPassword",
  "ssh.hostKey": "sshHostKey",
};
export const formFieldOf = (serverField: string): string => SSH_FIELDS[serverField] ?? serverField;

const NUMERIC: (keyof FormState)[] = [
  "port",
  "maxReplicaLagMs",
  "maxPoolSize",
  "minPoolSize",
  "acquireTimeoutMs",
  "idleTimeoutMs",
  "maxLifetimeMs",
  "sshPort",
];

/**
 * What cannot even be sent: a number field holding something else (the wire has integers). Every
 * other rule is the server's, whose field errors the form shows in the same places.
 */
export function localProblems(f: FormState): Record<string, string> {
  const out: Record<string, string> = {};
  const whole = (s: string) => s.trim() === "" || /^\d{1,10}$/.test(s.trim());
  for (const k of NUMERIC) if (!whole(String(f[k]))) out[k] = "must be a whole number";
  f.replicas.forEach((r, i) => {
    if (!whole(r.port)) out[`replicas[${i}].port`] = "must be a whole number";
  });
  return out;
}
