/**
 * `SqliteBackend`: the embedded, durable backend. Tasks live in one table of a SQLite database
 * file (through `@effect/sql-sqlite-node`, better-sqlite3 underneath), so they survive restarts,
 * and several worker processes can share one file: every claim is one `UPDATE … RETURNING` under
 * SQLite's write lock (`BEGIN IMMEDIATE`), so no two processes ever claim the same task while both
 * hold live leases.
 *
 * - `SqliteBackend.layer({ filename })` opens its own connection (WAL mode, a busy timeout) and
 *   creates or upgrades the schema with `@effect/sql`'s `Migrator`.
 * - `SqliteBackend.layerClient()` uses the application's `SqlClient`, so that an enqueue inside the
 *   application's `sql.withTransaction` commits or rolls back with it.
 *
 * Events are pushed within the process (one hub per database file, shared by every layer opened on
 * it); across processes, workers poll.
 *
 * @since 0.1.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { Cause, Clock, Config, Effect, Exit, Layer, Option, Predicate, Scope } from "effect"
import type { ConfigError, PubSub } from "effect"
import { closeSync, openSync, readSync, statSync } from "node:fs"
import type * as B from "../../Backend.js"
import { Backend, emptyStats } from "../../Backend.js"
import { BackendError } from "../../Errors.js"
import * as Events from "../kit/events.js"
import { guarded } from "../kit/guard.js"
import * as order from "../kit/order.js"
import type { Retention } from "../kit/purge.js"
import { inBatches, retain } from "../kit/purge.js"
import type { TaskRow } from "../kit/rows.js"
import { failureOf, toRecord } from "../kit/rows.js"
import * as Hub from "./hub.js"
import * as Schema from "./migrations.js"

// -----------------------------------------------------------------------------------------------
// options
// -----------------------------------------------------------------------------------------------

/**
 * Options of {@link layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The database file (created if missing). `":memory:"` gives a private in-memory database. */
  readonly filename: string
  /** Prefix of the store's tables and indexes (default `"sitq_"`): several stores can share a file. */
  readonly prefix?: string | undefined
  /** How long a statement waits for another process's write lock, in milliseconds (default 5000). */
  readonly busyTimeout?: number | undefined
  /**
   * When commits reach the disk. `"normal"` (default; SQLite's advice for WAL mode): a commit
   * survives a crash of the process, and the last commits before a power loss or OS crash may be
   * lost (the file stays consistent). `"full"`: every commit is synced, surviving power loss too,
   * at the price of one fsync per claim, settle and enqueue.
   */
  readonly synchronous?: "normal" | "full" | undefined
  /**
   * How long finished tasks are kept before a scheduled purge deletes them (`"7 days"`, or
   * `{ finishedOlderThan, every }`; the purge runs every minute by default); default: kept until
   * `purge`.
   */
  readonly retention?: Retention | undefined
}

/**
 * Options of {@link layerClient}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientOptions {
  /** Prefix of the store's tables and indexes (default `"sitq_"`). */
  readonly prefix?: string | undefined
  /** How long finished tasks are kept (see {@link Options}); default: kept until `purge`. */
  readonly retention?: Retention | undefined
}

/**
 * The default table prefix.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultPrefix = "sitq_"

const defaultBusyTimeout = 5000

/** Rows per multi-row statement: far under SQLite's 32766 bound variables, cheap to prepare. */
const CHUNK = 500
/** Rows deleted per purge statement, so that other processes get the write lock in between. */
const PURGE_BATCH = 1000
/** Above this many (queue, priority) pairs, a claim scans instead (SQLite caps compound selects at 500). */
const MAX_BRANCHES = 100

// -----------------------------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------------------------

const sqliteCode = (error: unknown): string | undefined => {
  let current: unknown = error
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    if (Predicate.hasProperty(current, "code") && typeof current.code === "string" && current.code.startsWith("SQLITE_")) {
      return current.code
    }
    current = Predicate.hasProperty(current, "cause") ? current.cause : undefined
  }
  return undefined
}

const describe = (error: unknown): string => {
  let current: unknown = error
  let message = ""
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    if (Predicate.hasProperty(current, "message") && typeof current.message === "string" && current.message !== "") {
      message = current.message
    }
    current = Predicate.hasProperty(current, "cause") ? current.cause : undefined
  }
  return message === "" ? String(error) : message
}

const isClosed = (error: unknown): boolean => /connection is not open|database is closed/i.test(describe(error))

/** Maps a failed statement to a `BackendError`. */
const queryError = (operation: string) => (error: SqlError): BackendError => {
  const code = sqliteCode(error) ?? ""
  const reason = isClosed(error)
    ? "Closed"
    : code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")
    ? "Unavailable"
    : "Query"
  return new BackendError({ reason, message: `sqlite ${operation} failed: ${describe(error)}`, cause: error })
}

/**
 * Maps a failure while opening a store: the file cannot be used (`Connect`), or `fallback` when
 * SQLite accepted the file but not what was asked of it.
 */
