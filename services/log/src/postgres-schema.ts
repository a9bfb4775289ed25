// The log's PostgreSQL schema, as numbered migrations applied in order at start (postgres-store.ts).
// A migration is never edited once released: a change is a new migration at the end of the list.

/** One schema step: its version (1, 2, ...) and the SQL that takes the schema from version - 1 to it. */
export interface Migration {
  version: number
  description: string
  sql: string
}

/**
 * Key to the advisory lock held while migrating, so that two processes starting on one database at once
 * apply each migration once. (Distinct from the sequencer's leader lock.)
 */
export const MIGRATION_LOCK_KEY = 0x6c656467 // "ledg"

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'the log: meta, state, tiles, leaves, dedup, index rows and counts, witnessed checkpoint',
    sql: `
      -- One row each: what identifies the log, and the committed tree (size, compact range, checkpoint).
      CREATE TABLE ledger_meta (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        origin text NOT NULL,
        verifier_key text NOT NULL,
        created_at text NOT NULL
      );
      CREATE TABLE ledger_state (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        size bigint NOT NULL CHECK (size >= 0),
        compact_range bytea NOT NULL,
        checkpoint bytea NOT NULL
      );
      CREATE TABLE ledger_witnessed (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        note bytea NOT NULL
      );
      -- Hash tiles: a partial tile is replaced by the longer content that extends it; full ones never change.
      CREATE TABLE ledger_tiles (
        level smallint NOT NULL,
        idx bigint NOT NULL,
        data bytea NOT NULL,
        PRIMARY KEY (level, idx)
      );
      CREATE TABLE ledger_leaves (
        idx bigint PRIMARY KEY,
        leaf bytea NOT NULL
      );
      -- One entry per (key id, payload hash) (DESIGN §4).
      CREATE TABLE ledger_dedup (
        key_id bytea NOT NULL,
        payload_hash bytea NOT NULL,
        idx bigint NOT NULL,
        PRIMARY KEY (key_id, payload_hash)
      );
      -- kind 0: subject digest (<alg>:<hex>), 1: source commit. One row per entry and distinct value.
      CREATE TABLE ledger_index (
        kind smallint NOT NULL,
        value text NOT NULL,
        idx bigint NOT NULL,
        key_id bytea NOT NULL,
        PRIMARY KEY (kind, value, idx)
      );
      CREATE INDEX ledger_index_by_key ON ledger_index (kind, value, key_id, idx);
      CREATE TABLE ledger_counts (
        kind smallint NOT NULL,
        value text NOT NULL,
        n bigint NOT NULL,
        PRIMARY KEY (kind, value)
      );
    `,
  },
  {
    version: 2,
    description: 'submissions verified by processes that do not sequence, waiting for the one that does',
    sql: `
      CREATE TABLE ledger_pending (
        id bigserial PRIMARY KEY,
        leaf bytea NOT NULL,
        leaf_hash bytea NOT NULL,
        key_id bytea NOT NULL,
        payload_hash bytea NOT NULL,
        digests text[] NOT NULL,
        commits text[] NOT NULL,
        queued_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
]
