import { type ChangeEvent, type InputHTMLAttributes, type ReactNode, useId, useState } from "react";
import type { FormState } from "./connection-form-state.js";

/** The form's state and the server's (or the form's own) field errors, shared by its sections. */
export interface Binding {
  f: FormState;
  set: <K extends keyof FormState>(k: K, v: FormState[K]) => void;
  errors: Record<string, string>;
}

/** A field name as an element id: replicas[0].port → replicas-0-port. */
export const idOf = (name: string) => `f-${name.replace(/[^\w]+/g, "-").replace(/-$/, "")}`;
const errorIdOf = (name: string) => `e-${name.replace(/[^\w]+/g, "-").replace(/-$/, "")}`;

/** aria-invalid and aria-describedby for an input, pointing at its error and hint. */
export function describe(b: Binding, name: string, hintId?: string) {
  const error = b.errors[name];
  const ids = [error ? errorIdOf(name) : "", hintId ?? ""].filter(Boolean).join(" ");
  return {
    id: idOf(name),
    "aria-invalid": error ? true : undefined,
    "aria-describedby": ids || undefined,
  } as const;
}

/** A label, the input, a hint, and the error for this field right under it. */
export function Field({
  b,
  name,
  label,
  hint,
  children,
}: {
  b: Binding;
  name: string;
  label: string;
  hint?: ReactNode;
  children: (hintId: string | undefined) => ReactNode;
}) {
  const hintId = useId();
  const error = b.errors[name];
  return (
    <div className={`field ${error ? "invalid" : ""}`} data-field={name}>
      <label htmlFor={idOf(name)}>{label}</label>
      {children(hint ? hintId : undefined)}
      {hint && (
        <small className="muted" id={hintId}>
          {hint}
        </small>
      )}
      {error && (
        <small className="error field-error" id={errorIdOf(name)}>
          {error}
        </small>
      )}
    </div>
  );
}

type TextKey = {
  [K in keyof FormState]: FormState[K] extends string ? K : never;
}[keyof FormState];

export function TextField({
  b,
  name,
  label,
  hint,
  ...extra
}: { b: Binding; name: TextKey; label: string; hint?: ReactNode } & InputHTMLAttributes<HTMLInputElement>) {
  return (
    <Field b={b} name={name} label={label} hint={hint}>
      {(hintId) => (
        <input
          name={name}
          value={b.f[name]}
          onChange={(e) => b.set(name, e.target.value)}
          {...describe(b, name, hintId)}
          {...extra}
        />
      )}
    </Field>
  );
}

export function CheckField({
  b,
  name,
  label,
  hint,
}: {
  b: Binding;
  name: "strictEncryption" | "allowCleartextPassword" | "ssh";
  label: string;
  hint?: ReactNode;
}) {
  const error = b.errors[name];
  const hintId = useId();
  return (
    <div className={`field check ${error ? "invalid" : ""}`} data-field={name}>
      <label>
        <input
          type="checkbox"
          name={name}
          checked={b.f[name]}
          onChange={(e) => b.set(name, e.target.checked)}
          {...describe(b, name, hint ? hintId : undefined)}
        />{" "}
        {label}
      </label>
      {hint && (
        <small className="muted" id={hintId}>
          {hint}
        </small>
      )}
      {error && (
        <small className="error field-error" id={errorIdOf(name)}>
          {error}
        </small>
      )}
    </div>
  );
}

/** Larger than this is no certificate or key (the server's own limit is 64 KiB of PEM). */
const MAX_PEM_BYTES = 64 * 1024;

/**
 * PEM text, pasted or read from a file: the file is read in the browser (File.text()) into the
 * field, never uploaded anywhere but with the form. `secret`: shown as dots, write-only.
 */
export function PemField({
  b,
  name,
  label,
  hint,
  secret,
  multiline,
  placeholder = "-----BEGIN CERTIFICATE-----",
}: {
  b: Binding;
  name: "caCertificate" | "clientCertificate" | "clientKey" | "sshPrivateKey";
  label: string;
  hint?: ReactNode;
  secret?: boolean;
  /** A secret kept on its lines (an OpenSSH key): a textarea whose characters are masked. */
  multiline?: boolean;
  placeholder?: string;
}) {
  const [fileNote, setFileNote] = useState("");
  const read = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    e.target.value = "";
    if (!file) return;
    if (file.size > MAX_PEM_BYTES) {
      setFileNote(`${file.name} is ${Math.round(file.size / 1024)} KiB: a PEM file is at most 64 KiB.`);
      return;
    }
    const text = await file.text();
    b.set(name, text.trim());
    setFileNote(`Read from ${file.name}.`);
  };
  return (
    <Field b={b} name={name} label={label} hint={hint}>
      {(hintId) => (
        <>
          {secret && !multiline ? (
            <input
              type="password"
              autoComplete="off"
              name={name}
              value={b.f[name]}
              onChange={(e) => b.set(name, e.target.value)}
              {...describe(b, name, hintId)}
            />
          ) : (
            <textarea
              name={name}
              rows={3}
              value={b.f[name]}
              onChange={(e) => b.set(name, e.target.value)}
              placeholder={placeholder}
              // An input would drop a pasted key's line breaks; masked instead, as a password is.
              className={secret ? "secret-text" : undefined}
              autoComplete={secret ? "off" : undefined}
              spellCheck={secret ? false : undefined}
              {...describe(b, name, hintId)}
            />
          )}
          <span className="file-pick">
            <input
              type="file"
              accept=".pem,.crt,.cer,.key,text/plain,application/x-pem-file"
              aria-label={`${label}: read from a file`}
              onChange={read}
            />
            {fileNote && (
              <span className="muted" role="status">
                {fileNote}
              </span>
            )}
          </span>
        </>
      )}
    </Field>
  );
}
