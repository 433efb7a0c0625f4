import { type FormEvent, useState } from "react";
import {
  type CheckResult,
  type Connection,
  Engine,
  SslMode,
  type StageResult,
} from "../../../../src/gen/berth/v1/types_pb.js";
import { api } from "../api.js";
import { Alert } from "../components/Alert.js";
import { CheckList } from "../components/CheckList.js";
import { LiveStages } from "../components/LiveStages.js";
import { ENGINE_VALUES, type EngineInfo, engineInfo, useConsoleConfig } from "../config.js";
import { problemOf } from "../errors.js";
import { go } from "../router.js";
import type { Binding } from "./connection-form-fields.js";
import {
  ConnectionSection,
  CredentialsSection,
  PoolSection,
  ReplicasSection,
  TlsSection,
} from "./connection-form-sections.js";
import { HostKeyConfirm, SshSection } from "./connection-form-ssh.js";
import {
  type FormState,
  formFieldOf,
  initialForm,
  localProblems,
  sectionOf,
  sshSecretsTyped,
  toSpec,
} from "./connection-form-state.js";

type Progress = { kind: "idle" } | { kind: "testing"; done: StageResult[] } | { kind: "saving" };

/** Moves focus to the first field the server (or the form) found a problem with. */
function focusFirst(errors: Record<string, string>) {
  const first = Object.keys(errors)[0];
  if (!first) return;
  requestAnimationFrame(() => {
    const el = document.querySelector<HTMLElement>(
      `[data-field="${CSS.escape(first)}"] :is(input, select, textarea)`,
    );
    el?.focus();
  });
}

function EnginePicker({ b, engines }: { b: Binding; engines: EngineInfo[] }) {
  const pick = (type: Engine) =>
    // Each engine has its own TLS modes and default port: the engine's default until chosen.
    b.set("type", type);
  return (
    <fieldset className="engine-picker" data-field="type">
      <legend>Engine</legend>
      <div className="segmented">
        {engines.map((e) => (
          <label key={e.id} className={b.f.type === ENGINE_VALUES[e.id] ? "chosen" : undefined}>
            <input
              type="radio"
              name="type"
              value={e.id}
              checked={b.f.type === ENGINE_VALUES[e.id]}
              onChange={() => pick(ENGINE_VALUES[e.id])}
            />
            {e.label}
          </label>
        ))}
      </div>
      {b.errors.type && <small className="error field-error">{b.errors.type}</small>}
    </fieldset>
  );
}

/**
 * Create or edit a connection: an engine picker and each engine's own fields, in sections
 * (connection, credentials, TLS, SSH tunnel, replicas, pool); the server's field errors next to their fields;
 * Test shows the stages as they are answered (Validate's first, then the sign-in), before Save.
 */
