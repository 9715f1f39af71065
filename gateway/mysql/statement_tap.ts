/**
 * {@linkcode MysqlStatementTap}, the gateway's audit observer of a relayed
 * MySQL session: every `COM_QUERY`, and every `COM_STMT_EXECUTE` with the
 * text of the statement it runs and its parameters, decoded with the types
 * the client sent. The server's side is read only for `COM_STMT_PREPARE_OK`
 * (which gives a statement's id and parameter count).
 *
 * The login (the client's packet with sequence id 1, holding the password
 * hash the agent ignores) is never looked at: commands start at sequence id 0.
 * It never throws; a malformed execution is recorded as such.
 *
 * @module
 */
import {
  Command,
  MysqlProtocolError,
  parsePrepareOk,
  parseStmtExecute,
} from "../../proto/mysql/mod.ts";
import { PacketScanner } from "./packet_scanner.ts";

/** Longest SQL text recorded; the rest is cut with {@linkcode MYSQL_TRUNCATION_MARKER}. */
export const MAX_MYSQL_TAP_SQL_BYTES = 64 * 1024;
/** Bytes of a `COM_STMT_EXECUTE` looked at; past it the parameters are not recorded. */
export const MAX_MYSQL_TAP_EXECUTE_BYTES = 64 * 1024;
/** Prepared statements remembered per session; past it the oldest are forgotten. */
export const MAX_MYSQL_TAP_PREPARED = 1024;
/** Appended to SQL cut by the tap's limits. */
export const MYSQL_TRUNCATION_MARKER = " …[truncated]";

/** A statement seen by {@linkcode MysqlStatementTap}. */
export interface MysqlTappedStatement {
  /** `query`: `COM_QUERY`; `execute`: an execution of a prepared statement. */
  kind: "query" | "execute";
  sql: string;
  params?: string[];
}

interface Prepared {
  sql: string;
  params: number;
  types?: number[];
  /** Parameters sent with `COM_STMT_SEND_LONG_DATA` since the last execution. */
  longData: Set<number>;
}

const dec = new TextDecoder();

/** Audit observer of both directions of a MySQL session. */
export class MysqlStatementTap {
  #onStatement: (s: MysqlTappedStatement) => void;
  #client: PacketScanner;
  #server: PacketScanner;
  /** SQL of the last `COM_STMT_PREPARE` waiting for its answer. */
  #preparing: string | undefined;
  #prepared = new Map<number, Prepared>();

  constructor(onStatement: (s: MysqlTappedStatement) => void) {
    this.#onStatement = onStatement;
    this.#client = new PacketScanner(
      (p) => p.seq === 0 && !p.continued ? MAX_MYSQL_TAP_SQL_BYTES + 1 : 0,
      (bytes, p) => this.#command(bytes, p.length),
    );
    this.#server = new PacketScanner(
      (p) => {
        if (p.seq !== 1 || p.continued) return 0;
        if (this.#preparing === undefined) return 0;
        return 12;
      },
      (bytes) => this.#prepareAnswer(bytes),
    );
  }

  /** Client → server bytes. */
  pushClient(chunk: Uint8Array): void {
    this.#client.push(chunk);
  }

  /** Server → client bytes. */
  pushServer(chunk: Uint8Array): void {
    this.#server.push(chunk);
  }

  #emit(s: MysqlTappedStatement): void {
    try {
      this.#onStatement(s);
    } catch {
      // The recorder's failure is not the relay's.
    }
  }

  #command(body: Uint8Array, length: number): void {
    if (body.length === 0) return;
    const cut = length > MAX_MYSQL_TAP_SQL_BYTES;
    const sql = () =>
      dec.decode(body.subarray(1, Math.min(body.length, MAX_MYSQL_TAP_SQL_BYTES + 1))) +
      (cut ? MYSQL_TRUNCATION_MARKER : "");
    switch (body[0]) {
      case Command.QUERY:
        this.#emit({ kind: "query", sql: sql() });
        break;
      case Command.STMT_PREPARE:
        this.#preparing = sql();
        break;
      case Command.STMT_EXECUTE:
        this.#execute(body, cut);
        break;
      case Command.STMT_SEND_LONG_DATA:
      case Command.STMT_RESET: {
        if (body.length < 5) break;
        const view = new DataView(body.buffer, body.byteOffset);
        const st = this.#prepared.get(view.getUint32(1, true));
        if (!st) break;
        if (body[0] === Command.STMT_RESET) st.longData.clear();
        else if (body.length >= 7) st.longData.add(view.getUint16(5, true));
        break;
      }
      case Command.STMT_CLOSE:
        if (body.length >= 5) {
          this.#prepared.delete(new DataView(body.buffer, body.byteOffset).getUint32(1, true));
        }
        break;
      case Command.INIT_DB:
        this.#emit({ kind: "query", sql: `USE \`${sql()}\`` });
        break;
    }
  }

  #prepareAnswer(bytes: Uint8Array): void {
    const sql = this.#preparing;
    this.#preparing = undefined;
    if (sql === undefined) return;
    const ok = parsePrepareOk(bytes);
    if (!ok) return;
    if (this.#prepared.size >= MAX_MYSQL_TAP_PREPARED) {
      this.#prepared.delete(this.#prepared.keys().next().value!);
    }
    this.#prepared.set(ok.statementId, { sql, params: ok.params, longData: new Set() });
  }

  #execute(body: Uint8Array, cut: boolean): void {
    if (body.length < 5) return;
    const id = new DataView(body.buffer, body.byteOffset).getUint32(1, true);
    const st = this.#prepared.get(id);
    if (!st) {
      this.#emit({ kind: "execute", sql: `-- prepared statement ${id}, not seen prepared` });
      return;
    }
    try {
      const ex = parseStmtExecute(body, st.params, st.types, st.longData);
      st.longData.clear();
      if (ex.types) st.types = ex.types;
      this.#emit({ kind: "execute", sql: st.sql, params: ex.values });
    } catch (err) {
      const why = err instanceof MysqlProtocolError ? err.message : String(err);
      this.#emit({
        kind: "execute",
        sql: st.sql,
        params: [cut ? `[parameters past ${MAX_MYSQL_TAP_EXECUTE_BYTES} bytes]` : `[${why}]`],
      });
    }
  }
}
