/**
 * The agent's MySQL / MariaDB server side: the front end that answers a
 * client's handshake and relays it (`front_end.ts`), the login to the real
 * server per `ssl-mode` (`login.ts`, `auth.ts`) and the refusal of
 * `COM_CHANGE_USER` (`command_filter.ts`). The wire codec is `proto/mysql/`.
 *
 * @module
 */
export { serveMysql, type ServeMysqlOptions } from "./front_end.ts";
export { loginMysql, MysqlConnectError, openMysql } from "./login.ts";
export { CHANGE_USER_REFUSED, CommandFilter } from "./command_filter.ts";