const startError = (filename: string, error: unknown, fallback: "Connect" | "Schema"): BackendError => {
  if (error instanceof BackendError) return error
  const code = sqliteCode(error) ?? ""
  const what = `sqlite database ${JSON.stringify(filename)}`
  if (code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT")) {
    return new BackendError({
      reason: "Connect",
      message: `${what} is not a SQLite database or is corrupt (${describe(error)}); it was left untouched`,
      cause: error
    })
  }
  if (
    code.startsWith("SQLITE_READONLY") || code.startsWith("SQLITE_CANTOPEN") || code.startsWith("SQLITE_PERM") ||
    code.startsWith("SQLITE_AUTH") || code.startsWith("SQLITE_IOERR") || code.startsWith("SQLITE_BUSY") ||
    code.startsWith("SQLITE_LOCKED") || code === "SQLITE_FULL"
  ) {
    return new BackendError({
      reason: "Connect",
      message: `cannot open ${what} for writing: ${describe(error)}`,
      cause: error
    })
  }
  if (fallback === "Connect") {
    return new BackendError({ reason: "Connect", message: `cannot open ${what}: ${describe(error)}`, cause: error })
  }
  return new BackendError({
    reason: "Schema",
    message: `cannot create or upgrade sitq's schema in ${what}: ${describe(error)}`,
    cause: error
  })
}

// -----------------------------------------------------------------------------------------------
// rows
// -----------------------------------------------------------------------------------------------

type Row = TaskRow & { readonly seq: number; readonly priority: number; readonly run_at: number }

const claimOrder = order.claimOrder((row: Row) => [row.priority, row.run_at, row.seq])

const chunks = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/** Memoizes statement texts by shape (row count, queue count, filter). */
const memo = <K>(build: (k: K) => string): (k: K) => string => {
  const cache = new Map<K, string>()
  return (k) => {
    let text = cache.get(k)
    if (text === undefined) {
      text = build(k)
      cache.set(k, text)
    }
    return text
  }
}

const placeholders = (count: number, width: number): string => {
  const row = `(${Array.from({ length: width }, () => "?").join(", ")})`
  return Array.from({ length: count }, () => row).join(", ")
}

const list = (count: number): string => Array.from({ length: count }, () => "?").join(", ")

const ACTIVE = `status IN ('pending', 'in_progress')`

/**
 * CTEs `q(name)`: the queues (one parameter each), and `p(queue, x)`: the distinct priorities of
 * their pending tasks, highest first, each found by one lookup in the claim index.
 */
const priorities = (t: string, queues: number): string =>
  `q(name) AS (VALUES ${placeholders(queues, 1)}),
   p(queue, x) AS (
     SELECT name, (SELECT max(priority) FROM ${t} WHERE status = 'pending' AND queue = q.name) FROM q
     UNION ALL
     SELECT p.queue, (SELECT max(priority) FROM ${t} WHERE status = 'pending' AND queue = p.queue AND priority < p.x)
     FROM p WHERE p.x IS NOT NULL
   )`

const SETTLE_KIND = { Succeeded: 0, Failed: 1, Retrying: 2, Released: 3 } as const

// -----------------------------------------------------------------------------------------------
// statements
// -----------------------------------------------------------------------------------------------

