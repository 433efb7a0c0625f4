import type { MessageInitShape } from "@bufbuild/protobuf";
import { type FormEvent, useState } from "react";
import type { ConnectionSpecSchema } from "../../../../src/gen/berth/v1/types_pb.js";
import { type CheckResult, type Connection, Engine, SslMode } from "../../../../src/gen/berth/v1/types_pb.js";
import { api } from "../api.js";
import { Alert } from "../components/Alert.js";
import { CheckList } from "../components/CheckList.js";
import { ENGINE_VALUES, engineInfo, SSL_VALUES, useConsoleConfig } from "../config.js";
import { problemOf } from "../errors.js";
import { SSL_LABELS } from "../labels.js";
import { go } from "../router.js";

type Spec = MessageInitShape<typeof ConnectionSpecSchema>;

interface FormState {
  name: string;
  type: Engine;
  server: string;
  port: string;
  database: string;
  username: string;
  password: string;
  sslMode: SslMode;
  caCertificate: string;
  tlsServerName: string;
  instanceName: string;
  strictEncryption: boolean;
  oracleSid: string;
  // Not editable here (set through the API); carried so that saving the form keeps it.
  allowCleartextPassword: boolean;
  frontDoorPoolMode: string;
  // Not editable here either (set through the API): kept as they are when the form is saved.
  replicas: { server: string; port: number }[];
  maxReplicaLagMs: string;
  maxPoolSize: string;
  minPoolSize: string;
  description: string;
}

function initial(c?: Connection): FormState {
  return {
    name: c?.name ?? "",
    type: c?.type ?? Engine.POSTGRESQL,
    server: c?.server ?? "",
    port: c?.port ? String(c.port) : "",
    database: c?.database ?? "",
    // Credentials are write-only: never shown, not even to the people who entered them.
    username: "",
    password: "",
    sslMode: c?.sslMode ?? SslMode.UNSPECIFIED,
    caCertificate: c?.caCertificate ?? "",
    tlsServerName: c?.tlsServerName ?? "",
    instanceName: c?.instanceName ?? "",
    strictEncryption: c?.strictEncryption ?? false,
    oracleSid: c?.oracleSid ?? "",
    allowCleartextPassword: c?.allowCleartextPassword ?? false,
    frontDoorPoolMode: c?.frontDoorPoolMode || "transaction",
    replicas: c?.replicas.map((r) => ({ server: r.server, port: r.port })) ?? [],
    maxReplicaLagMs: c?.maxReplicaLagMs ? String(c.maxReplicaLagMs) : "",
    maxPoolSize: c ? String(c.maxPoolSize) : "",
    minPoolSize: c ? String(c.minPoolSize) : "",
    description: c?.description ?? "",
  };
}

function toSpec(f: FormState, editing: boolean): Spec {
  const num = (s: string) => (s.trim() === "" ? undefined : Number(s));
  return {
    name: f.name,
    type: f.type,
    server: f.server,
    port: num(f.port),
    database: f.database,
    // On edit, empty means "keep what is stored".
    ...(f.username || !editing ? { username: f.username } : {}),
    ...(f.password || !editing ? { password: f.password } : {}),
    sslMode: f.sslMode,
    caCertificate: f.caCertificate,
    tlsServerName: f.tlsServerName,
    instanceName: f.type === Engine.SQLSERVER ? f.instanceName : "",
    strictEncryption: f.type === Engine.SQLSERVER && f.strictEncryption,
    oracleSid: f.type === Engine.ORACLE ? f.oracleSid : "",
    allowCleartextPassword:
      (f.type === Engine.POSTGRESQL || f.type === Engine.MYSQL) && f.allowCleartextPassword,
    frontDoorPoolMode: f.type === Engine.POSTGRESQL ? f.frontDoorPoolMode : "",
    replicas: f.replicas,
    maxReplicaLagMs: f.type === Engine.POSTGRESQL ? num(f.maxReplicaLagMs) : undefined,
    maxPoolSize: num(f.maxPoolSize),
    minPoolSize: num(f.minPoolSize),
    description: f.description,
  };
}

