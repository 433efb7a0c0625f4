import type { EngineId } from "./statements.js";

/**
 * The schema browser's catalog queries, one set per engine, run through Berth's own data plane
 * (Execute) like any statement. Each returns its columns in the order the browser reads them:
 *   defaultSchema → [name]
 *   schemas       → [name]
 *   tables        → [name, kind ("table" | "view" | …)]
 *   columns       → [table, name, type, nullable]
 * Parameters use the engine's placeholder ($1, ?, @p1, :1); the schema name is always a parameter,
 * never spliced into the text.
 */
export interface CatalogQueries {
  defaultSchema: string;
  schemas: string;
  tables: string;
  /** Every column of every table and view of a schema: one query per schema opened. */
  columns: string;
  /** How many times `tables` and `columns` take the schema name (Oracle binds by position). */
  schemaParams: { tables: number; columns: number };
}

export const CATALOG: Record<EngineId, CatalogQueries> = {
  postgresql: {
    defaultSchema: "SELECT current_schema()",
    schemas: `SELECT n.nspname FROM pg_catalog.pg_namespace n
      WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
        AND has_schema_privilege(n.oid, 'USAGE')
      ORDER BY 1`,
    tables: `SELECT c.relname,
        CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
          WHEN 'f' THEN 'foreign table' ELSE 'table' END
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
      ORDER BY 1`,
    columns: `SELECT c.relname, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), NOT a.attnotnull
      FROM pg_catalog.pg_attribute a
      JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY c.relname, a.attnum`,
    schemaParams: { tables: 1, columns: 1 },
  },
  mysql: {
    defaultSchema: "SELECT DATABASE()",
    schemas: `SELECT schema_name FROM information_schema.schemata
      WHERE schema_name NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')
      ORDER BY 1`,
    tables: `SELECT table_name, CASE WHEN table_type LIKE '%VIEW' THEN 'view' ELSE 'table' END
      FROM information_schema.tables WHERE table_schema = ?
      ORDER BY 1`,
    columns: `SELECT table_name, column_name, column_type, is_nullable
      FROM information_schema.columns WHERE table_schema = ?
      ORDER BY table_name, ordinal_position`,
    schemaParams: { tables: 1, columns: 1 },
  },
  sqlserver: {
    defaultSchema: "SELECT SCHEMA_NAME()",
    // Fixed schemas of database roles (db_owner …) have ids from 16384 and hold no tables of users.
    schemas: `SELECT s.name FROM sys.schemas s
      WHERE s.schema_id < 16384 AND s.name NOT IN ('sys', 'INFORMATION_SCHEMA', 'guest')
      ORDER BY s.name`,
    tables: `SELECT o.name, CASE o.type WHEN 'V' THEN 'view' ELSE 'table' END
      FROM sys.objects o JOIN sys.schemas s ON s.schema_id = o.schema_id
      WHERE s.name = @p1 AND o.type IN ('U', 'V')
      ORDER BY o.name`,
    columns: `SELECT o.name, c.name, TYPE_NAME(c.user_type_id), c.is_nullable
      FROM sys.columns c
      JOIN sys.objects o ON o.object_id = c.object_id
      JOIN sys.schemas s ON s.schema_id = o.schema_id
      WHERE s.name = @p1 AND o.type IN ('U', 'V')
      ORDER BY o.name, c.column_id`,
    schemaParams: { tables: 1, columns: 1 },
  },
  oracle: {
    defaultSchema: "SELECT SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA') FROM DUAL",
    // Oracle's own accounts (SYS, SYSTEM, XDB …) are maintained by Oracle (12c and later).
    schemas: `SELECT username FROM all_users WHERE oracle_maintained = 'N'
      UNION SELECT SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA') FROM DUAL
      ORDER BY 1`,
    tables: `SELECT table_name, 'table' FROM all_tables WHERE owner = :1
      UNION ALL SELECT view_name, 'view' FROM all_views WHERE owner = :2
      ORDER BY 1`,
    columns: `SELECT table_name, column_name,
        data_type || CASE WHEN data_type IN ('VARCHAR2', 'NVARCHAR2', 'CHAR', 'NCHAR', 'RAW')
          THEN '(' || data_length || ')' END,
        nullable
      FROM all_tab_columns WHERE owner = :1
      ORDER BY table_name, column_id`,
    schemaParams: { tables: 2, columns: 1 },
  },
};

/** The catalogs' spellings of "may be NULL": a boolean, 1, YES (MySQL) or Y (Oracle). */
export const isNullableFlag = (text: string) => ["true", "1", "yes", "y"].includes(text.toLowerCase());