const statements = (t: string) => ({
  insertPlain: memo((n: number) =>
    `INSERT INTO ${t} (id, queue, name, payload, priority, run_at, key, status, attempts, enqueued_at)
     SELECT column1, column2, column3, column4, column5, column6, column7, 'pending', 0, ?
     FROM (VALUES ${placeholders(n, 7)})`
  ),
  insertDedup: memo((n: number) =>
    `INSERT INTO ${t} (id, queue, name, payload, priority, run_at, key, status, attempts, enqueued_at)
     SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7, 'pending', 0, ?
     FROM (VALUES ${placeholders(n, 7)}) AS v
     WHERE v.column7 IS NULL
        OR NOT EXISTS (SELECT 1 FROM ${t} AS e WHERE e.key = v.column7 AND e.${ACTIVE})
     RETURNING id`
  ),
  liveKeys: memo((n: number) =>
    `SELECT id, key FROM ${t} WHERE key IN (${list(n)}) AND ${ACTIVE} ORDER BY seq DESC`
  ),
  // The distinct (queue, priority) pairs of pending tasks, by a skip scan of the claim index.
  pendingPriorities: memo((queues: number) =>
    `WITH RECURSIVE ${priorities(t, queues)} SELECT queue, x FROM p WHERE x IS NOT NULL`
  ),
  // One branch per (queue, priority) pair: each reads only the due part of its range of the claim
  // index, already in claim order, and the merge stops after `limit` rows, so that pending tasks
  // not yet due (any number of them) are never read. One UPDATE: SQLite takes the write lock
  // before it reads, so no other process can claim the same rows.
  claim: memo((shape: string) => {
    const [pairs, queues] = shape.split(":").map(Number)
    const branches = Array.from(
      { length: pairs },
      () => `SELECT seq, priority, run_at FROM ${t} WHERE status = 'pending' AND queue = ? AND priority = ? AND run_at <= ?`
    )
    branches.push(
      `SELECT seq, priority, run_at FROM ${t} WHERE status = 'in_progress' AND queue IN (${list(queues)}) AND lease_until <= ?`
    )
    return `UPDATE ${t}
     SET status = 'in_progress', attempts = attempts + 1, lease_owner = ?, lease_until = ?, started_at = ?
     WHERE seq IN (
       SELECT seq FROM (${branches.join(" UNION ALL ")} ORDER BY priority DESC, run_at, seq LIMIT ?)
     )
     RETURNING *`
  }),
  // The same in one scan of the claim index per queue: for stores with very many distinct priorities.
  claimScan: memo((queues: number) =>
    `UPDATE ${t}
     SET status = 'in_progress', attempts = attempts + 1, lease_owner = ?, lease_until = ?, started_at = ?
     WHERE seq IN (
       SELECT seq FROM (
         SELECT seq, priority, run_at FROM ${t}
         WHERE status = 'pending' AND queue IN (${list(queues)}) AND run_at <= ?
         UNION ALL
         SELECT seq, priority, run_at FROM ${t}
         WHERE status = 'in_progress' AND queue IN (${list(queues)}) AND lease_until <= ?
         ORDER BY priority DESC, run_at, seq
         LIMIT ?
       )
     )
     RETURNING *`
  ),
  heartbeat: memo((n: number) =>
    `WITH l(id, owner, attempt) AS (VALUES ${placeholders(n, 3)})
     UPDATE ${t} SET lease_until = ?
     FROM l
     WHERE ${t}.id = l.id AND ${t}.status = 'in_progress' AND ${t}.lease_owner = l.owner
       AND ${t}.attempts = l.attempt
     RETURNING id, lease_owner, attempts`
  ),
  settle: memo((n: number) =>
    `WITH c(now) AS (SELECT ?),
          o(id, owner, attempt, kind, run_at, result, etag, emsg, edata, tb, ft) AS (VALUES ${placeholders(n, 11)})
     UPDATE ${t} SET
       status = CASE o.kind WHEN 0 THEN 'success' WHEN 1 THEN 'failed' ELSE 'pending' END,
       run_at = CASE o.kind WHEN 2 THEN o.run_at ELSE ${t}.run_at END,
       attempts = CASE o.kind WHEN 3 THEN ${t}.attempts - 1 ELSE ${t}.attempts END,
       lease_owner = NULL,
       lease_until = NULL,
       finished_at = CASE WHEN o.kind < 2 THEN c.now ELSE ${t}.finished_at END,
       result = CASE o.kind WHEN 0 THEN o.result ELSE ${t}.result END,
       error_tag = CASE o.kind WHEN 0 THEN NULL WHEN 3 THEN ${t}.error_tag ELSE o.etag END,
       error_message = CASE o.kind WHEN 0 THEN NULL WHEN 3 THEN ${t}.error_message ELSE o.emsg END,
       error_data = CASE o.kind WHEN 0 THEN NULL WHEN 3 THEN ${t}.error_data ELSE o.edata END,
       traceback = CASE o.kind WHEN 0 THEN NULL WHEN 3 THEN ${t}.traceback ELSE o.tb END,
       failure_times = CASE WHEN o.kind IN (1, 2) THEN o.ft ELSE ${t}.failure_times END
     FROM o, c
     WHERE ${t}.id = o.id AND ${t}.status = 'in_progress' AND ${t}.lease_owner = o.owner
       AND ${t}.attempts = o.attempt
     RETURNING id, queue, status`
  ),
  cancel: `UPDATE ${t} SET status = 'cancelled', finished_at = ?, lease_owner = NULL, lease_until = NULL
           WHERE id = ? AND ${ACTIVE} RETURNING id`,
  retry: `UPDATE ${t} SET status = 'pending', run_at = ?, attempts = 0, lease_owner = NULL, lease_until = NULL,
             started_at = NULL, finished_at = NULL, result = NULL, error_tag = NULL, error_message = NULL,
             error_data = NULL, traceback = NULL, failure_times = ''
           WHERE id = ? AND status IN ('failed', 'cancelled')
             AND (key IS NULL OR NOT EXISTS (SELECT 1 FROM ${t} AS o WHERE o.key = ${t}.key AND o.${ACTIVE}))
           RETURNING queue`,
  status: `SELECT status FROM ${t} WHERE id = ?`,
  get: `SELECT * FROM ${t} WHERE id = ?`,
  stats: `SELECT status, count(*) AS n FROM ${t} GROUP BY status`,
  statsQueue: `SELECT status, count(*) AS n FROM ${t} WHERE queue = ? GROUP BY status`,
  nextWakeAt: memo((queues: number) =>
    `WITH RECURSIVE ${priorities(t, queues)}
     SELECT min(at) AS at FROM (
       SELECT (SELECT min(run_at) FROM ${t} WHERE status = 'pending' AND queue = p.queue AND priority = p.x) AS at
       FROM p WHERE p.x IS NOT NULL
       UNION ALL
       SELECT min(lease_until) AS at FROM ${t} WHERE status = 'in_progress' AND queue IN (${list(queues)})
     )`
  )
})

