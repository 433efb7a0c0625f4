import { AccessLevel } from "../../../src/gen/berth/v1/access_service_pb.js";
import { CheckOutcome, CheckStage, ConnectionStatus, SslMode } from "../../../src/gen/berth/v1/types_pb.js";

export const SSL_LABELS: Record<SslMode, string> = {
  [SslMode.UNSPECIFIED]: "default",
  [SslMode.DISABLE]: "disable — plain text",
  [SslMode.PREFER]: "prefer — TLS when offered",
  [SslMode.REQUIRE]: "require — TLS, certificate not checked",
  [SslMode.VERIFY_CA]: "verify-ca — TLS, trusted CA",
  [SslMode.VERIFY_FULL]: "verify-full — TLS, trusted CA and host name",
};

export const STATUS_LABELS: Record<ConnectionStatus, string> = {
  [ConnectionStatus.UNSPECIFIED]: "unknown",
  [ConnectionStatus.UNTESTED]: "untested",
  [ConnectionStatus.HEALTHY]: "healthy",
  [ConnectionStatus.DEGRADED]: "degraded",
  [ConnectionStatus.UNAVAILABLE]: "unavailable",
  [ConnectionStatus.FAILED]: "failed",
};

export const STAGE_LABELS: Record<CheckStage, string> = {
  [CheckStage.UNSPECIFIED]: "?",
  [CheckStage.CONFIG]: "Configuration",
  [CheckStage.CREDENTIALS]: "Credentials",
  [CheckStage.DNS]: "DNS",
  [CheckStage.TCP]: "TCP",
  [CheckStage.TLS]: "TLS",
  [CheckStage.AUTH]: "Sign-in",
  [CheckStage.QUERY]: "Query",
  [CheckStage.SSH_DNS]: "SSH: bastion DNS",
  [CheckStage.SSH_TCP]: "SSH: bastion TCP",
  [CheckStage.SSH_HANDSHAKE]: "SSH: handshake",
  [CheckStage.SSH_HOST_KEY]: "SSH: host key",
  [CheckStage.SSH_AUTH]: "SSH: sign-in",
  [CheckStage.SSH_FORWARD]: "SSH: forward",
};

export const OUTCOME_LABELS: Record<CheckOutcome, string> = {
  [CheckOutcome.UNSPECIFIED]: "?",
  [CheckOutcome.PASSED]: "passed",
  [CheckOutcome.FAILED]: "failed",
  [CheckOutcome.SKIPPED]: "skipped",
};

export const LEVELS: { value: AccessLevel; label: string }[] = [
  { value: AccessLevel.VIEWER, label: "viewer" },
  { value: AccessLevel.USER, label: "user" },
  { value: AccessLevel.EDITOR, label: "editor" },
  { value: AccessLevel.ADMIN, label: "admin" },
  { value: AccessLevel.OWNER, label: "owner" },
];

export const levelLabel = (l: AccessLevel) => LEVELS.find((x) => x.value === l)?.label ?? "none";
