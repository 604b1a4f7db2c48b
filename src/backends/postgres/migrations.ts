/**
 * The embedded migrations of the PostgreSQL backend, run by `@effect/sql`'s `Migrator` inside the
 * store's own schema (table `sitq_migrations`). Each migration is an Effect over `SqlClient`; the
 * record is keyed `<id>_<name>` as `Migrator.fromRecord` expects. A migration, once released, is
 * never edited: a change is a new entry.
 *
 * @since 0.1.0
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"

/**
 * The name of the migrations table, created inside the store's schema.
 *
 * @since 0.1.0
 * @category constants
 */
export const migrationsTable = "sitq_migrations"

/**
 * The migrations for a store in `schema` (an already validated, lower-case identifier).
 *
 * Table `tasks`: times are epoch milliseconds from Effect's `Clock` (`bigint`), enqueue order is
 * the identity column `seq`. Partial indexes keep the hot paths cheap however many finished tasks
 * the table holds: the claim scans `tasks_pending` (pending only, in claim order) and
 * `tasks_leased` (running only, by lease expiry); dedup keys are unique among live tasks only;
 * purge walks `tasks_finished`.
 *
 * @since 0.1.0
 * @category migrations
 */
export const migrations = (
  schema: string
): Record<string, Effect.Effect<void, SqlError, SqlClient.SqlClient>> => ({
  "1_create_tasks": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const s = `"${schema}"`
    yield* sql.unsafe(`
      CREATE TABLE ${s}.tasks (
        id            text    PRIMARY KEY,
        seq           bigint  GENERATED ALWAYS AS IDENTITY,
        queue         text    NOT NULL,
        name          text    NOT NULL,
        payload       bytea   NOT NULL,
        priority      integer NOT NULL,
        status        text    NOT NULL
          CHECK (status IN ('pending', 'in_progress', 'success', 'failed', 'cancelled')),
        run_at        bigint  NOT NULL,
        attempts      integer NOT NULL DEFAULT 0,
        lease_owner   text,
        lease_until   bigint,
        enqueued_at   bigint  NOT NULL,
        started_at    bigint,
        finished_at   bigint,
        result        bytea,
        error_tag     text,
        error_message text,
        error_data    bytea,
        traceback     text,
        key           text
      )`).raw
    yield* sql.unsafe(`CREATE UNIQUE INDEX tasks_seq ON ${s}.tasks (seq)`).raw
    yield* sql.unsafe(
      `CREATE INDEX tasks_pending ON ${s}.tasks (queue, priority DESC, run_at, seq) WHERE status = 'pending'`
    ).raw
    yield* sql.unsafe(
      `CREATE INDEX tasks_leased ON ${s}.tasks (queue, lease_until) WHERE status = 'in_progress'`
    ).raw
    yield* sql.unsafe(
      `CREATE UNIQUE INDEX tasks_key ON ${s}.tasks (key)
       WHERE key IS NOT NULL AND status IN ('pending', 'in_progress')`
    ).raw
    yield* sql.unsafe(
      `CREATE INDEX tasks_finished ON ${s}.tasks (finished_at)
       WHERE status IN ('success', 'failed', 'cancelled')`
    ).raw
  }),
  // The failure times of the current run ("t1,t2,..."), which durable retries replay their schedule with.
  "2_failure_times": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.unsafe(`ALTER TABLE "${schema}".tasks ADD COLUMN failure_times text NOT NULL DEFAULT ''`).raw)
})
