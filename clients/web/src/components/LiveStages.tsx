import { CheckOutcome, CheckStage, type StageResult } from "../../../../src/gen/berth/v1/types_pb.js";
import { STAGE_LABELS } from "../labels.js";

/** The stages a test goes through, in order (Validate's first, then the sign-in and the query). */
export const TEST_STAGES = [
  CheckStage.CONFIG,
  CheckStage.DNS,
  CheckStage.TCP,
  CheckStage.TLS,
  CheckStage.AUTH,
  CheckStage.QUERY,
];

/** Through an SSH bastion these come first: reach it, its host key, sign in, open the forward. */
export const SSH_STAGES = [
  CheckStage.SSH_DNS,
  CheckStage.SSH_TCP,
  CheckStage.SSH_HANDSHAKE,
  CheckStage.SSH_HOST_KEY,
  CheckStage.SSH_AUTH,
  CheckStage.SSH_FORWARD,
];

/** The stages of a test of this form: with a tunnel, the ssh stages after the configuration's. */
export const testStages = (tunnel: boolean) =>
  tunnel ? [TEST_STAGES[0]!, ...SSH_STAGES, ...TEST_STAGES.slice(1)] : TEST_STAGES;

/**
 * A test in progress: the stages already answered (with their times), the one running now, and
 * those still to come. Replaced by the full CheckList when the test ends.
 */
export function LiveStages({ done, tunnel = false }: { done: StageResult[]; tunnel?: boolean }) {
  const answered = new Set(done.map((s) => s.stage));
  const rest = testStages(tunnel).filter((s) => !answered.has(s));
  return (
    <section className="checklist live" aria-label="Connection test in progress" aria-busy="true">
      <p role="status">
        Testing… {done.length > 0 ? "reached the server; signing in" : "checking the settings"}
      </p>
      <ol>
        {done.map((s) => (
          <li
            key={s.stage}
            className={`stage ${s.outcome === CheckOutcome.PASSED ? "passed" : "skipped"}`}
            data-stage={STAGE_LABELS[s.stage]}
          >
            <span className="mark" aria-hidden="true">
              {s.outcome === CheckOutcome.PASSED ? "✓" : "–"}
            </span>
            <strong>{STAGE_LABELS[s.stage]}</strong>{" "}
            <span className="muted">{s.outcome === CheckOutcome.PASSED ? "passed" : "skipped"}</span>{" "}
            <span className="muted">{s.durationMs.toFixed(1)} ms</span>
          </li>
        ))}
        {rest.map((stage, i) => (
          <li
            key={stage}
            className={`stage ${i === 0 ? "running" : "waiting"}`}
            data-stage={STAGE_LABELS[stage]}
          >
            <span className="mark" aria-hidden="true">
              {i === 0 ? "…" : "·"}
            </span>
            <strong>{STAGE_LABELS[stage]}</strong>{" "}
            <span className="muted">{i === 0 ? "running" : "waiting"}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}
