import { defineConfig } from "vitest/config";
import { serviceAvailable } from "./test/support/services.js";

/**
 * The suites that use the store and also run on a PostgreSQL store (BERTH_TEST_STORE=postgres:
 * a fresh database per test Berth, test/support/test-store.ts). The same files, not copies.
 */
const POSTGRES_STORE_SUITES = [
  "test/integration/rest-api.test.ts",
  "test/integration/authorization-matrix.test.ts",
  "test/integration/service-tokens.test.ts",
  "test/integration/users-rest.test.ts",
  "test/integration/audit.test.ts",
  "test/integration/audit-chain.test.ts",
  "test/integration/audit-retention-anchor.test.ts",
  "test/integration/revocation.test.ts",
  "test/integration/access-rest.test.ts",
  "test/integration/connection-fields-at-rest.test.ts",
  "test/integration/key-rotation.test.ts",
  "test/integration/secrets.test.ts",
  "test/integration/frontdoor-access.test.ts",
  "test/integration/nul-in-lookups.test.ts",
  "test/integration/instances.test.ts",
  "test/integration/bundles.test.ts",
  "test/integration/role-memory-restart.test.ts",
  "test/rpc/*.test.ts",
  "test/unit/principal-recheck.test.ts",
  "test/unit/front-door-accounts.test.ts",
  "test/unit/scram-verifiers.test.ts",
];

// Without a PostgreSQL on 127.0.0.1:5432 the postgres project is left out, and says so (under
// BERTH_TEST_REQUIRE_SERVICES=1, as in CI, the run fails instead).
const postgresProject = (await serviceAvailable("postgres"))
  ? [
      {
        extends: true as const,
        test: {
          name: "postgres",
          include: POSTGRES_STORE_SUITES,
          env: { BERTH_TEST_STORE: "postgres" },
          setupFiles: ["test/support/postgres-store-setup.ts"],
        },
      },
    ]
  : [];

export default defineConfig({
  test: {
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites start servers and clusters: two workers keep this 2-core machine responsive.
    maxWorkers: 2,
    reporters: ["default"],
    projects: [
      { extends: true, test: { name: "sqlite", include: ["test/**/*.test.ts"] } },
      ...postgresProject,
    ],
  },
});
