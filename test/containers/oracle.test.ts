import { GenericContainer, Wait } from "testcontainers";
import { Engine } from "../../src/gen/berth/v1/types_pb.js";
import { engineContainerSuite } from "./engine-suite.js";

const PASSWORD = "BerthTest_pw1";

await engineContainerSuite({
  name: "oracle",
  engine: Engine.ORACLE,
  start: () =>
    new GenericContainer("gvenzl/oracle-free:23-slim-faststart")
      .withEnvironment({ ORACLE_PASSWORD: PASSWORD, APP_USER: "berth", APP_USER_PASSWORD: PASSWORD })
      .withExposedPorts(1521)
      .withWaitStrategy(Wait.forLogMessage(/DATABASE IS READY TO USE!/))
      .withStartupTimeout(600_000)
      .start(),
  spec: (server, port) => ({
    server,
    port,
    database: "FREEPDB1",
    username: "berth",
    password: PASSWORD,
    sslMode: "disable",
  }),
  badPasswordCode: "ORA-01017",
  series100k: "SELECT LEVEL AS n FROM DUAL CONNECT BY LEVEL <= 100000",
  sleep10s: "BEGIN DBMS_SESSION.SLEEP(10); END;",
  createTable: (t) => `CREATE TABLE ${t} (id NUMBER(10))`,
});
