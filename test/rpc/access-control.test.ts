import { Code, ConnectError } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { AccessLevel } from "../../src/gen/berth/v1/access_service_pb.js";
import { Engine } from "../../src/gen/berth/v1/types_pb.js";
import { ErrorInfoSchema } from "../../src/gen/google/rpc/error_details_pb.js";
import { inMemoryBerth } from "../support/in-memory.js";

type Mem = Awaited<ReturnType<typeof inMemoryBerth>>;
let m: Mem;
const ids: Record<string, string> = {};

async function codeOf(p: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await p;
    return "ok";
  } catch (err) {
    return ConnectError.from(err).code;
  }
}

const spec = (name: string) => ({
  name,
  type: Engine.POSTGRESQL,
  // A closed port: tests that are allowed get as far as the network and fail there (FAILED_PRECONDITION).
  server: "127.0.0.1",
  port: 1,
  database: "d",
  username: "u",
  password: "p",
});

beforeAll(async () => {
  m = await inMemoryBerth();
  for (const [name, h] of [
    ["alice", m.alice],
    ["bob", m.bob],
    ["carol", m.carol],
  ] as const) {
    ids[name] = (await m.auth.whoAmI({}, h)).user!.id;
  }
});

/** What each level may do, operation by operation: "ok", or the code it gets. */
const MATRIX: [string, Record<string, Code | "ok">][] = [
  [
    "none",
    {
      get: Code.NotFound,
      test: Code.NotFound,
      update: Code.NotFound,
      remove: Code.NotFound,
      grant: Code.NotFound,
    },
  ],
  [
    "viewer",
    {
      get: "ok",
      test: Code.PermissionDenied,
      update: Code.PermissionDenied,
      remove: Code.PermissionDenied,
      grant: Code.PermissionDenied,
    },
  ],
  [
    "user",
    {
      get: "ok",
      test: Code.FailedPrecondition,
      update: Code.PermissionDenied,
      remove: Code.PermissionDenied,
      grant: Code.PermissionDenied,
    },
  ],
  [
    "editor",
    {
      get: "ok",
      test: Code.FailedPrecondition,
      update: "ok",
      remove: Code.PermissionDenied,
      grant: Code.PermissionDenied,
    },
  ],
  ["admin", { get: "ok", test: Code.FailedPrecondition, update: "ok", remove: "ok", grant: "ok" }],
];

const LEVEL: Record<string, AccessLevel> = {
  viewer: AccessLevel.VIEWER,
  user: AccessLevel.USER,
  editor: AccessLevel.EDITOR,
  admin: AccessLevel.ADMIN,
};

