/**
 * The embedded schema of the SQLite backend: its migrations (run by `@effect/sql`'s `Migrator`
 * from a record, under the store's table prefix) and the check that refuses to touch a database
 * whose tables of the same names were not made by sitq.
 *
 * Table `<prefix>tasks`: times are epoch milliseconds from Effect's `Clock`; enqueue order is the
 * rowid alias `seq`. Partial indexes keep the hot paths cheap however many finished tasks the
 * table holds: the claim walks `<prefix>tasks_pending` (pending only, in claim order) and
 * `<prefix>tasks_leased` (running only, by lease expiry); dedup keys are looked up in
 * `<prefix>tasks_key`; purge walks `<prefix>tasks_finished`. A migration, once released, is never
 * edited: a change is a new entry.
 *
 * @internal
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import { BackendError } from "../../Errors.js"

/**
 * The names of the objects a store with a given prefix owns.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export interface Names {
  readonly prefix: string
  /** The tasks table, quoted. */
  readonly tasks: string
  /** The tasks table, unquoted. */
  readonly tasksName: string
  /** The migrations table, unquoted (the Migrator quotes it). */
  readonly migrations: string
  /** Index names, unquoted. */
  readonly indexes: ReadonlyArray<string>
}

/**
 * The names of a store's objects for a (validated) prefix.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const names = (prefix: string): Names => ({
  prefix,
  tasks: `"${prefix}tasks"`,
  tasksName: `${prefix}tasks`,
  migrations: `${prefix}migrations`,
  indexes: ["pending", "leased", "key", "finished"].map((s) => `${prefix}tasks_${s}`)
})

/**
 * The columns of the tasks table as migration 1 creates them.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const taskColumns: ReadonlyArray<string> = [
  "seq",
  "id",
  "queue",
  "name",
  "payload",
  "priority",
  "status",
  "run_at",
  "attempts",
  "lease_owner",
  "lease_until",
  "enqueued_at",
  "started_at",
  "finished_at",
  "result",
  "error_tag",
  "error_message",
  "error_data",
  "traceback",
  "key"
]

/**
 * The embedded migrations, keyed `<id>_<name>` as `Migrator.fromRecord` expects.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const migrations = (
  n: Names
): Record<string, Effect.Effect<void, SqlError, SqlClient.SqlClient>> => ({
  "1_create_tasks": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const t = n.tasks
    const p = n.prefix
    yield* sql.unsafe(`
      CREATE TABLE ${t} (
        seq           INTEGER PRIMARY KEY,
        id            TEXT    NOT NULL UNIQUE,
        queue         TEXT    NOT NULL,
        name          TEXT    NOT NULL,
        payload       BLOB    NOT NULL,
        priority      INTEGER NOT NULL,
        status        TEXT    NOT NULL
          CHECK (status IN ('pending', 'in_progress', 'success', 'failed', 'cancelled')),
        run_at        INTEGER NOT NULL,
        attempts      INTEGER NOT NULL DEFAULT 0,
        lease_owner   TEXT,
        lease_until   INTEGER,
        enqueued_at   INTEGER NOT NULL,
        started_at    INTEGER,
        finished_at   INTEGER,
        result        BLOB,
        error_tag     TEXT,
        error_message TEXT,
        error_data    BLOB,
        traceback     TEXT,
        key           TEXT
      )`).raw
    yield* sql.unsafe(
      `CREATE INDEX "${p}tasks_pending" ON ${t} (queue, priority DESC, run_at, seq) WHERE status = 'pending'`
    ).raw
    yield* sql.unsafe(
      `CREATE INDEX "${p}tasks_leased" ON ${t} (queue, lease_until) WHERE status = 'in_progress'`
    ).raw
    yield* sql.unsafe(`CREATE INDEX "${p}tasks_key" ON ${t} (key) WHERE key IS NOT NULL`).raw
    // Partial on `finished_at IS NOT NULL` (set exactly when a task finishes), not on the status:
    // an index whose condition is an IN list on a column that claims and settles change makes
    // those updates markedly slower (measured: claim + settle ~40% slower).
    yield* sql.unsafe(
      `CREATE INDEX "${p}tasks_finished" ON ${t} (finished_at) WHERE finished_at IS NOT NULL`
    ).raw
  }),
  // The failure times of the current run ("t1,t2,..."), which durable retries replay their schedule with.
  "2_failure_times": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.unsafe(`ALTER TABLE ${n.tasks} ADD COLUMN failure_times TEXT NOT NULL DEFAULT ''`).raw)
})

/**
 * The ids and names of the embedded migrations.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const knownMigrations = (n: Names): ReadonlyMap<number, string> =>
  new Map(
    Object.keys(migrations(n)).map((key) => {
      const at = key.indexOf("_")
      return [Number(key.slice(0, at)), key.slice(at + 1)] as const
    })
  )

const schemaError = (message: string) => new BackendError({ reason: "Schema", message })

/**
 * Refuses a database whose objects named like this store's were not made by sitq: a tasks table
 * without sitq's migrations table or without sitq's columns, a migrations table of another shape,
 * or one that records migrations this version of sitq does not know (a newer sitq, another tool).
 * Reads only.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const check = (
  sql: SqlClient.SqlClient,
  n: Names
): Effect.Effect<void, BackendError | SqlError> =>
  Effect.gen(function*() {
    const wanted = [n.tasksName, n.migrations, ...n.indexes]
    const objects = yield* sql.unsafe<{ readonly type: string; readonly name: string; readonly tbl_name: string }>(
      `SELECT type, name, tbl_name FROM sqlite_master WHERE name IN (${wanted.map(() => "?").join(", ")})`,
      wanted
    )
    const byName = new Map(objects.map((o) => [o.name, o]))
    const tasks = byName.get(n.tasksName)
    const migrationsTable = byName.get(n.migrations)
    for (const o of objects) {
      if (o.name === n.tasksName || o.name === n.migrations) {
        if (o.type !== "table") {
          return yield* schemaError(`"${o.name}" exists in this database and is a ${o.type}, not sitq's table`)
        }
      } else if (o.type !== "index" || o.tbl_name !== n.tasksName) {
        return yield* schemaError(`"${o.name}" exists in this database and is not an index of sitq's tasks table`)
      }
    }
    if (migrationsTable !== undefined) {
      const columns = yield* sql.unsafe<{ readonly name: string }>(`SELECT name FROM pragma_table_info(?)`, [
        n.migrations
      ])
      const have = new Set(columns.map((c) => c.name))
      if (have.size !== 3 || !have.has("migration_id") || !have.has("name") || !have.has("created_at")) {
        return yield* schemaError(`table "${n.migrations}" exists in this database and is not sitq's migrations table`)
      }
      const known = knownMigrations(n)
      const done = yield* sql.unsafe<{ readonly migration_id: number; readonly name: string }>(
        `SELECT migration_id, name FROM "${n.migrations}" ORDER BY migration_id`
      )
      for (const row of done) {
        const name = known.get(row.migration_id)
        if (name === undefined) {
          return yield* schemaError(
            `table "${n.migrations}" records migration ${row.migration_id}_${row.name}, which this version of ` +
              `sitq does not know: the database was made by a newer sitq or by another tool`
          )
        }
        if (name !== row.name) {
          return yield* schemaError(
            `table "${n.migrations}" records migration ${row.migration_id}_${row.name} where sitq expects ` +
              `${row.migration_id}_${name}: it is not sitq's migrations table`
          )
        }
      }
      if (done.length > 0 && tasks === undefined) {
        return yield* schemaError(
          `table "${n.migrations}" records sitq's migrations but table "${n.tasksName}" is missing: ` +
            `the store was damaged (restore it, or drop "${n.migrations}" to start empty)`
        )
      }
    } else if (tasks !== undefined) {
      return yield* schemaError(
        `table "${n.tasksName}" exists in this database but was not created by sitq (no "${n.migrations}" table); ` +
          `choose another table prefix`
      )
    }
    if (tasks !== undefined) {
      const columns = yield* sql.unsafe<{ readonly name: string }>(`SELECT name FROM pragma_table_info(?)`, [
        n.tasksName
      ])
      const have = new Set(columns.map((c) => c.name))
      const missing = taskColumns.filter((c) => !have.has(c))
      if (missing.length > 0) {
        return yield* schemaError(
          `table "${n.tasksName}" exists in this database but lacks sitq's columns (${missing.join(", ")})`
        )
      }
    }
  })
