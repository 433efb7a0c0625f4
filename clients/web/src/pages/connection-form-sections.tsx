import { Engine, SslMode } from "../../../../src/gen/berth/v1/types_pb.js";
import { type EngineInfo, SSL_VALUES } from "../config.js";
import { SSL_LABELS } from "../labels.js";
import { type Binding, CheckField, describe, Field, PemField, TextField } from "./connection-form-fields.js";

function Section({
  id,
  title,
  note,
  children,
}: {
  id: string;
  title: string;
  note?: string;
  children: React.ReactNode;
}) {
  return (
    <fieldset className="form-section" id={`section-${id}`}>
      <legend>{title}</legend>
      {note && <p className="muted section-note">{note}</p>}
      {children}
    </fieldset>
  );
}

/** Name, host, port and what the engine calls its database; SQL Server's instance, Oracle's SID. */
export function ConnectionSection({ b, engine }: { b: Binding; engine: EngineInfo | undefined }) {
  const { type } = b.f;
  const oracle = type === Engine.ORACLE;
  return (
    <Section id="connection" title="Connection">
      <TextField b={b} name="name" label="Name" required />
      <div className="cols">
        <TextField b={b} name="server" label="Host" required placeholder="db.internal" />
        <TextField
          b={b}
          name="port"
          label="Port"
          inputMode="numeric"
          placeholder={String(engine?.defaultPort ?? "")}
          hint={
            type === Engine.SQLSERVER
              ? "Leave empty with an instance name."
              : `Empty: ${engine?.defaultPort ?? "the engine's default"}.`
          }
        />
      </div>
      {type === Engine.SQLSERVER && (
        <TextField
          b={b}
          name="instanceName"
          label="Instance name"
          placeholder="SQLEXPRESS"
          hint="Its port is asked of the SQL Server Browser (UDP 1434)."
        />
      )}
      <div className="cols">
        <TextField
          b={b}
          name="database"
          label={oracle ? "Service name" : "Database"}
          hint={engine ? `For ${engine.label}: ${engine.databaseMeaning}.` : undefined}
        />
        {oracle && (
          <TextField
            b={b}
            name="oracleSid"
            label="SID"
            hint="Instead of a service name, for a database addressed by SID."
          />
        )}
      </div>
      <TextField b={b} name="description" label="Description" />
    </Section>
  );
}

export function CredentialsSection({ b, editing }: { b: Binding; editing: boolean }) {
  const cleartext = b.f.type === Engine.POSTGRESQL || b.f.type === Engine.MYSQL;
  return (
    <Section
      id="credentials"
      title="Credentials"
      note="Write-only: stored encrypted and never shown again, not even here."
    >
      <div className="cols">
        <TextField
          b={b}
          name="username"
          label="User name"
          autoComplete="off"
          placeholder={editing ? "unchanged" : ""}
        />
        <TextField
          b={b}
          name="password"
          label="Password"
          type="password"
          autoComplete="new-password"
          placeholder={editing ? "unchanged" : ""}
        />
      </div>
      {cleartext && (
        <CheckField
          b={b}
          name="allowCleartextPassword"
          label="Allow a clear-text sign-in without TLS if the server asks for one"
          hint="Off: such a server is refused and never sees the password."
        />
      )}
    </Section>
  );
}

export function TlsSection({
  b,
  engine,
  hasClientKey,
}: {
  b: Binding;
  engine: EngineInfo | undefined;
  hasClientKey: boolean;
}) {
  const { f, errors } = b;
  const mode = f.sslMode === SslMode.UNSPECIFIED ? SSL_VALUES[engine?.defaultSslMode ?? ""] : f.sslMode;
  // Without TLS the certificate fields mean nothing: hidden, unless they hold something to fix.
  const tlsFields = ["caCertificate", "clientCertificate", "clientKey", "tlsServerName"] as const;
  const plain = mode === SslMode.DISABLE && !tlsFields.some((k) => f[k] !== "" || errors[k]) && !hasClientKey;
  return (
    <Section id="tls" title="TLS">
      <Field b={b} name="sslMode" label="TLS">
        {(hintId) => (
          <select
            name="sslMode"
            value={b.f.sslMode}
            onChange={(e) => b.set("sslMode", Number(e.target.value) as SslMode)}
            {...describe(b, "sslMode", hintId)}
          >
            <option value={SslMode.UNSPECIFIED}>default ({engine?.defaultSslMode ?? "—"})</option>
            {(engine?.sslModes ?? []).map((m) => (
              <option key={m} value={SSL_VALUES[m]}>
                {SSL_LABELS[SSL_VALUES[m] ?? SslMode.UNSPECIFIED]}
              </option>
            ))}
          </select>
        )}
      </Field>
      {b.f.type === Engine.SQLSERVER && (
        <CheckField
          b={b}
          name="strictEncryption"
          label="Strict encryption (TDS 8.0)"
          hint="TLS before any TDS byte; needs verify-full."
        />
      )}
      {plain ? (
        <p className="muted" data-testid="tls-off">
          No TLS: certificates are not used. Choose a TLS mode to give a CA or a client certificate.
        </p>
      ) : (
        <>
          <PemField
            b={b}
            name="caCertificate"
            label="CA certificate (PEM)"
            hint="Empty: the system's trusted CAs."
          />
          <PemField b={b} name="clientCertificate" label="Client certificate (PEM)" hint="For mutual TLS." />
          <PemField
            b={b}
            name="clientKey"
            label="Client key (PEM)"
            secret
            hint={
              hasClientKey
                ? "A key is stored: leave empty to keep it. Write-only, like the password."
                : "Write-only, like the password."
            }
          />
          {engine?.supportsTlsServerName && (
            <TextField
              b={b}
              name="tlsServerName"
              label="TLS server name"
              hint="When the certificate names the server differently from Host."
            />
          )}
        </>
      )}
    </Section>
  );
}