/** Create or edit a connection: per-engine fields, the server's field errors in place, Test before Save. */
export function ConnectionForm({ existing }: { existing?: Connection }) {
  const editing = existing !== undefined;
  const [f, setF] = useState<FormState>(() => initial(existing));
  const [fields, setFields] = useState<Record<string, string>>({});
  const [error, setError] = useState("");
  const [check, setCheck] = useState<CheckResult | undefined>();
  const [busy, setBusy] = useState<"" | "test" | "save">("");
  // Ports, TLS modes and what `database` means come from the engine tables (the served config).
  const config = useConsoleConfig();
  const engine = engineInfo(config, f.type);
  const set =
    <K extends keyof FormState>(k: K) =>
    (v: FormState[K]) =>
      setF((s) => ({ ...s, [k]: v }));

  const fail = (err: unknown) => {
    const p = problemOf(err);
    setFields(p.fields);
    // A failed check speaks for itself in the checklist below; other errors are said here.
    setError(Object.keys(p.fields).length ? "Some fields need attention." : p.check ? "" : p.message);
    if (p.check) setCheck(p.check);
  };

  const test = async () => {
    setBusy("test");
    setFields({});
    setError("");
    setCheck(undefined);
    try {
      const target =
        editing && !f.password && !f.username
          ? { case: "id" as const, value: existing.id }
          : { case: "spec" as const, value: toSpec(f, false) };
      const r = await api.connections.testConnection({ target });
      setCheck(r.result);
    } catch (err) {
      fail(err);
    } finally {
      setBusy("");
    }
  };

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy("save");
    setFields({});
    setError("");
    try {
      const r = editing
        ? await api.connections.updateConnection({
            id: existing.id,
            spec: toSpec(f, true),
            expectedVersion: existing.version,
          })
        : await api.connections.createConnection({ spec: toSpec(f, false) });
      go(`connections/${r.connection!.id}`);
    } catch (err) {
      fail(err);
    } finally {
      setBusy("");
    }
  };

  const field = (key: keyof FormState & string, label: string, input: React.ReactNode, hint?: string) => (
    <div className={`field ${fields[key] ? "invalid" : ""}`}>
      <label htmlFor={`f-${key}`}>{label}</label>
      {input}
      {hint && <small className="muted">{hint}</small>}
      {fields[key] && (
        <small className="error" id={`e-${key}`} role="alert">
          {fields[key]}
        </small>
      )}
    </div>
  );
  const text = (key: keyof FormState & string, extra: React.InputHTMLAttributes<HTMLInputElement> = {}) => (
    <input
      id={`f-${key}`}
      name={key}
      value={String(f[key])}
      aria-invalid={fields[key] ? true : undefined}
      aria-describedby={fields[key] ? `e-${key}` : undefined}
      onChange={(e) => set(key)(e.target.value as never)}
      {...extra}
    />
  );

  return (
    <form
      className="connection-form"
      onSubmit={save}
      aria-label={editing ? "Edit connection" : "New connection"}
      noValidate
    >
      {field("name", "Name", text("name", { required: true }))}
      {field(
        "type",
        "Engine",
        <select
          id="f-type"
          name="type"
          value={f.type}
          onChange={(e) =>
            setF((s) => ({ ...s, type: Number(e.target.value) as Engine, sslMode: SslMode.UNSPECIFIED }))
          }
        >
          {config.engines.map((x) => (
            <option key={x.id} value={ENGINE_VALUES[x.id]}>
              {x.label}
            </option>
          ))}
        </select>,
      )}
      {field("server", "Host", text("server", { required: true, placeholder: "db.internal" }))}
      {field(
        "port",
        "Port",
        text("port", { inputMode: "numeric", placeholder: String(engine?.defaultPort ?? "") }),
        f.type === Engine.SQLSERVER ? "Leave empty with an instance name." : undefined,
      )}
      {f.type === Engine.SQLSERVER &&
        field(
          "instanceName",
          "Instance name",
          text("instanceName", { placeholder: "SQLEXPRESS" }),
          "Resolved through the SQL Server Browser (UDP 1434).",
        )}
      {f.type === Engine.SQLSERVER &&
        field(
          "strictEncryption",
          "Strict encryption (TDS 8.0)",
          <input
            id="f-strictEncryption"
            type="checkbox"
            checked={f.strictEncryption}
            onChange={(e) => set("strictEncryption")(e.target.checked)}
          />,
        )}
      {field(
        "database",
        "Database",
        text("database"),
        engine ? `For ${engine.label}: ${engine.databaseMeaning}.` : undefined,
      )}
      {f.type === Engine.ORACLE && field("oracleSid", "SID (instead of a service name)", text("oracleSid"))}
      {field(
        "username",
        "User name",
        text("username", { autoComplete: "off", placeholder: editing ? "unchanged" : "" }),
      )}
      {field(
        "password",
        "Password",
        text("password", {
          type: "password",
          autoComplete: "new-password",
          placeholder: editing ? "unchanged" : "",
        }),
        "Write-only: stored encrypted and never shown again.",
      )}
      {field(
        "sslMode",
        "TLS",
        <select
          id="f-sslMode"
          name="sslMode"
          value={f.sslMode}
          onChange={(e) => set("sslMode")(Number(e.target.value) as SslMode)}
        >
          <option value={SslMode.UNSPECIFIED}>default ({engine?.defaultSslMode ?? "—"})</option>
          {(engine?.sslModes ?? []).map((m) => (
            <option key={m} value={SSL_VALUES[m]}>
              {SSL_LABELS[SSL_VALUES[m] ?? SslMode.UNSPECIFIED]}
            </option>
          ))}
        </select>,
      )}
      {field(
        "caCertificate",
        "CA certificate (PEM)",
        <textarea
          id="f-caCertificate"
          rows={3}
          value={f.caCertificate}
          onChange={(e) => set("caCertificate")(e.target.value)}
          placeholder="-----BEGIN CERTIFICATE-----"
        />,
      )}
      {engine?.supportsTlsServerName && field("tlsServerName", "TLS server name", text("tlsServerName"))}
      <div className="row">
        {field(
          "maxPoolSize",
          "Max pool size",
          text("maxPoolSize", { inputMode: "numeric", placeholder: "10" }),
        )}
        {field(
          "minPoolSize",
          "Min pool size",
          text("minPoolSize", { inputMode: "numeric", placeholder: "0" }),
        )}
      </div>
      {f.type === Engine.POSTGRESQL &&
        field(
          "frontDoorPoolMode",
          "Front-door pooling",
          <select
            id="f-frontDoorPoolMode"
            name="frontDoorPoolMode"
            value={f.frontDoorPoolMode}
            onChange={(e) => set("frontDoorPoolMode")(e.target.value)}
          >
            <option value="transaction">per transaction (default)</option>
            <option value="session">per session (LISTEN, temp tables, session state)</option>
          </select>,
        )}
      {f.type === Engine.POSTGRESQL &&
        f.replicas.length > 0 &&
        field(
          "maxReplicaLagMs",
          "Max replica lag (ms)",
          text("maxReplicaLagMs", { inputMode: "numeric", placeholder: "no bound" }),
        )}
      {field("description", "Description", text("description"))}
      <Alert message={error} />
      <div className="actions">
        <button type="button" onClick={test} disabled={busy !== ""}>
          {busy === "test" ? "Testing…" : "Test"}
        </button>
        <button type="submit" className="primary" disabled={busy !== ""}>
          {busy === "save" ? "Saving…" : editing ? "Save changes" : "Save"}
        </button>
        <a className="button" href={editing ? `#/connections/${existing.id}` : "#/connections"}>
          Cancel
        </a>
      </div>
      {check && <CheckList result={check} />}
    </form>
  );
}
