/**
 * Numbered schema migrations of the PostgreSQL store, the same numbers with
 * the same meaning as `sqlite_migrations.ts`. Applied at open, each in its own
 * transaction under an advisory lock (replicas may start together), recorded
 * in `schema_migrations` of the store's schema.
 *
 * @module
 */

import type { Migration } from "./sqlite_migrations.ts";

/** The PostgreSQL migrations, ascending. */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
CREATE TABLE agents (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  mode TEXT NOT NULL,
  key_hash TEXT,
  via_org_key BOOLEAN NOT NULL DEFAULT FALSE,
  status TEXT NOT NULL DEFAULT 'OFFLINE',
  version TEXT,
  hostname TEXT,
  platform TEXT,
  created_at TEXT NOT NULL,
  connected_at TEXT,
  seen_at TEXT
);
-- slot pins the table to one row: one org key per gateway.
CREATE TABLE org_keys (
  slot INTEGER PRIMARY KEY CHECK (slot = 1),
  id TEXT NOT NULL,
  key_sealed TEXT NOT NULL,
  key_hash TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE connections (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  config_sealed TEXT NOT NULL,
  groups TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX connections_agent_id ON connections (agent_id);
-- email_key is the lower-cased email: lookups and uniqueness ignore case.
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL,
  email_key TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL,
  groups TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  revoked_at TEXT
);
CREATE INDEX tokens_user_id ON tokens (user_id);
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  user_email TEXT NOT NULL,
  connection_name TEXT NOT NULL,
  connection_type TEXT NOT NULL,
  agent_name TEXT NOT NULL,
  verb TEXT NOT NULL,
  status TEXT NOT NULL,
  exit_code INTEGER,
  bytes_in BIGINT NOT NULL DEFAULT 0,
  bytes_out BIGINT NOT NULL DEFAULT 0,
  truncated BOOLEAN NOT NULL DEFAULT FALSE,
  error TEXT,
  started_at TEXT NOT NULL,
  ended_at TEXT
);
CREATE INDEX sessions_started_at ON sessions (started_at);
CREATE INDEX sessions_status ON sessions (status);
CREATE TABLE session_events (
  session_id TEXT NOT NULL REFERENCES sessions (id),
  seq INTEGER NOT NULL,
  time TEXT NOT NULL,
  kind TEXT NOT NULL,
  data BYTEA NOT NULL,
  PRIMARY KEY (session_id, seq)
);
`,
  },
  {
    // Single sign-on: the directory identity (issuer, subject) a user was created from.
    version: 2,
    sql: `
CREATE TABLE user_identities (
  issuer TEXT NOT NULL,
  subject TEXT NOT NULL,
  user_id TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  PRIMARY KEY (issuer, subject)
);
`,
  },
  {
    // Single sign-on: the provider's refresh token behind a hoop token (sealed), rechecked
    // at the provider now and then.
    version: 3,
    sql: `
CREATE TABLE sso_grants (
  token_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  refresh_token_sealed TEXT NOT NULL,
  checked_at TEXT NOT NULL
);
CREATE INDEX sso_grants_checked_at ON sso_grants (checked_at);
`,
  },
  {
    // Session events a batch per row (gateway/store/event_batch.ts): one row per
    // recorder flush instead of one per event. The per-event table stays for reading.
    version: 4,
    sql: `
CREATE TABLE session_event_batches (
  session_id TEXT NOT NULL REFERENCES sessions (id),
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  events BYTEA NOT NULL,
  PRIMARY KEY (session_id, first_seq)
);
CREATE INDEX session_event_batches_last ON session_event_batches (session_id, last_seq);
`,
  },
];