// -----------------------------------------------------------------------------------------------
// the backend
// -----------------------------------------------------------------------------------------------

/** Statements on one connection. */
interface Db {
  readonly all: <A>(text: string, params: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<A>, SqlError>
  readonly run: (text: string, params: ReadonlyArray<unknown>) => Effect.Effect<unknown, SqlError>
}

const dbOf = (conn: Connection): Db => ({
  all: (text, params) => conn.execute(text, params, undefined),
  run: (text, params) => conn.executeRaw(text, params)
})

/** Runs `effect` between `begin` and `commit`, undoing with `rollback` on failure or interruption. */
const within = <A, E>(
  conn: Connection,
  begin: string,
  commit: string,
  rollback: ReadonlyArray<string>,
  effect: Effect.Effect<A, E>
): Effect.Effect<A, E | SqlError> =>
  Effect.uninterruptibleMask((restore) => {
    const undo = Effect.ignore(Effect.forEach(rollback, (text) => conn.executeRaw(text, []), { discard: true }))
    const finish = (exit: Exit.Exit<A, E>): Effect.Effect<A, E | SqlError> =>
      Exit.isSuccess(exit)
        ? Effect.as(
          Effect.catchAll(conn.executeRaw(commit, []), (error) => Effect.zipRight(undo, Effect.fail(error))),
          exit.value
        )
        : Effect.zipRight(undo, exit)
    return Effect.zipRight(conn.executeRaw(begin, []), Effect.flatMap(Effect.exit(restore(effect)), finish))
  })

/**
 * How the backend runs its statements: `f` gets one connection for its statements, in a
 * transaction when `transaction` (the backend asks for one only when it runs several statements
 * that must be atomic). Statements go to the connection itself: `@effect/sql`'s statement layer (a
 * span and a compiled statement per call) costs several times what SQLite takes for them.
 */
type Use = <A, E>(transaction: boolean, f: (db: Db) => Effect.Effect<A, E>) => Effect.Effect<A, E | SqlError>

/**
 * The layer's own connection, which nothing else uses: a semaphore keeps one operation at a time on
 * it. Transactions are `BEGIN IMMEDIATE`: the write lock first, so that what they read nobody
 * changes before they commit.
 */
const ownConnection = (conn: Connection, lock: Effect.Semaphore): Use => (transaction, f) =>
  lock.withPermits(1)(
    transaction ? within(conn, "BEGIN IMMEDIATE", "COMMIT", ["ROLLBACK"], f(dbOf(conn))) : f(dbOf(conn))
  )

/**
 * The application's client: inside the application's transaction, its connection (and a savepoint
 * when `transaction`, so that a failed operation undoes only itself); otherwise a connection
 * reserved from the client for the operation (other users of the client wait), in a
 * `BEGIN IMMEDIATE` transaction when `transaction`.
 */
const clientConnection = (sql: SqlClient.SqlClient): Use => (transaction, f) =>
  Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (outer) => {
    if (Option.isSome(outer)) {
      const conn = outer.value[0]
      return transaction
        ? within(conn, "SAVEPOINT sitq", "RELEASE sitq", ["ROLLBACK TO sitq", "RELEASE sitq"], f(dbOf(conn)))
        : f(dbOf(conn))
    }
    return Effect.scoped(
      Effect.flatMap(sql.reserve, (conn) =>
        transaction ? within(conn, "BEGIN IMMEDIATE", "COMMIT", ["ROLLBACK"], f(dbOf(conn))) : f(dbOf(conn)))
    )
  })

/**
 * Builds the backend on a store whose schema is already migrated (see {@link migrate}), running
 * its statements with `use` and publishing events to `events`.
 */
