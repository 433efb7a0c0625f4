import { useState } from "react";
import {
  CheckOutcome,
  type CheckResult,
  CheckStage,
  type SshTunnel,
} from "../../../../src/gen/berth/v1/types_pb.js";
import { type Binding, CheckField, describe, Field, PemField, TextField } from "./connection-form-fields.js";

const stored = (has: boolean | undefined, what: string) =>
  has
    ? `Stored: leave empty to keep the ${what}. Write-only, like the password.`
    : "Write-only, like the password.";

/**
 * The SSH bastion the database is reached through: off, the section is its switch alone. Host and
 * port of the Connection section are then as the bastion sees them. The key, its passphrase and the
 * password are write-only (sending any replaces all three; none keeps the stored ones).
 */
export function SshSection({ b, existing }: { b: Binding; existing: SshTunnel | undefined }) {
  const { f } = b;
  return (
    <fieldset className="form-section" id="section-ssh">
      <legend>SSH tunnel</legend>
      <CheckField
        b={b}
        name="ssh"
        label="Reach the database through an SSH bastion"
        hint={
          f.ssh
            ? "Host and Port above are then as the bastion sees them (often 127.0.0.1). PostgreSQL and MySQL only."
            : undefined
        }
      />
      {f.ssh && (
        <>
          <div className="cols three">
            <TextField b={b} name="sshHost" label="SSH host" placeholder="bastion.example.com" required />
            <TextField
              b={b}
              name="sshPort"
              label="SSH port"
              inputMode="numeric"
              placeholder="22"
              hint="Empty: 22."
            />
            <TextField b={b} name="sshUser" label="SSH user" autoComplete="off" required />
          </div>
          <PemField
            b={b}
            name="sshPrivateKey"
            label="SSH private key"
            secret
            multiline
            placeholder="-----BEGIN OPENSSH PRIVATE KEY-----"
            hint={`OpenSSH or PEM; ed25519, ECDSA or RSA. ${stored(existing?.hasPrivateKey, "stored key")}`}
          />
          <div className="cols">
            <TextField
              b={b}
              name="sshPassphrase"
              label="Key passphrase"
              type="password"
              autoComplete="new-password"
              hint={`For an encrypted key. ${stored(existing?.hasPassphrase, "stored passphrase")}`}
            />
            <TextField
              b={b}
              name="sshPassword"
              label="SSH password"
              type="password"
              autoComplete="new-password"
              hint={`Instead of a key. ${stored(existing?.hasPassword, "stored password")}`}
            />
          </div>
          <Field
            b={b}
            name="sshHostKey"
            label="SSH host key"
            hint="known_hosts format (ssh-ed25519 AAAA…). Empty: the first Test shows the key the bastion presents, to confirm."
          >
            {(hintId) => (
              <textarea
                name="sshHostKey"
                rows={2}
                spellCheck={false}
                value={f.sshHostKey}
                placeholder="ssh-ed25519 AAAAC3Nz…"
                onChange={(e) => b.set("sshHostKey", e.target.value)}
                {...describe(b, "sshHostKey", hintId)}
              />
            )}
          </Field>
        </>
      )}
    </fieldset>
  );
}

/** The host key a bastion presented when none was pinned (ssh_host_key_unknown), from a test. */
export function offeredHostKey(
  check: CheckResult | undefined,
): { key: string; fingerprint: string } | undefined {
  const stage = check?.stages.find(
    (s) =>
      s.stage === CheckStage.SSH_HOST_KEY &&
      s.outcome === CheckOutcome.FAILED &&
      s.reason === "ssh_host_key_unknown",
  );
  const key = stage?.details.host_key;
  return key ? { key, fingerprint: stage.details.fingerprint ?? "" } : undefined;
}

/**
 * Trust on first use, made a decision: the key the bastion presented and its fingerprint, to compare
 * with the bastion's own before pinning it in the Host key field.
 */
export function HostKeyConfirm({
  b,
  check,
  testsSaved,
}: {
  b: Binding;
  check: CheckResult | undefined;
  /** Test checks the saved settings (an edit without credentials typed): the key counts once saved. */
  testsSaved: boolean;
}) {
  const offered = offeredHostKey(check);
  const [trusted, setTrusted] = useState("");
  if (!offered) return null;
  const pinned = trusted === offered.key && b.f.sshHostKey === offered.key;
  return (
    <section className="host-key-confirm" aria-labelledby="host-key-confirm-title">
      <h2 id="host-key-confirm-title">Confirm the bastion's host key</h2>
      <p>
        No host key is pinned, so nothing was signed in. The bastion presented this key: compare its
        fingerprint with the bastion's own (<code>ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub</code> on
        the bastion) before trusting it.
      </p>
      <dl className="details">
        <div>
          <dt>Fingerprint</dt>
          <dd data-testid="offered-fingerprint">{offered.fingerprint}</dd>
        </div>
        <div>
          <dt>Host key</dt>
          <dd data-testid="offered-host-key">{offered.key}</dd>
        </div>
      </dl>
      {pinned ? (
        <p role="status" className="ok">
          {testsSaved
            ? "Pinned in the SSH host key field. Pinning decides where the stored secrets go, so enter the database password and the SSH key (or password) again, then Test and Save."
            : "Pinned in the SSH host key field: Test again, then Save."}
        </p>
      ) : (
        <button
          type="button"
          onClick={() => {
            b.set("sshHostKey", offered.key);
            setTrusted(offered.key);
          }}
        >
          Trust this host key
        </button>
      )}
    </section>
  );
}
