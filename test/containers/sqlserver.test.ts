import { GenericContainer, Wait } from "testcontainers";
import { Engine } from "../../src/gen/berth/v1/types_pb.js";
import { engineContainerSuite } from "./engine-suite.js";

const SA_PASSWORD = "Berth-Test-Passw0rd!";

await engineContainerSuite({
  name: "sqlserver",
  engine: Engine.SQLSERVER,
  start: () =>
    new GenericContainer("mcr.microsoft.com/mssql/server:2022-latest")
      .withEnvironment({ ACCEPT_EULA: "Y", MSSQL_SA_PASSWORD: SA_PASSWORD })
      .withExposedPorts(1433)
      .withWaitStrategy(Wait.forLogMessage(/SQL Server is now ready for client connections/))
      .withStartupTimeout(300_000)
      .start(),
  // The image's certificate is self-signed: require encrypts without verifying it.
  spec: (server, port) => ({
    server,
    port,
    database: "master",
    username: "sa",
    password: SA_PASSWORD,
    sslMode: "require",
  }),
  badPasswordCode: "18456",
  series100k:
    "SELECT TOP 100000 ROW_NUMBER() OVER (ORDER BY (SELECT NULL)) AS n FROM sys.all_objects a CROSS JOIN sys.all_objects b",
  sleep10s: "WAITFOR DELAY '00:00:10'",
  createTable: (t) => `CREATE TABLE ${t} (id int)`,
});