describe("per-connection access levels", () => {
  it.each(MATRIX)("a user with %s access", async (level, expected) => {
    const { connection } = await m.connections.createConnection({ spec: spec(`matrix-${level}`) }, m.alice);
    const id = connection!.id;
    if (level !== "none") {
      await m.access.grantAccess(
        { connectionId: id, grantee: { case: "userId", value: ids.bob! }, accessLevel: LEVEL[level]! },
        m.alice,
      );
    }
    const { username: _u, password: _p, ...noCreds } = spec(`matrix-${level}`);
    const got = {
      get: await codeOf(m.connections.getConnection({ id }, m.bob)),
      test: await codeOf(
        m.connections.testConnection({ target: { case: "id", value: id }, timeoutMs: 500 }, m.bob),
      ),
      update: await codeOf(
        m.connections.updateConnection({ id, spec: { ...noCreds, description: "changed" } }, m.bob),
      ),
      grant: await codeOf(
        m.access.grantAccess(
          {
            connectionId: id,
            grantee: { case: "userId", value: ids.carol! },
            accessLevel: AccessLevel.VIEWER,
          },
          m.bob,
        ),
      ),
      remove: await codeOf(m.connections.deleteConnection({ id }, m.bob)),
    };
    expect(got).toEqual(expected);
  });

  it("lists only the connections one has a grant on", async () => {
    const { connection } = await m.connections.createConnection({ spec: spec("listed-for-carol") }, m.alice);
    const names = async () =>
      (await m.connections.listConnections({ pageSize: 500 }, m.carol)).connections.map((c) => c.name);
    expect(await names()).not.toContain("listed-for-carol");
    await m.access.grantAccess(
      {
        connectionId: connection!.id,
        grantee: { case: "userId", value: ids.carol! },
        accessLevel: AccessLevel.VIEWER,
      },
      m.alice,
    );
    expect(await names()).toContain("listed-for-carol");
    await m.access.revokeAccess(
      { connectionId: connection!.id, grantee: { case: "userId", value: ids.carol! } },
      m.alice,
    );
    expect(await names()).not.toContain("listed-for-carol");
    expect(await codeOf(m.connections.getConnection({ id: connection!.id }, m.carol))).toBe(Code.NotFound);
  });

  it("makes the creator owner, keeps the last owner, and lets only owners touch owners", async () => {
    const { connection } = await m.connections.createConnection({ spec: spec("owned") }, m.alice);
    const id = connection!.id;
    const list = await m.access.listAccess({ connectionId: id }, m.alice);
    expect(list.access).toEqual([
      expect.objectContaining({ userId: ids.alice, accessLevel: AccessLevel.OWNER }),
    ]);
    const last = ConnectError.from(
      await m.access
        .revokeAccess({ connectionId: id, grantee: { case: "userId", value: ids.alice! } }, m.alice)
        .catch((e) => e),
    );
    expect(last.code).toBe(Code.Aborted);
    expect(last.findDetails(ErrorInfoSchema)[0]?.metadata.reason).toBe("last_owner");
    // An admin of the connection may not make owners, nor remove one.
    await m.access.grantAccess(
      { connectionId: id, grantee: { case: "userId", value: ids.bob! }, accessLevel: AccessLevel.ADMIN },
      m.alice,
    );
    expect(
      await codeOf(
        m.access.grantAccess(
          {
            connectionId: id,
            grantee: { case: "userId", value: ids.carol! },
            accessLevel: AccessLevel.OWNER,
          },
          m.bob,
        ),
      ),
    ).toBe(Code.PermissionDenied);
    expect(
      await codeOf(
        m.access.revokeAccess({ connectionId: id, grantee: { case: "userId", value: ids.alice! } }, m.bob),
      ),
    ).toBe(Code.PermissionDenied);
    // With a second owner, the first may step down.
    await m.access.grantAccess(
      { connectionId: id, grantee: { case: "userId", value: ids.carol! }, accessLevel: AccessLevel.OWNER },
      m.alice,
    );
    expect(
      await codeOf(
        m.access.revokeAccess({ connectionId: id, grantee: { case: "userId", value: ids.alice! } }, m.alice),
      ),
    ).toBe("ok");
    expect(await codeOf(m.connections.getConnection({ id }, m.alice))).toBe(Code.NotFound);
  });

  it("grants to a Google address, validates grantees, and the global admin sees everything", async () => {
    const { connection } = await m.connections.createConnection({ spec: spec("google-grant") }, m.alice);
    const id = connection!.id;
    const g = await m.access.grantAccess(
      {
        connectionId: id,
        grantee: { case: "googleEmail", value: "Dev@Example.com" },
        accessLevel: AccessLevel.USER,
      },
      m.alice,
    );
    expect(g.access).toMatchObject({ googleEmail: "dev@example.com", accessLevel: AccessLevel.USER });
    expect(
      await codeOf(
        m.access.grantAccess(
          {
            connectionId: id,
            grantee: { case: "googleEmail", value: "not-an-email" },
            accessLevel: AccessLevel.USER,
          },
          m.alice,
        ),
      ),
    ).toBe(Code.InvalidArgument);
    expect(
      await codeOf(
        m.access.grantAccess(
          {
            connectionId: id,
            grantee: { case: "userId", value: "00000000-0000-4000-8000-000000000000" },
            accessLevel: AccessLevel.USER,
          },
          m.alice,
        ),
      ),
    ).toBe(Code.InvalidArgument);
    expect(
      await codeOf(
        m.access.grantAccess({ connectionId: id, grantee: { case: "userId", value: ids.bob! } }, m.alice),
      ),
    ).toBe(Code.InvalidArgument);
    expect(await codeOf(m.connections.getConnection({ id }, m.admin))).toBe("ok");
    expect((await m.access.listAccess({ connectionId: id }, m.admin)).access).toHaveLength(2);
  });
});