const makeBackend = (
  use: Use,
  names: Schema.Names,
  events: PubSub.PubSub<B.BackendEvent>
): B.Backend => {
  const t = names.tasks
  const s = statements(t)

  const { publish, subscribe } = Events.fromPubSub(events)
  const readyEvents = Events.ready


  const enqueue: B.Backend["enqueue"] = (input) => {
    // A later task with the same key as an earlier one of the batch resolves to that one.
    const firstOfKey = new Map<string, number>()
    const alias = new Array<number>(input.length)
    const rows: Array<B.NewTask> = []
    input.forEach((task, i) => {
      if (task.key !== null) {
        const first = firstOfKey.get(task.key)
        if (first !== undefined) {
          alias[i] = first
          return
        }
        firstOfKey.set(task.key, i)
      }
      alias[i] = -1
      rows.push(task)
    })
    const dedup = firstOfKey.size > 0
    const parts = chunks(rows, CHUNK)
    return Effect.flatMap(Clock.currentTimeMillis, (now) =>
      use(
        parts.length + (dedup ? 1 : 0) > 1,
        (db) => Effect.gen(function*() {
          const inserted = new Set<string>()
          for (const part of parts) {
            const params: Array<unknown> = [now]
            for (const task of part) {
              params.push(task.id, task.queue, task.name, task.payload, task.priority, task.runAt, task.key)
            }
            if (dedup) {
              const returned = yield* db.all<{ readonly id: string }>(s.insertDedup(part.length), params)
              for (const row of returned) inserted.add(row.id)
            } else {
              yield* db.run(s.insertPlain(part.length), params)
              for (const task of part) inserted.add(task.id)
            }
          }
          // Keys that found a live task: read that task's id (after the insert, under the lock).
          const existing = new Map<string, string>()
          const lookup = rows.flatMap((task) =>
            task.key !== null && !inserted.has(task.id) ? [task.key] : []
          )
          for (const part of chunks(lookup, CHUNK)) {
            const found = yield* db.all<{ readonly id: string; readonly key: string }>(
              s.liveKeys(part.length),
              part
            )
            for (const row of found) existing.set(row.key, row.id)
          }
          return { inserted, existing }
        })
      )).pipe(
        Effect.mapError(queryError("enqueue")),
        Effect.flatMap(({ existing, inserted }) => {
          const out = new Array<B.Enqueued>(input.length)
          const touched: Array<string> = []
          for (let i = 0; i < input.length; i++) {
            const task = input[i]
            const first = alias[i]
            if (first !== -1) {
              out[i] = { id: out[first].id, inserted: false }
            } else if (inserted.has(task.id)) {
              out[i] = { id: task.id, inserted: true }
              touched.push(task.queue)
            } else {
              const id = task.key === null ? undefined : existing.get(task.key)
              if (id === undefined) {
                return Effect.fail(
                  new BackendError({
                    reason: "Query",
                    message: `sqlite enqueue failed: task ${task.id} was neither inserted nor matched a live key`
                  })
                )
              }
              out[i] = { id, inserted: false }
            }
          }
          return Effect.as(publish(readyEvents(touched)), out as ReadonlyArray<B.Enqueued>)
        })
      )
  }

  /** The earliest due time in these queues (pending runAt, running leaseUntil), or null. */
  const wakeAt = (queues: ReadonlyArray<string>): Effect.Effect<number | null, SqlError> =>
    use(false, (db) => db.all<{ readonly at: number | null }>(s.nextWakeAt(queues.length), [...queues, ...queues])).pipe(
      Effect.map((rows) => rows[0]?.at ?? null)
    )

  const claim: B.Backend["claim"] = (request) => {
    const queues = request.queues
    const n = queues.length
    const limit = Math.floor(request.limit)
    const claimDue = (now: number) =>
      // Under the write lock from the start (BEGIN IMMEDIATE), so that the pairs read are those
      // the claim sees.
      use(true, (db) =>
        Effect.flatMap(
          db.all<{ readonly queue: string; readonly x: number }>(s.pendingPriorities(n), queues),
          (pairs) => {
            const head = [request.owner, now + request.leaseMillis, now]
            if (pairs.length > MAX_BRANCHES) {
              return db.all<Row>(s.claimScan(n), [...head, ...queues, now, ...queues, now, limit])
            }
            const params: Array<unknown> = head
            for (const pair of pairs) params.push(pair.queue, pair.x, now)
            params.push(...queues, now, limit)
            return db.all<Row>(s.claim(`${pairs.length}:${n}`), params)
          }
        ))
    return Effect.flatMap(Clock.currentTimeMillis, (now) =>
      // First a read (WAL: it waits for no one): when nothing is due, an idle poll ends here,
      // without taking the write lock that other processes may be using.
      Effect.flatMap(wakeAt(queues), (at) => at !== null && at <= now ? claimDue(now) : Effect.succeed([]))).pipe(
        Effect.map((rows) => rows.slice().sort(claimOrder).map(toRecord)),
        Effect.mapError(queryError("claim"))
      )
  }

  const leaseKey = (id: string, owner: string, attempt: number) => `${id}\u0000${owner}\u0000${attempt}`

  const heartbeat: B.Backend["heartbeat"] = (leases, leaseMillis) => {
    const parts = chunks(leases, CHUNK)
    return Effect.flatMap(Clock.currentTimeMillis, (now) =>
      use(
        parts.length > 1,
        (db) => Effect.gen(function*() {
          const kept = new Set<string>()
          for (const part of parts) {
            const params: Array<unknown> = []
            for (const lease of part) params.push(lease.id, lease.owner, lease.attempt)
            params.push(now + leaseMillis)
            const rows = yield* db.all<{ readonly id: string; readonly lease_owner: string; readonly attempts: number }>(
              s.heartbeat(part.length),
              params
            )
            for (const row of rows) kept.add(leaseKey(row.id, row.lease_owner, row.attempts))
          }
          return leases.filter((l) => !kept.has(leaseKey(l.id, l.owner, l.attempt))).map((l) => l.id)
        })
      )).pipe(Effect.mapError(queryError("heartbeat")))
  }

  const settle: B.Backend["settle"] = (outcomes) => {
    // Each statement may name a task once; a task named again waits for the next round, so that
    // outcomes apply in order as if one by one.
    const parts = order.rounds(outcomes, (o) => o.lease.id).flatMap((round) => chunks(round, CHUNK))
    return Effect.flatMap(Clock.currentTimeMillis, (now) =>
      use(
        parts.length > 1,
        (db) => Effect.gen(function*() {
          const accepted = new Array<boolean>(outcomes.length).fill(false)
          const finished: Array<string> = []
          const requeued: Array<string> = []
          for (const part of parts) {
            const params: Array<unknown> = [now]
            for (const i of part) {
              const o = outcomes[i]
              const failed = failureOf(o)
              params.push(
                o.lease.id,
                o.lease.owner,
                o.lease.attempt,
                SETTLE_KIND[o._tag],
                o._tag === "Retrying" ? o.runAt : null,
                o._tag === "Succeeded" ? o.result : null,
                failed.error?.tag ?? null,
                failed.error?.message ?? null,
                failed.error?.data ?? null,
                failed.traceback,
                failed.failureTimes
              )
            }
            const rows = yield* db.all<{ readonly id: string; readonly queue: string; readonly status: string }>(
              s.settle(part.length),
              params
            )
            const byId = new Map(rows.map((row) => [row.id, row]))
            for (const i of part) {
              const row = byId.get(outcomes[i].lease.id)
              if (row === undefined) continue
              accepted[i] = true
              if (row.status === "pending") requeued.push(row.queue)
              else finished.push(row.id)
            }
          }
          return { accepted, finished, requeued }
        })
      )).pipe(
        Effect.mapError(queryError("settle")),
        Effect.flatMap(({ accepted, finished, requeued }) => {
          return Effect.as(publish(Events.settled(requeued, finished)), accepted as ReadonlyArray<boolean>)
        })
      )
  }

  const cancel: B.Backend["cancel"] = (id) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      use(true, (db) =>
        Effect.gen(function*() {
        const rows = yield* db.all(s.cancel, [now, id])
        if (rows.length > 0) return "cancelled" as const
        const found = yield* db.all(s.status, [id])
        return found.length > 0 ? "finished" as const : "not_found" as const
      }))).pipe(
        Effect.mapError(queryError("cancel")),
        Effect.tap((result) =>
          result === "cancelled"
            ? publish(Events.cancelled([id]))
            : Effect.void
        )
      )

  const retry: B.Backend["retry"] = (id) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      use(true, (db) =>
        Effect.gen(function*() {
        const rows = yield* db.all<{ readonly queue: string }>(s.retry, [now, id])
        if (rows.length > 0) return { result: "requeued" as const, queue: rows[0].queue }
        const found = yield* db.all<{ readonly status: string }>(s.status, [id])
        const status = found[0]?.status
        // Failed or cancelled and not requeued: another live task holds its key.
        const result = status === undefined
          ? "not_found" as const
          : status === "failed" || status === "cancelled"
          ? "key_held" as const
          : "not_finished" as const
        return { result, queue: undefined }
      }))).pipe(
        Effect.mapError(queryError("retry")),
        Effect.flatMap(({ queue, result }) =>
          Effect.as(queue === undefined ? Effect.void : publish(readyEvents([queue])), result)
        )
      )

  const get: B.Backend["get"] = (id) =>
    use(false, (db) => db.all<Row>(s.get, [id])).pipe(
      Effect.map((rows) => rows.length === 0 ? Option.none() : Option.some(toRecord(rows[0]))),
      Effect.mapError(queryError("get"))
    )

  const listText = memo((shape: string) => {
    const where: Array<string> = []
    if (shape[0] === "1") where.push("status = ?")
    if (shape[1] === "1") where.push("name = ?")
    if (shape[2] === "1") where.push("queue = ?")
    return `SELECT * FROM ${t}${where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""}
            ORDER BY seq ${shape[3] === "1" ? "DESC" : "ASC"} LIMIT ?`
  })

  const listTasks: B.Backend["list"] = (filter) => {
    const params: Array<unknown> = []
    if (filter.status !== undefined) params.push(filter.status)
    if (filter.name !== undefined) params.push(filter.name)
    if (filter.queue !== undefined) params.push(filter.queue)
    const limit = filter.limit === undefined ? -1 : Math.max(0, Math.floor(filter.limit))
    params.push(limit)
    const shape = [filter.status, filter.name, filter.queue].map((v) => v === undefined ? "0" : "1").join("") +
      (filter.newestFirst === true ? "1" : "0")
    return use(false, (db) => db.all<Row>(listText(shape), params)).pipe(
      Effect.map((rows) => rows.map(toRecord)),
      Effect.mapError(queryError("list"))
    )
  }

  const stats: B.Backend["stats"] = (queue) =>
    use(false, (db) =>
      db.all<{ readonly status: B.TaskStatus; readonly n: number }>(
        queue === undefined ? s.stats : s.statsQueue,
        queue === undefined ? [] : [queue]
      )).pipe(
      Effect.map((rows) => {
        const counts = emptyStats()
        for (const row of rows) {
          if (row.status in counts) counts[row.status] = row.n
        }
        return counts
      }),
      Effect.mapError(queryError("stats"))
    )

  const purge: B.Backend["purge"] = (filter) => {
    const statuses = filter.statuses ?? ["success", "failed", "cancelled"]
    const where = [
      `finished_at IS NOT NULL`,
      `status IN ('success', 'failed', 'cancelled')`,
      `status IN (${list(statuses.length)})`
    ]
    const params: Array<unknown> = [...statuses]
    if (filter.finishedBefore !== undefined) {
      where.push("finished_at < ?")
      params.push(filter.finishedBefore)
    }
    if (filter.queue !== undefined) {
      where.push("queue = ?")
      params.push(filter.queue)
    }
    params.push(PURGE_BATCH)
    const text = `DELETE FROM ${t} WHERE seq IN (SELECT seq FROM ${t} WHERE ${where.join(" AND ")} LIMIT ?)`
    // Batches of separate statements: other processes get the write lock in between.
    const batch = Effect.map(use(false, (db) => db.run(text, params)), (result) =>
      Predicate.hasProperty(result, "changes") && typeof result.changes === "number" ? result.changes : 0)
    return inBatches(batch, PURGE_BATCH).pipe(Effect.mapError(queryError("purge")))
  }

  const nextWakeAt: B.Backend["nextWakeAt"] = (queues) =>
    wakeAt(queues).pipe(Effect.map(Option.fromNullable), Effect.mapError(queryError("nextWakeAt")))


  return guarded({
    name: "sqlite",
    // Other processes on the same file change it without telling this one: waiters poll.
    capabilities: { pushesAcrossProcesses: false },
    enqueue,
    claim,
    heartbeat,
    settle,
    cancel,
    retry,
    get,
    list: listTasks,
    stats,
    purge,
    nextWakeAt,
    subscribe
  })
}

