/** Audit event number `i` as a test appends it: every field distinct per event, none secret. */
export const sampleAuditEvent = (i: number) => ({
  actorId: `user-${i}`,
  actorName: `user ${i}`,
  source: "127.0.0.1",
  transport: "rest",
  action: "berth.v1.ConnectionService/GetConnection",
  target: `conn-${i}`,
  outcome: "ok",
  reason: "",
  requestId: `req-${i}`,
});
