import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites start servers and clusters: two workers keep this 2-core machine responsive.
    maxWorkers: 2,
    reporters: ["default"],
  },
});
