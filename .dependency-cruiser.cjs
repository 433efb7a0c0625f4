/**
 * Berth's layering, checked in CI (`npm run check:deps`). Dependencies point one way:
 *   server → services, frontdoor → domain (cluster, connections, pools, access, identity, audit, limits, engines, drivers)
 *          → foundation (store, crypto, errors, config, observability, gen).
 * src/app/ and src/core/ hold the parts of the composition root (app.ts, core.ts) and sit with them on top.
 * A cycle (type-only imports included) or an upward import fails the build.
 */
const FOUNDATION = "^src/(store|crypto|errors|config|observability)/";
const ABOVE_FOUNDATION = "^src/(cluster|connections|pools|services|server|frontdoor|access|identity|audit|limits|engines|drivers)/|^src/(app|core|main|cli)[.]ts$|^src/(app|core)/";
const DOMAIN = "^src/(cluster|connections|pools|access|identity|audit|limits|engines|drivers|crypto|store|errors|config|observability)/";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "Modules must not depend on themselves through others, not even through type-only imports.",
      from: {},
      to: { circular: true },
    },
    {
      name: "foundation-stays-below",
      severity: "error",
      comment: "store, crypto, errors, config and observability know nothing of the layers built on them.",
      from: { path: FOUNDATION },
      to: { path: ABOVE_FOUNDATION },
    },
    {
      name: "domain-below-services",
      severity: "error",
      comment: "The domain (connections, pools, access, identity, ...) does not call services or the server.",
      from: { path: DOMAIN },
      to: { path: "^src/(services|server|frontdoor|app)/|^src/(app|main|cli)[.]ts$" },
    },
    {
      name: "services-below-server",
      severity: "error",
      comment: "Services map proto to domain; transports (src/server) sit on top of them.",
      from: { path: "^src/services/" },
      to: { path: "^src/(server|app)/|^src/(app|main|cli)[.]ts$" },
    },
    {
      name: "src-not-test",
      severity: "error",
      comment: "Production code never imports test code.",
      from: { path: "^src/" },
      to: { path: "^test/" },
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      comment: "An import that resolves to nothing is a broken build.",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // TypeScript 7 has no compiler API for dependency-cruiser; swc parses the sources and keeps
    // type-only imports, so a cycle through types is still a cycle.
    parser: "swc",
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".js", ".mjs", ".cjs", ".json", ".d.ts"],
    },
  },
};
