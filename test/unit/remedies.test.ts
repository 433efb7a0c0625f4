import { describe, expect, it } from "vitest";
import { REMEDIES, remedyFor } from "../../src/connections/remedies.js";

/**
 * The remedies are one table for every engine (a failure reason carries no engine), so a remedy
 * must not send a MySQL, SQL Server or Oracle user to PostgreSQL's files, nor the reverse.
 */
describe("remedies", () => {
  it("a rejected sign-in (MySQL's 1045 as much as PostgreSQL's 28P01) names no one engine's files", () => {
    const text = remedyFor("authentication_failed");
    expect(text).toMatch(/user name or password/);
    expect(text).not.toMatch(/pg_hba|postgresql\.conf|my\.cnf|tnsnames|sqlnet/i);
  });

  it("no remedy names an engine's configuration file without naming the engine", () => {
    const files = /pg_hba\.conf|postgresql\.conf|my\.cnf|tnsnames\.ora|sqlnet\.ora/;
    for (const [reason, text] of Object.entries(REMEDIES))
      if (files.test(text)) expect(text, reason).toMatch(/PostgreSQL|MySQL|MariaDB|Oracle|SQL Server/);
  });

  it("an unknown reason gets the general advice", () => {
    expect(remedyFor("no-such-reason")).toBe(REMEDIES.unknown);
  });
});