/** Read replicas, one host and port each; PostgreSQL's bound on their lag. */
export function ReplicasSection({ b, lagBound }: { b: Binding; lagBound: boolean }) {
  const { replicas } = b.f;
  const put = (i: number, k: "server" | "port", v: string) =>
    b.set(
      "replicas",
      replicas.map((r, j) => (j === i ? { ...r, [k]: v } : r)),
    );
  return (
    <Section
      id="replicas"
      title="Replicas"
      note="Hosts that serve reads (and take over when they are promoted)."
    >
      {b.errors.replicas && <small className="error field-error">{b.errors.replicas}</small>}
      <ol className="replicas">
        {replicas.map((r, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: rows are edited in place; their place is their identity.
          <li key={i} className="cols replica" data-field={`replicas[${i}]`}>
            <Field b={b} name={`replicas[${i}].server`} label={`Replica ${i + 1} host`}>
              {() => (
                <input
                  value={r.server}
                  onChange={(e) => put(i, "server", e.target.value)}
                  {...describe(b, `replicas[${i}].server`)}
                />
              )}
            </Field>
            <Field b={b} name={`replicas[${i}].port`} label={`Replica ${i + 1} port`}>
              {() => (
                <input
                  value={r.port}
                  inputMode="numeric"
                  onChange={(e) => put(i, "port", e.target.value)}
                  {...describe(b, `replicas[${i}].port`)}
                />
              )}
            </Field>
            <button
              type="button"
              className="remove"
              aria-label={`Remove replica ${i + 1}`}
              onClick={() =>
                b.set(
                  "replicas",
                  replicas.filter((_, j) => j !== i),
                )
              }
            >
              Remove
            </button>
            {b.errors[`replicas[${i}]`] && (
              <small className="error field-error">{b.errors[`replicas[${i}]`]}</small>
            )}
          </li>
        ))}
      </ol>
      <button type="button" onClick={() => b.set("replicas", [...replicas, { server: "", port: "" }])}>
        Add a replica
      </button>
      {lagBound && replicas.length > 0 && (
        <TextField
          b={b}
          name="maxReplicaLagMs"
          label="Max replica lag (ms)"
          inputMode="numeric"
          placeholder="no bound"
          hint="A replica further behind gets no reads until it catches up."
        />
      )}
    </Section>
  );
}

export function PoolSection({ b, frontDoor }: { b: Binding; frontDoor: boolean }) {
  return (
    <Section id="pool" title="Pool">
      <div className="cols">
        <TextField b={b} name="maxPoolSize" label="Max pool size" inputMode="numeric" placeholder="10" />
        <TextField b={b} name="minPoolSize" label="Min pool size" inputMode="numeric" placeholder="0" />
      </div>
      <div className="cols three">
        <TextField
          b={b}
          name="acquireTimeoutMs"
          label="Acquire timeout (ms)"
          inputMode="numeric"
          placeholder="10000"
        />
        <TextField
          b={b}
          name="idleTimeoutMs"
          label="Idle timeout (ms)"
          inputMode="numeric"
          placeholder="300000"
        />
        <TextField
          b={b}
          name="maxLifetimeMs"
          label="Max lifetime (ms)"
          inputMode="numeric"
          placeholder="1800000"
        />
      </div>
      {frontDoor && (
        <Field b={b} name="frontDoorPoolMode" label="Front-door pooling">
          {(hintId) => (
            <select
              name="frontDoorPoolMode"
              value={b.f.frontDoorPoolMode}
              onChange={(e) => b.set("frontDoorPoolMode", e.target.value)}
              {...describe(b, "frontDoorPoolMode", hintId)}
            >
              <option value="transaction">per transaction (default)</option>
              <option value="session">per session (LISTEN, temp tables, session state)</option>
            </select>
          )}
        </Field>
      )}
    </Section>
  );
}