// -----------------------------------------------------------------------------------------------
// opening a store
// -----------------------------------------------------------------------------------------------

const validPrefix = (prefix: string | undefined): Effect.Effect<Schema.Names, BackendError> => {
  const p = prefix ?? defaultPrefix
  return /^[A-Za-z_][A-Za-z0-9_]{0,48}$/.test(p)
    ? Effect.succeed(Schema.names(p))
    : Effect.fail(
      new BackendError({
        reason: "Schema",
        message: `invalid table prefix ${JSON.stringify(p)}: use letters, digits and _ (not starting with a digit)`
      })
    )
}

/** Runs `effect` in a `BEGIN IMMEDIATE` transaction: the write lock is taken before anything is read. */
const immediate = (sql: SqlClient.SqlClient) =>
  SqlClient.makeWithTransaction<SqlClient.TransactionConnection, Connection>({
    transactionTag: SqlClient.TransactionConnection,
    spanAttributes: [],
    acquireConnection: Effect.flatMap(
      Scope.make(),
      (scope) => Effect.map(Scope.extend(sql.reserve, scope), (conn) => [scope, conn] as const)
    ),
    begin: (conn) => conn.executeUnprepared("BEGIN IMMEDIATE", [], undefined),
    savepoint: (conn, id) => conn.executeUnprepared(`SAVEPOINT effect_sql_${id}`, [], undefined),
    commit: (conn) => conn.executeUnprepared("COMMIT", [], undefined),
    rollback: (conn) => conn.executeUnprepared("ROLLBACK", [], undefined),
    rollbackSavepoint: (conn, id) => conn.executeUnprepared(`ROLLBACK TO SAVEPOINT effect_sql_${id}`, [], undefined)
  })

