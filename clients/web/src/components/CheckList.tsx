import type { CheckResult } from "../../../../src/gen/berth/v1/types_pb.js";
import { CheckOutcome } from "../../../../src/gen/berth/v1/types_pb.js";
import { OUTCOME_LABELS, STAGE_LABELS } from "../labels.js";

/** A connection test as a checklist: every stage with its time; a failure with reason, code and remedy. */
export function CheckList({ result }: { result: CheckResult }) {
  return (
    <section className="checklist" aria-label="Connection test result">
      <p className={result.ok ? "ok" : "bad"} role="status">
        {result.ok ? "Every stage passed" : "The test failed"} · {result.target} · {result.totalMs.toFixed(1)}{" "}
        ms
        {result.serverVersion ? ` · ${result.serverVersion}` : ""}
      </p>
      <ol>
        {result.stages.map((s) => (
          <li
            key={s.stage}
            className={`stage ${OUTCOME_LABELS[s.outcome]}`}
            data-stage={STAGE_LABELS[s.stage]}
          >
            <span className="mark" aria-hidden="true">
              {s.outcome === CheckOutcome.PASSED ? "✓" : s.outcome === CheckOutcome.FAILED ? "✗" : "–"}
            </span>
            <strong>{STAGE_LABELS[s.stage]}</strong>{" "}
            <span className="muted">{OUTCOME_LABELS[s.outcome]}</span>{" "}
            <span className="muted">{s.durationMs.toFixed(1)} ms</span>
            {s.outcome === CheckOutcome.FAILED && (
              <div className="failure">
                <div>
                  <code className="reason">{s.reason}</code>
                  {s.errorCode && (
                    <>
                      {" "}
                      · engine code <code className="code">{s.errorCode}</code>
                    </>
                  )}
                </div>
                <div className="message">{s.message}</div>
                {s.remedy && <div className="remedy">What to do: {s.remedy}</div>}
              </div>
            )}
            {s.outcome === CheckOutcome.SKIPPED && s.message && <div className="muted">{s.message}</div>}
            {Object.keys(s.details).length > 0 && (
              <dl className="details">
                {Object.entries(s.details).map(([k, v]) => (
                  <div key={k}>
                    <dt>{k}</dt>
                    <dd>{v}</dd>
                  </div>
                ))}
              </dl>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}