export function ConnectionForm({
  existing,
  onSaved,
}: {
  existing?: Connection;
  /** The connection as saved: the page around the form shows it (and its new version) at once. */
  onSaved?: (c: Connection) => void;
}) {
  const editing = existing !== undefined;
  const [f, setF] = useState<FormState>(() => initialForm(existing));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState("");
  const [check, setCheck] = useState<CheckResult | undefined>();
  const [progress, setProgress] = useState<Progress>({ kind: "idle" });
  const config = useConsoleConfig();
  const engine = engineInfo(config, f.type);
  const b: Binding = {
    f,
    errors,
    set: (k, v) =>
      setF((s) => ({
        ...s,
        [k]: v,
        ...(k === "type" && v !== s.type ? { sslMode: SslMode.UNSPECIFIED } : {}),
      })),
  };

  const showProblems = (fields: Record<string, string>) => {
    setErrors(fields);
    const sections = [...new Set(Object.keys(fields).map(sectionOf))];
    setError(
      Object.keys(fields).length
        ? `Some fields need attention (${sections.join(", ")}): see the messages next to them.`
        : "",
    );
    focusFirst(fields);
  };
  const fail = (err: unknown) => {
    const p = problemOf(err);
    const fields = Object.fromEntries(Object.entries(p.fields).map(([k, v]) => [formFieldOf(k), v]));
    if (Object.keys(fields).length) showProblems(fields);
    // A failed check speaks for itself in the checklist below; other errors are said here.
    else setError(p.check ? "" : p.message);
    if (p.check) setCheck(p.check);
  };
  const start = (): boolean => {
    setErrors({});
    setError("");
    setCheck(undefined);
    const local = localProblems(f);
    if (Object.keys(local).length === 0) return true;
    showProblems(local);
    return false;
  };

  // On edit without credentials typed, Test can only check the saved settings (an unsaved spec
  // needs its credentials): said when the form holds changes.
  const testsSaved = editing && !f.password && !f.username && !f.clientKey && !sshSecretsTyped(f);
  const test = async () => {
    if (!start()) return;
    setProgress({ kind: "testing", done: [] });
    const target = testsSaved
      ? { case: "id" as const, value: existing.id }
      : { case: "spec" as const, value: toSpec(f, false) };
    try {
      // Validate answers the first stages (the rules, DNS, TCP) without signing in: shown at once.
      const early = await api.connections.validateConnection({ target }).then(
        (r) => r.result?.stages ?? [],
        () => undefined,
      );
      // A refused Validate is answered again by Test below, with the field errors or every stage.
      if (early) setProgress({ kind: "testing", done: early });
      setCheck((await api.connections.testConnection({ target })).result);
    } catch (err) {
      fail(err);
    } finally {
      setProgress({ kind: "idle" });
    }
  };

  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!start()) return;
    setProgress({ kind: "saving" });
    try {
      const r = editing
        ? await api.connections.updateConnection({
            id: existing.id,
            spec: toSpec(f, true),
            expectedVersion: existing.version,
          })
        : await api.connections.createConnection({ spec: toSpec(f, false) });
      onSaved?.(r.connection!);
      go(`connections/${r.connection!.id}`);
    } catch (err) {
      fail(err);
    } finally {
      setProgress({ kind: "idle" });
    }
  };

  const busy = progress.kind !== "idle";
  const changed =
    editing && JSON.stringify(toSpec(f, true)) !== JSON.stringify(toSpec(initialForm(existing), true));
  const pg = f.type === Engine.POSTGRESQL;
  return (
    <form
      className="connection-form"
      onSubmit={save}
      aria-label={editing ? "Edit connection" : "New connection"}
      noValidate
    >
      <EnginePicker b={b} engines={config.engines} />
      <ConnectionSection b={b} engine={engine} />
      <CredentialsSection b={b} editing={editing} />
      <TlsSection b={b} engine={engine} hasClientKey={existing?.hasClientKey ?? false} />
      <SshSection b={b} existing={existing?.ssh} />
      <ReplicasSection b={b} lagBound={pg || f.type === Engine.MYSQL} />
      <PoolSection b={b} frontDoor={pg} />
      <Alert message={error} />
      <div className="actions">
        <button type="button" onClick={test} disabled={busy}>
          {progress.kind === "testing" ? "Testing…" : "Test"}
        </button>
        <button type="submit" className="primary" disabled={busy}>
          {progress.kind === "saving" ? "Saving…" : editing ? "Save changes" : "Save"}
        </button>
        <a className="button" href={editing ? `#/connections/${existing.id}` : "#/connections"}>
          Cancel
        </a>
      </div>
      {testsSaved && changed && (
        <p className="muted" data-testid="tests-saved">
          Test checks the saved settings, not your changes: enter the user name and password to test these.
          Save tries changes to the host, TLS or credentials against the database before it keeps them.
        </p>
      )}
      {progress.kind === "testing" && <LiveStages done={progress.done} tunnel={f.ssh} />}
      {check && progress.kind !== "testing" && (
        <>
          <HostKeyConfirm b={b} check={check} testsSaved={testsSaved} />
          <CheckList result={check} />
        </>
      )}
    </form>
  );
}