/**
 * Checks that the store's tables are sitq's (or absent) and creates or upgrades them, all under
 * the write lock, so that processes starting together migrate once.
 */
const migrate = (
  sql: SqlClient.SqlClient,
  names: Schema.Names,
  filename: string
): Effect.Effect<void, BackendError> =>
  opening(
    filename,
    "Schema",
    immediate(sql)(
      Effect.zipRight(
        Schema.check(sql, names),
        Migrator.make({})({
          loader: Migrator.fromRecord(Schema.migrations(names)),
          table: names.migrations
        }).pipe(Effect.provideService(SqlClient.SqlClient, sql))
      )
    )
  ).pipe(Effect.asVoid)

/** Any failure of opening, defects included (a driver that throws), as a `BackendError`. */
const opening = <A, R>(
  filename: string,
  fallback: "Connect" | "Schema",
  effect: Effect.Effect<A, unknown, R>
): Effect.Effect<A, BackendError, R> =>
  Effect.catchAllCause(effect, (cause) =>
    Cause.isInterruptedOnly(cause)
      ? Effect.interrupt
      : Effect.fail(startError(filename, Cause.squash(cause), fallback)))

const SQLITE_MAGIC = "SQLite format 3\u0000"

/** Refuses, before SQLite touches it, a file that exists and is not a SQLite database. */
const preflight = (filename: string): Effect.Effect<void, BackendError> =>
  Effect.suspend(() => {
    if (filename === "" || filename === ":memory:" || filename.startsWith("file:")) return Effect.void
    return Effect.try({
      try: () => {
        const stat = statSync(filename, { throwIfNoEntry: false })
        if (stat === undefined) return undefined
        if (!stat.isFile()) return `it is not a regular file`
        if (stat.size === 0) return undefined
        const header = Buffer.alloc(16)
        const fd = openSync(filename, "r")
        try {
          readSync(fd, header, 0, 16, 0)
        } finally {
          closeSync(fd)
        }
        return header.toString("latin1") === SQLITE_MAGIC ? undefined : `it is not a SQLite database`
      },
      catch: (cause) =>
        new BackendError({
          reason: "Connect",
          message: `cannot read sqlite database ${JSON.stringify(filename)}: ${describe(cause)}`,
          cause
        })
    }).pipe(
      Effect.flatMap((problem) =>
        problem === undefined ? Effect.void : Effect.fail(
          new BackendError({
            reason: "Connect",
            message: `cannot use ${JSON.stringify(filename)} as a sqlite database: ${problem}; it was left untouched`
          })
        )
      )
    )
  })

