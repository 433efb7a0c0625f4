import { describe, expect, it } from "vitest";
import { classifyStatement, resetStatement, setStatement } from "../../src/frontdoor/statement-kind.js";

describe("classifyStatement", () => {
  it.each([
    "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
    "insert into t values (1)",
    "select 'set me free'",
    "BEGIN",
    "SET LOCAL statement_timeout = 5",
    "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
    "UPDATE accounts SET balance = balance - 1 WHERE id = $1",
    "select 'what to do today'",
    "DO $$ BEGIN RAISE NOTICE 'hello'; END $$",
  ])("plain: %s", (sql) => expect(classifyStatement(sql).kind).toBe("plain"));

  it.each([
    ["LISTEN jobs", "LISTEN"],
    ["create temp table x (a int)", "a temporary table"],
    ["CREATE GLOBAL TEMPORARY TABLE x (a int)", "a temporary table"],
    ["select * into temp t from y", "a temporary table"],
    ["select pg_advisory_lock(1)", "a session advisory lock"],
    ["DECLARE c CURSOR WITH HOLD FOR select 1", "a cursor WITH HOLD"],
    ["PREPARE q AS select 1", "PREPARE in SQL"],
    ["select set_config('search_path', 'x', false)", "set_config()"],
    ["SET search_path = a; select 1", "a SET among other statements"],
    ["SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", "a SET Berth cannot follow"],
    ["DEALLOCATE q", "DISCARD/DEALLOCATE"],
    ["SET x = 'a;b'; SET y = 1", "a SET Berth cannot follow"],
    // What a comment, a leading statement or a schema name could hide (a review found these).
    ["SELECT 1; LISTEN ch", "LISTEN"],
    ["/* app */ LISTEN ch", "LISTEN"],
    ["-- c\n LISTEN ch", "LISTEN"],
    ["CREATE OR REPLACE TEMP VIEW v AS select 1", "a temporary table"],
    ["CREATE TABLE pg_temp.t (a int)", "a temporary table"],
    ["SELECT * INTO pg_temp.t FROM y", "a temporary table"],
    ["DO $$ BEGIN EXECUTE 'SET search_path=x'; END $$", "a DO block that may change the session"],
    ["SELECT 'a;b'; SET x = 1", "a SET Berth cannot follow"],
  ])("pins: %s", (sql, why) => expect(classifyStatement(sql)).toEqual({ kind: "pin", why }));

  it("follows SET and RESET of every form", () => {
    expect(classifyStatement("SET search_path TO app, public")).toEqual({
      kind: "settings",
      changes: [{ op: "set", key: "search_path", statement: "SET search_path TO app, public" }],
    });
    expect(classifyStatement('set session "Weird.Name" = 1;').kind).toBe("settings");
    expect(classifyStatement("SET TIME ZONE 'UTC'")).toMatchObject({ changes: [{ key: "timezone" }] });
    expect(classifyStatement("SET ROLE reader")).toMatchObject({ changes: [{ key: "role" }] });
    expect(classifyStatement("RESET ROLE")).toEqual({
      kind: "settings",
      changes: [{ op: "reset", key: "role" }],
    });
    expect(classifyStatement("RESET ALL")).toEqual({ kind: "settings", changes: [{ op: "reset_all" }] });
    expect(classifyStatement("SET a = 1; SET b = 2")).toMatchObject({
      changes: [{ key: "a" }, { key: "b" }],
    });
  });

  it("knows what makes a backend forget its prepared statements", () => {
    expect(classifyStatement("DISCARD ALL").kind).toBe("forget_prepared");
    expect(classifyStatement("deallocate all;").kind).toBe("forget_prepared");
  });

  it("quotes what it replays", () => {
    expect(setStatement("application_name", "it's")).toBe(`SET "application_name" TO 'it''s'`);
    expect(resetStatement("role")).toBe("RESET ROLE");
    expect(resetStatement('a"b')).toBe('RESET "a""b"');
  });
});
