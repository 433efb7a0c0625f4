import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { ConnectionHealth, HostHealth } from "../../../../src/gen/berth/v1/connection_service_pb.js";
import { ConnectionStatus } from "../../../../src/gen/berth/v1/types_pb.js";
import { ScrollBox } from "../components/ScrollBox.js";
import { Sparkline } from "../components/Sparkline.js";
import { STATUS_LABELS } from "../labels.js";

/** What a host does for the connection now, in words: takes writes, serves reads, fenced, lagging. */
const down = (h: HostHealth) =>
  h.status === ConnectionStatus.UNAVAILABLE || h.status === ConnectionStatus.FAILED;

function duty(h: HostHealth): { text: string; tone: string } {
  if (h.fenced) return { text: "fenced: gets nothing", tone: "failed" };
  if (down(h)) return { text: "down", tone: "unavailable" };
  if (h.writer) return { text: "takes writes", tone: "healthy" };
  if (h.lagging) return { text: "lagging: no reads", tone: "degraded" };
  if (h.role === "replica") return { text: "serves reads", tone: "" };
  return { text: "—", tone: "" };
}

function lagOf(h: HostHealth): string {
  if (h.role !== "replica" || h.replicaLagMs === undefined) return "—";
  return h.replicaLagMs < 1000
    ? `${h.replicaLagMs.toFixed(0)} ms`
    : `${(h.replicaLagMs / 1000).toFixed(1)} s`;
}

/**
 * Each host of the connection as the health checks see it: its observed role (and the one it was
 * saved with when they differ), timeline, replica lag, whether it takes writes or is fenced, when
 * its role last changed. Without a primary, writes fail (no_primary) and the table says so first.
 */
export function HostsTable({
  health,
  latencies = {},
}: {
  health: ConnectionHealth;
  /** Each host's recent check latencies (ms) by slot, oldest first: drawn as a sparkline. */
  latencies?: Record<string, number[]>;
}) {
  return (
    <ScrollBox label="Hosts, scrolls sideways">
      {health.noPrimary && (
        <p className="error" role="alert">
          No host is the primary now: writes fail with no_primary until one is promoted (or the primary is
          back). Reads go on on the replicas.
        </p>
      )}
      <table aria-label="Hosts">
        <thead>
          <tr>
            <th scope="col">Host</th>
            <th scope="col">Role</th>
            <th scope="col">Now</th>
            <th scope="col">Health</th>
            <th scope="col">Timeline</th>
            <th scope="col">Replica lag</th>
            <th scope="col">Latency</th>
            <th scope="col">Role changed</th>
            <th scope="col">Last error</th>
          </tr>
        </thead>
        <tbody>
          {health.hosts.map((h) => {
            const d = duty(h);
            return (
              <tr key={`${h.host?.server}:${h.host?.port}`} data-testid={`host-${h.slot}`}>
                <td>
                  {h.host?.server}:{h.host?.port}
                  {h.slot && <span className="muted"> ({h.slot})</span>}
                </td>
                <td>
                  {h.role}
                  {down(h) && <span className="muted"> (last seen)</span>}
                  {h.configuredRole && h.configuredRole !== h.role && (
                    <span className="muted"> (saved as {h.configuredRole})</span>
                  )}
                </td>
                <td>{d.tone ? <span className={`badge ${d.tone}`}>{d.text}</span> : d.text}</td>
                <td>{STATUS_LABELS[h.status]}</td>
                <td>{h.timeline || "—"}</td>
                <td>{lagOf(h)}</td>
                <td className="latency">
                  {h.lastLatencyMs.toFixed(1)} ms
                  <Sparkline
                    values={latencies[h.slot] ?? []}
                    label={`Check latency of ${h.host?.server}:${h.host?.port}`}
                    unit="ms"
                  />
                </td>
                <td>{h.roleChangedAt ? timestampDate(h.roleChangedAt).toLocaleString() : "—"}</td>
                <td>{h.lastErrorReason || "—"}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </ScrollBox>
  );
}
