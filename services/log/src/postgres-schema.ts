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
  {
    version: 3,
    description: 'lookup rows and counts keyed by the SHA-256 of kind/value (ledger_lookup, ledger_totals)',
    // A value is looked up by equality only, so its 32-byte hash serves as well as its text (71 bytes for a
    // sha256 digest, 135 for sha512) and makes every B-tree entry smaller: about half the cost of writing
    // a batch's rows and counts. The hash of `digest/<alg>:<hex>` or `commit/<hex>` (lookupKeyHash).
    sql: `
      CREATE TABLE ledger_lookup (
        value_hash bytea NOT NULL,
        idx bigint NOT NULL,
        key_id bytea NOT NULL,
        PRIMARY KEY (value_hash, idx)
      );
      INSERT INTO ledger_lookup (value_hash, idx, key_id)
      SELECT sha256(convert_to(CASE kind WHEN 0 THEN 'digest/' ELSE 'commit/' END || value, 'UTF8')), idx, key_id
      FROM ledger_index;
      -- Filtered lookups (key ids) read only their keys' rows, however many other keys flood the value.
      CREATE INDEX ledger_lookup_by_key ON ledger_lookup (value_hash, key_id, idx);
      CREATE TABLE ledger_totals (
        value_hash bytea PRIMARY KEY,
        n bigint NOT NULL
      );
      INSERT INTO ledger_totals (value_hash, n)
      SELECT sha256(convert_to(CASE kind WHEN 0 THEN 'digest/' ELSE 'commit/' END || value, 'UTF8')), n
      FROM ledger_counts;
      DROP TABLE ledger_index;
      DROP TABLE ledger_counts;
    `,
  },
  {
    version: 4,
    description: 'running counts in the lookup rows (ledger_lookup.n) instead of a table of counts',
    // A value's count as of a tree is the running count of its last row below it: one probe of the
    // primary key, as flood-resistant as a stored count, and also right for older trees. The sequencer
    // no longer updates a count row per value per batch (an upsert each: the largest part of a commit's
    // cost after the rows themselves).
    // The rows are copied into a new table with their counts and its indexes built after: an UPDATE of
    // every row would leave a dead version of each behind and update both indexes row by row.
    sql: `
      CREATE TABLE ledger_lookup_counted (
        value_hash bytea NOT NULL,
        idx bigint NOT NULL,
        key_id bytea NOT NULL,
        n bigint NOT NULL
      );
      INSERT INTO ledger_lookup_counted (value_hash, idx, key_id, n)
      SELECT value_hash, idx, key_id, row_number() OVER (PARTITION BY value_hash ORDER BY idx)
      FROM ledger_lookup;
      DROP TABLE ledger_lookup;
      ALTER TABLE ledger_lookup_counted RENAME TO ledger_lookup;
      ALTER TABLE ledger_lookup ADD CONSTRAINT ledger_lookup_pkey PRIMARY KEY (value_hash, idx);
      CREATE INDEX ledger_lookup_by_key ON ledger_lookup (value_hash, key_id, idx);
      DROP TABLE ledger_totals;
    `,
  },
]