/**
 * Builds the backend over the application's `SqlClient` (a SQLite client): checks and migrates
 * the schema, then serves. Statements run on the client's connection, so they join the
 * application's transaction when one is open.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: ClientOptions = {}
): Effect.Effect<B.Backend, BackendError, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const names = yield* validPrefix(options.prefix)
    const client = yield* SqlClient.SqlClient
    const sql = client.withoutTransforms()
    const isSqlite = sql.onDialectOrElse({ sqlite: () => true, orElse: () => false })
    if (!isSqlite) {
      return yield* new BackendError({
        reason: "Connect",
        message: "SqliteBackend needs a SQLite SqlClient (e.g. from @effect/sql-sqlite-node)"
      })
    }
    const filename = Predicate.hasProperty(client, "config") && Predicate.hasProperty(client.config, "filename") &&
        typeof client.config.filename === "string"
      ? client.config.filename
      : undefined
    yield* migrate(sql, names, filename ?? "(application client)")
    const events = yield* Hub.acquire(Hub.clientKey(client, filename, names.prefix))
    const backend = makeBackend(clientConnection(sql), names, events)
    yield* retain(backend, options.retention)
    return backend
  })

/**
 * A backend on its own SQLite database file: opens it (WAL mode, `busyTimeout`), checks that any
 * tables of the store's names are sitq's, creates or upgrades the schema, and serves for the
 * layer's lifetime. Fails with a `BackendError` and leaves the file untouched when the file is not
 * a SQLite database, is corrupt or cannot be written (`Connect`), or holds tables of the same names
 * that are not sitq's (`Schema`).
 *
 * @example
 * ```ts
 * import { SqliteBackend } from "sitq/sqlite"
 *
 * const BackendLive = SqliteBackend.layer({ filename: "tasks.db" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<B.Backend, BackendError> =>
  Layer.scoped(
    Backend,
    Effect.gen(function*() {
      const names = yield* validPrefix(options.prefix)
      const filename = options.filename
      yield* preflight(filename)
      const busyTimeout = Math.max(0, Math.floor(options.busyTimeout ?? defaultBusyTimeout))
      const sql = yield* opening(
        filename,
        "Connect",
        Effect.gen(function*() {
          // WAL is switched on only once the file is known to be ours: it rewrites the header.
          const client = yield* SqliteClient.make({ filename, disableWAL: true }).pipe(
            Effect.provide(Reactivity.layer)
          )
          yield* client.unsafe(`PRAGMA busy_timeout = ${busyTimeout}`).raw
          yield* client.unsafe(`PRAGMA synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`).raw
          yield* Schema.check(client, names)
          yield* client.unsafe("PRAGMA journal_mode = WAL")
          return client
        })
      )
      yield* migrate(sql, names, filename)
      // The client is private: its one connection is held for the layer's lifetime and shared by
      // the backend's operations under a semaphore of its own. (The application's transactions,
      // on its own clients, never reach it.)
      const conn = yield* opening(filename, "Connect", sql.reserve)
      const lock = yield* Effect.makeSemaphore(1)
      const events = yield* Hub.acquire(Hub.fileKey(filename, names.prefix))
      const backend = makeBackend(ownConnection(conn, lock), names, events)
      yield* retain(backend, options.retention)
      return backend
    })
  )

/**
 * A backend on the application's `SqlClient` (a SQLite client, e.g. `SqliteClient.layer`): an
 * enqueue inside the application's `sql.withTransaction` commits or rolls back with it.
 *
 * @example
 * ```ts
 * import { SqliteClient } from "@effect/sql-sqlite-node"
 * import { Layer } from "effect"
 * import { SqliteBackend } from "sitq/sqlite"
 *
 * const SqlLive = SqliteClient.layer({ filename: "app.db" })
 * const BackendLive = SqliteBackend.layerClient().pipe(Layer.provide(SqlLive))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient = (
  options: ClientOptions = {}
): Layer.Layer<B.Backend, BackendError, SqlClient.SqlClient> => Layer.scoped(Backend, make(options))

/**
 * {@link layer} with its options read from `Config` (e.g. the file name from the environment).
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import { SqliteBackend } from "sitq/sqlite"
 *
 * const BackendLive = SqliteBackend.layerConfig({
 *   filename: Config.string("SITQ_DB").pipe(Config.withDefault("tasks.db"))
 * })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<B.Backend, BackendError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
