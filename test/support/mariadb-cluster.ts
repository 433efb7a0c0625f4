import { mysqlReplication } from "../../src/engines/mysql/replication.js";
import { startThrowawayMariadb, type ThrowawayMariadb } from "./throwaway-mariadb.js";
import { until } from "./waits.js";

/** The account Berth signs in with: no SUPER / READ_ONLY ADMIN, so read_only applies to it. */
export const BERTH_USER = "berth";
export const BERTH_PASSWORD = "mariadb-cluster-berth-pw";
const REPL_PASSWORD = "mariadb-cluster-repl-pw";

export interface MariadbCluster {
  primary: ThrowawayMariadb;
  replica: ThrowawayMariadb;
  /** The replica follows the primary again from where it is (GTID), e.g. after it was stopped. */
  follow(replica: ThrowawayMariadb, primary: ThrowawayMariadb): Promise<void>;
  /** Promotes a replica as HA tools do: `STOP SLAVE; SET GLOBAL read_only = 0`. */
  promote(replica: ThrowawayMariadb): Promise<void>;
  /** Waits until `replica` has applied everything `primary` has written. */
  caughtUp(replica: ThrowawayMariadb, primary: ThrowawayMariadb): Promise<void>;
  destroy(): Promise<void>;
}

/** `server_id` and binary log for every member; a replica also starts read-only, as it would be configured. */
const memberArgs = (serverId: number, readOnly: boolean) => [
  `--server-id=${serverId}`,
  "--log-bin=mariadb-bin",
  "--binlog-format=ROW",
  "--log-slave-updates=1",
  // A member restarted does not go back to following whoever it followed before on its own.
  "--skip-slave-start",
  ...(readOnly ? ["--read-only=1"] : []),
];

/**
 * A throwaway MariaDB primary and one GTID replica (two mariadbd on loopback ports, in temp dirs):
 * a replication account and Berth's account (without SUPER, so that `read_only` refuses its writes
 * with 1290) made on the primary and replicated, database `app`.
 */
export async function startMariadbCluster(): Promise<MariadbCluster> {
  const primary = await startThrowawayMariadb({ args: memberArgs(1, false) });
  const replica = await startThrowawayMariadb({ args: memberArgs(2, true) }).catch(async (err) => {
    await primary.destroy();
    throw err;
  });
  const gtid = async (server: ThrowawayMariadb, variable: string) =>
    String((await server.rows(`SELECT @@global.${variable} AS p`))[0]!.p ?? "");
  const cluster: MariadbCluster = {
    primary,
    replica,
    async follow(r, p) {
      await r.sql("STOP SLAVE");
      await r.sql("SET GLOBAL read_only = 1");
      await r.sql(
        `CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${p.port}, MASTER_USER='repl', MASTER_PASSWORD='${REPL_PASSWORD}', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1`,
      );
      await r.sql("START SLAVE");
    },
    async promote(r) {
      await r.sql("STOP SLAVE");
      await r.sql("SET GLOBAL read_only = 0");
    },
    async caughtUp(r, p) {
      const target = await gtid(p, "gtid_binlog_pos");
      await until(
        `the replica on ${r.port} applies ${target}`,
        async () => (mysqlReplication.compare(await gtid(r, "gtid_slave_pos"), target) ?? -1) >= 0,
        20_000,
      );
    },
    async destroy() {
      await replica.destroy();
      await primary.destroy();
    },
  };
  try {
    await primary.sql(`CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY '${REPL_PASSWORD}'`);
    await primary.sql("GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'");
    await primary.sql(`CREATE USER '${BERTH_USER}'@'127.0.0.1' IDENTIFIED BY '${BERTH_PASSWORD}'`);
    await primary.sql(
      `GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER, REPLICA MONITOR ON *.* TO '${BERTH_USER}'@'127.0.0.1'`,
    );
    await primary.sql("CREATE DATABASE app");
    await replica.sql("SET GLOBAL gtid_slave_pos = ''");
    await cluster.follow(replica, primary);
    await cluster.caughtUp(replica, primary);
  } catch (err) {
    await cluster.destroy();
    throw err;
  }
  return cluster;
}
