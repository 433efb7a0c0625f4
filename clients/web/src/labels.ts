import { AccessLevel } from "../../../src/gen/berth/v1/access_service_pb.js";
import {
  CheckOutcome,
  CheckStage,
  ConnectionStatus,
  Engine,
  SslMode,
} from "../../../src/gen/berth/v1/types_pb.js";

/** What the console shows for each engine; ports, TLS modes and fields mirror src/engines/<id>. */
export const ENGINES: {
  value: Engine;
  id: string;
  label: string;
  port: number;
  sslModes: SslMode[];
  defaultSsl: SslMode;
  database: string;
}[] = [
  {
    value: Engine.POSTGRESQL,
    id: "postgresql",
    label: "PostgreSQL",
    port: 5432,
    sslModes: [SslMode.DISABLE, SslMode.PREFER, SslMode.REQUIRE, SslMode.VERIFY_CA, SslMode.VERIFY_FULL],
    defaultSsl: SslMode.PREFER,
    database: "Database",
  },
  {
    value: Engine.MYSQL,
    id: "mysql",
    label: "MySQL / MariaDB",
    port: 3306,
    sslModes: [SslMode.DISABLE, SslMode.PREFER, SslMode.REQUIRE, SslMode.VERIFY_CA, SslMode.VERIFY_FULL],
    defaultSsl: SslMode.PREFER,
    database: "Default schema",
  },
  {
    value: Engine.SQLSERVER,
    id: "sqlserver",
    label: "SQL Server",
    port: 1433,
    sslModes: [SslMode.DISABLE, SslMode.REQUIRE, SslMode.VERIFY_FULL],
    defaultSsl: SslMode.VERIFY_FULL,
    database: "Initial database",
  },
  {
    value: Engine.ORACLE,
    id: "oracle",
    label: "Oracle",
    port: 1521,
    sslModes: [SslMode.DISABLE, SslMode.VERIFY_CA, SslMode.VERIFY_FULL],
    defaultSsl: SslMode.DISABLE,
    database: "Service name",
  },
];

export const engineOf = (e: Engine) => ENGINES.find((x) => x.value === e) ?? ENGINES[0]!;

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
