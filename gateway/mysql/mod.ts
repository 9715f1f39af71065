/**
 * The gateway's MySQL side: the audit of what a session runs
 * (`statement_tap.ts`, over `packet_scanner.ts`).
 *
 * @module
 */
export {
  MAX_MYSQL_TAP_EXECUTE_BYTES,
  MAX_MYSQL_TAP_PREPARED,
  MAX_MYSQL_TAP_SQL_BYTES,
  MYSQL_TRUNCATION_MARKER,
  MysqlStatementTap,
  type MysqlTappedStatement,
} from "./statement_tap.ts";
export { PacketScanner } from "./packet_scanner.ts";
