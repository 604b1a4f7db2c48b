/**
 * `PostgresBackend`: the storage port on PostgreSQL through `@effect/sql-pg`. Tasks live in one
 * table of a schema of your choice (default `sitq`), created and upgraded by `@effect/sql`'s
 * `Migrator` under an advisory lock, so any number of processes may start at once. Every
 * operation is one statement and one round trip: a batch claim is `FOR UPDATE SKIP LOCKED` over a
 * partial index of pending tasks, a batch settle is one fenced `UPDATE ... FROM unnest(...)`, a
 * batch enqueue is one `INSERT ... SELECT FROM unnest(...)`. Wake-ups cross processes through
 * `LISTEN`/`NOTIFY`: each change calls `pg_notify` in its own statement, so the notification is
 * delivered when (and only if) the change commits, including inside an application's own
 * `sql.withTransaction` when the backend runs on the application's client (`layerClient`).
 * Time comes from Effect's `Clock`, never from the server's `now()`.
 *
 * @since 0.1.0
 */
import { Migrator, SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { PgClient } from "@effect/sql-pg"
import * as Reactivity from "@effect/experimental/Reactivity"
import type { Scope } from "effect"
import type { ConfigError } from "effect"
import {
  Cause,
  Clock,
  Config,
  Deferred,
  Duration,
  Effect,
  Fiber,
  Layer,
  Option,
  Redacted,
  Stream
} from "effect"
import { randomUUID } from "node:crypto"
import type * as B from "../../Backend.js"
import { Backend, emptyStats } from "../../Backend.js"
import { BackendError } from "../../Errors.js"
import { migrations, migrationsTable } from "./migrations.js"
import * as Events from "../kit/events.js"
import { guarded } from "../kit/guard.js"
import * as order from "../kit/order.js"
import type { Retention } from "../kit/purge.js"
import { inBatches, retain } from "../kit/purge.js"
import { checkUrl } from "../kit/url.js"
import type { TaskRow } from "../kit/rows.js"
import { failureOf, num, toRecord } from "../kit/rows.js"
import { columns, schemaPattern, statements } from "./statements.js"

/**
 * Periodic deletion of finished tasks, run in the layer's scope: every `every` (default one
 * minute, first run at layer start), tasks that finished more than `finishedOlderThan` ago are
 * purged in batches. A plain duration (`"7 days"`) is `finishedOlderThan` with the default period.
 *
 * @since 0.1.0
 * @category models
 */
export type RetentionOptions = Retention

/**
 * Options of a backend on an existing `PgClient` ({@link layerClient}, {@link make}).
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientOptions {
  /** The PostgreSQL schema holding the store (created if missing). Lower-case identifier; default `sitq`. */
  readonly schema?: string | undefined
  /** Periodic purge of finished tasks. */
  readonly retention?: RetentionOptions | undefined
  /** How often the `LISTEN` connection is checked (a ping through itself); default 1 second. */
  readonly listenerCheckInterval?: Duration.DurationInput | undefined
  /** How many rows one purge statement deletes; default 1000. */
  readonly purgeBatchSize?: number | undefined
}

/**
 * Options of a backend that opens its own connection pool ({@link layer}).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends ClientOptions {
  /** `postgres://user:password@host:port/database`; a `Redacted` keeps it out of logs. */
  readonly url: string | Redacted.Redacted<string>
  /** How long opening the first connection may take before the layer fails; default 5 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** Pool size; default 10. */
  readonly maxConnections?: number | undefined
  /** `application_name` of the connections (visible in `pg_stat_activity`); default `sitq`. */
  readonly applicationName?: string | undefined
}

// ---------------------------------------------------------------------------------------------
// errors

const field = (u: unknown, key: string): unknown =>
  typeof u === "object" && u !== null && key in u ? (u as Record<string, unknown>)[key] : undefined

const connectionCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "EAI_AGAIN",
  "57P01",
  "57P02",
  "57P03",
  "3D000",
  "28000",
  "28P01",
  "53300"
])

const describe = (error: unknown): string => {
  const inner = field(error, "cause")
  const innerMessage = field(inner, "message")
  const message = field(error, "message")
  if (typeof innerMessage === "string" && innerMessage.length > 0) return innerMessage
  if (typeof message === "string" && message.length > 0) return message
  return String(error)
}

const classify = (error: unknown): "Connect" | "Query" | "Closed" => {
  const inner = field(error, "cause")
  const code = field(inner, "code")
  if (typeof code === "string" && (connectionCodes.has(code) || code.startsWith("08"))) return "Connect"
  const text = describe(error)
  if (text.includes("after calling end on the pool") || text.includes("Client was closed")) return "Closed"
  if (
    text.includes("Connection terminated") || text.includes("timeout") || text.includes("timed out") ||
    text.includes("not queryable") || text.includes("Failed to acquire connection")
  ) return "Connect"
  return "Query"
}

const toBackendError = (operation: string) => (error: SqlError): BackendError =>
  new BackendError({
    reason: classify(error),
    message: `postgres ${operation}: ${describe(error)}`,
    cause: error
  })

// ---------------------------------------------------------------------------------------------
// rows

/** Times are whole milliseconds in the table; a fractional time is rounded up (never due early). */
const millis = (n: number): number => Math.ceil(n)

// ---------------------------------------------------------------------------------------------
// statements

// ---------------------------------------------------------------------------------------------
// notifications

/** A channel name per schema (identifiers are at most 63 bytes). */
const channelFor = (schema: string): string => `sitq_${schema}`.slice(0, 63)

const parseNotification = (payload: string) => {
  const a = payload.indexOf("|")
  const b = a < 0 ? -1 : payload.indexOf("|", a + 1)
  if (a < 0 || b < 0) return undefined
  return { kind: payload.slice(0, a), origin: payload.slice(a + 1, b), body: payload.slice(b + 1) }
}

const liveClock = Clock.make()

// ---------------------------------------------------------------------------------------------
// make

/**
 * Builds the backend on the `PgClient` in context: migrates the schema (under an advisory lock),
 * starts the `LISTEN` connection that brings other processes' events, and, if asked, the
 * retention loop. Everything stops with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: ClientOptions = {}
): Effect.Effect<B.Backend, BackendError, PgClient.PgClient | Scope.Scope> =>
  Effect.gen(function*() {
    const pg = yield* PgClient.PgClient
    const schema = options.schema ?? "sitq"
    if (!schemaPattern.test(schema)) {
      return yield* new BackendError({
        reason: "Schema",
        message: `postgres: schema name ${JSON.stringify(schema)} must match ${schemaPattern.source}`
      })
    }
    yield* migrate(pg, schema)

    const q = statements(schema)
    const channel = channelFor(schema)
    const origin = randomUUID()
    const events = yield* Events.make
    const knownQueues = new Set<string>()

    const run = <A extends object>(operation: string, text: string, params: ReadonlyArray<unknown>) =>
      Effect.mapError(pg.unsafe<A>(text, params).withoutTransform, toBackendError(operation))

    /**
     * Inside the caller's transaction the change (and its NOTIFY) may still roll back, so nothing
     * is published locally: the listener publishes the notification when it arrives after commit.
     * Otherwise events are published at once and the listener skips our own notifications.
     */
    const localOrigin = Effect.map(
      Effect.serviceOption(SqlClient.TransactionConnection),
      (tx) => (Option.isSome(tx) ? "" : origin)
    )
    const publish = (list: ReadonlyArray<B.BackendEvent>, from: string) =>
      from === "" ? Effect.void : events.publish(list)
    const readyEvents = Events.ready

    const enqueue: B.Backend["enqueue"] = (tasks) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const from = yield* localOrigin
        if (tasks.every((t) => t.key === null)) {
          // No dedup to resolve: a plain batch insert (a duplicate id fails the whole batch).
          yield* run("enqueue", q.enqueueNoKeys, [
            tasks.map((t) => t.id),
            tasks.map((t) => t.queue),
            tasks.map((t) => t.name),
            tasks.map((t) => t.payload),
            tasks.map((t) => t.priority),
            tasks.map((t) => millis(t.runAt)),
            now,
            channel,
            from
          ])
          yield* publish(readyEvents(tasks.map((t) => t.queue)), from)
          return tasks.map((t): B.Enqueued => ({ id: t.id, inserted: true }))
        }
        const rows = yield* run<{ ord: number; inserted_id: string | null; existing_id: string | null }>(
          "enqueue",
          q.enqueue,
          [
            tasks.map((t) => t.id),
            tasks.map((t) => t.queue),
            tasks.map((t) => t.name),
            tasks.map((t) => t.payload),
            tasks.map((t) => t.priority),
            tasks.map((t) => millis(t.runAt)),
            tasks.map((t) => t.key),
            now,
            channel,
            from
          ]
        )
        const out: Array<B.Enqueued> = new Array(tasks.length)
        const firstByKey = new Map<string, string>()
        const unresolved: Array<number> = []
        for (const row of rows) {
          const i = row.ord - 1
          const key = tasks[i].key
          if (row.inserted_id !== null) {
            out[i] = { id: row.inserted_id, inserted: true }
            if (key !== null && !firstByKey.has(key)) firstByKey.set(key, row.inserted_id)
          } else if (row.existing_id !== null) {
            out[i] = { id: row.existing_id, inserted: false }
          } else {
            unresolved.push(i)
          }
        }
        // A later duplicate of a key inserted by this same batch, or a key inserted concurrently
        // by a transaction that committed after this statement's snapshot.
        const missing: Array<string> = []
        for (const i of unresolved) {
          const key = tasks[i].key
          const earlier = key === null ? undefined : firstByKey.get(key)
          if (earlier !== undefined) out[i] = { id: earlier, inserted: false }
          else if (key !== null) missing.push(key)
        }
        if (missing.length > 0) {
          const found = yield* run<{ id: string; key: string }>("enqueue", q.liveKeys, [missing])
          const byKey = new Map(found.map((r) => [r.key, r.id]))
          for (const i of unresolved) {
            if (out[i] !== undefined) continue
            const id = byKey.get(tasks[i].key ?? "")
            if (id === undefined) {
              return yield* new BackendError({
                reason: "Query",
                message: `postgres enqueue: dedup key ${JSON.stringify(tasks[i].key)} conflicted but no live task holds it`
              })
            }
            out[i] = { id, inserted: false }
          }
        }
        yield* publish(readyEvents(tasks.filter((_, i) => out[i].inserted).map((t) => t.queue)), from)
        return out
      })

    const claimOrder = order.claimOrder((row: TaskRow) => [num(row.priority), num(row.run_at), num(row.seq)])

    const claim: B.Backend["claim"] = (request) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const queues = Array.from(new Set(request.queues))
        for (const queue of queues) knownQueues.add(queue)
        const one = queues.length === 1
        const head = [now, Math.floor(request.limit), request.owner, millis(now + request.leaseMillis)]
        const rows = yield* (request.names === undefined
          ? run<TaskRow>("claim", one ? q.claimOne : q.claimMany, [one ? queues[0] : queues, ...head])
          : run<TaskRow>("claim", q.claimNamed, [queues, ...head, request.names]))
        return rows.slice().sort(claimOrder).map(toRecord)
      })

    const heartbeat: B.Backend["heartbeat"] = (leases, leaseMillis) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        // Rows are locked in id order by every multi-row update, so concurrent batches cannot deadlock.
        const sorted = leases.slice().sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        const rows = yield* run<{ id: string; lease_owner: string; attempts: number }>("heartbeat", q.heartbeat, [
          sorted.map((l) => l.id),
          sorted.map((l) => l.owner),
          sorted.map((l) => l.attempt),
          millis(now + leaseMillis)
        ])
        const leaseKey = (id: string, owner: string, attempt: number) => `${attempt}|${owner}|${id}`
        const kept = new Set(rows.map((r) => leaseKey(r.id, r.lease_owner, num(r.attempts))))
        return leases.filter((l) => !kept.has(leaseKey(l.id, l.owner, l.attempt))).map((l) => l.id)
      })

    const kindOf = { Succeeded: "S", Failed: "F", Retrying: "R", Released: "L" } as const

    const settle: B.Backend["settle"] = (outcomes) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const from = yield* localOrigin
        const accepted: Array<boolean> = outcomes.map(() => false)
        const finished: Array<string> = []
        const requeued: Array<string> = []
        // One statement may name a task once (an UPDATE applies one of several matching input rows,
        // unpredictably): a task named again waits for the next round, so outcomes apply in order.
        for (const round of order.rounds(outcomes, (o) => o.lease.id)) {
          const byId = round.slice().sort((a, b) => {
            const x = outcomes[a].lease.id
            const y = outcomes[b].lease.id
            return x < y ? -1 : x > y ? 1 : a - b
          })
          const sorted = byId.map((i) => outcomes[i])
          const failed = sorted.map(failureOf)
          const rows = yield* run<{ ord: number; kind: string; id: string; queue: string }>("settle", q.settle, [
            sorted.map((o) => kindOf[o._tag]),
            sorted.map((o) => o.lease.id),
            sorted.map((o) => o.lease.owner),
            sorted.map((o) => o.lease.attempt),
            sorted.map((o) => (o._tag === "Succeeded" ? o.result : null)),
            failed.map((f) => f.error?.tag ?? null),
            failed.map((f) => f.error?.message ?? null),
            failed.map((f) => f.error?.data ?? null),
            failed.map((f) => f.traceback),
            sorted.map((o) => (o._tag === "Retrying" ? millis(o.runAt) : null)),
            now,
            channel,
            from,
            failed.map((f) => f.failureTimes)
          ])
          for (const row of rows) {
            accepted[byId[row.ord - 1]] = true
            if (row.kind === "S" || row.kind === "F") finished.push(row.id)
            else requeued.push(row.queue)
          }
        }
        yield* publish(Events.settled(requeued, finished), from)
        return accepted
      })

    const cancel: B.Backend["cancel"] = (id) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const from = yield* localOrigin
        const rows = yield* run<{ updated: number; status: string | null }>("cancel", q.cancel, [
          id,
          now,
          channel,
          from
        ])
        const row = rows[0]
        if (row !== undefined && row.updated > 0) {
          yield* publish(Events.cancelled([id]), from)
          return "cancelled" as const
        }
        return row === undefined || row.status === null ? "not_found" as const : "finished" as const
      })

    const retry: B.Backend["retry"] = (id) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const from = yield* localOrigin
        const rows = yield* run<{ queue: string | null; status: string | null }>("retry", q.retry, [
          id,
          now,
          channel,
          from
        ]).pipe(
          // Another retry of a task with the same key committed first: the live-key index refused this one.
          Effect.catchIf(
            (error) => field(field(error.cause, "cause"), "code") === "23505",
            () => Effect.succeed([{ queue: null, status: "failed" }])
          )
        )
        const row = rows[0]
        if (row !== undefined && row.queue !== null) {
          yield* publish(readyEvents([row.queue]), from)
          return "requeued" as const
        }
        if (row === undefined || row.status === null) return "not_found" as const
        // Failed or cancelled and not requeued: another live task holds its key.
        return row.status === "failed" || row.status === "cancelled" ? "key_held" as const : "not_finished" as const
      })

    const get: B.Backend["get"] = (id) =>
      Effect.map(run<TaskRow>("get", q.get, [id]), (rows) => Option.map(Option.fromNullable(rows[0]), toRecord))

    const list: B.Backend["list"] = (filter) => {
      const where: Array<string> = []
      const params: Array<unknown> = []
      if (filter.status !== undefined) {
        params.push(filter.status)
        where.push(`status = $${params.length}`)
      }
      if (filter.name !== undefined) {
        params.push(filter.name)
        where.push(`name = $${params.length}`)
      }
      if (filter.queue !== undefined) {
        params.push(filter.queue)
        where.push(`queue = $${params.length}`)
      }
      // Cursors by the enqueue position of their task: a task that is gone gives NULL, so no row.
      if (filter.after !== undefined) {
        params.push(filter.after)
        where.push(`seq > (SELECT seq FROM ${q.T} WHERE id = $${params.length})`)
      }
      if (filter.before !== undefined) {
        params.push(filter.before)
        where.push(`seq < (SELECT seq FROM ${q.T} WHERE id = $${params.length})`)
      }
      let text = `SELECT ${columns("")} FROM ${q.T}`
      if (where.length > 0) text += ` WHERE ${where.join(" AND ")}`
      text += ` ORDER BY seq ${filter.newestFirst === true ? "DESC" : "ASC"}`
      if (filter.limit !== undefined) {
        params.push(Math.max(0, Math.floor(filter.limit)))
        text += ` LIMIT $${params.length}`
      }
      return Effect.map(run<TaskRow>("list", text, params), (rows) => rows.map(toRecord))
    }

    const stats: B.Backend["stats"] = (queue) =>
      Effect.map(
        queue === undefined
          ? run<{ status: B.TaskStatus; n: unknown }>("stats", q.stats, [])
          : run<{ status: B.TaskStatus; n: unknown }>("stats", q.statsQueue, [queue]),
        (rows) => {
          const counts = emptyStats()
          for (const row of rows) counts[row.status] = num(row.n)
          return counts
        }
      )

    const purgeBatch = Math.max(1, Math.floor(options.purgeBatchSize ?? 1000))
    const purge: B.Backend["purge"] = (filter) => {
      const wanted = filter.statuses ?? ["success", "failed", "cancelled"]
      const byTime = filter.finishedBefore !== undefined
      const byQueue = filter.queue !== undefined
      const text = q.purge(byTime, byQueue)
      const params: Array<unknown> = [wanted, purgeBatch]
      if (filter.finishedBefore !== undefined) params.push(millis(filter.finishedBefore))
      if (filter.queue !== undefined) params.push(filter.queue)
      return inBatches(Effect.map(run<{ n: number }>("purge", text, params), (rows) => rows[0]?.n ?? 0), purgeBatch)
    }

    const nextWakeAt: B.Backend["nextWakeAt"] = (queues, names) =>
      Effect.map(
        names === undefined
          ? run<{ at: unknown }>("nextWakeAt", q.nextWakeAt, [queues])
          : run<{ at: unknown }>("nextWakeAt", q.nextWakeAtNamed, [queues, names]),
        (rows) => Option.map(Option.fromNullable(rows[0]?.at), num)
      )

    // -- the listener: one LISTEN connection feeding the local PubSub, checked by pinging itself
    const onNotification = (pongs: Map<string, Deferred.Deferred<void>>) => (payload: string) => {
      const n = parseNotification(payload)
      if (n === undefined) return Effect.void
      if (n.kind === "P") {
        const pong = n.origin === origin ? pongs.get(n.body) : undefined
        return pong === undefined ? Effect.void : Deferred.succeed(pong, undefined)
      }
      if (n.origin === origin) return Effect.void
      switch (n.kind) {
        case "R":
          return events.publish([{ _tag: "Ready", queue: n.body }])
        case "F":
          return events.publish([{ _tag: "Finished", ids: n.body.split(",") }])
        case "C": {
          const ids = n.body.split(",")
          return events.publish(Events.cancelled(ids))
        }
        default:
          return Effect.void
      }
    }

    const checkEvery = Duration.decode(options.listenerCheckInterval ?? "1 second")
    // Health pings go to a channel of this instance only, so other processes never see them.
    const pingChannel = `sitq_ping_${origin.replace(/-/g, "")}`
    const listening = yield* Deferred.make<void>()
    const listener = Effect.gen(function*() {
      const pongs = new Map<string, Deferred.Deferred<void>>()
      let nonce = 0
      const notifySelf = (to: string, key: string) => run("listen", "SELECT pg_notify($1, $2)", [to, `P|${origin}|${key}`])
      /** Resolves when a notification sent with `key` comes back (registered before anything is sent). */
      const expect = (key: string) =>
        Effect.acquireRelease(
          Effect.tap(Deferred.make<void>(), (pong) => Effect.sync(() => pongs.set(key, pong))),
          () => Effect.sync(() => pongs.delete(key))
        )
      // A late answer (a loaded machine) is not a dead connection: wait at least two seconds.
      const pongTimeout = Duration.max(Duration.times(checkEvery, 2), Duration.seconds(2))
      const ping = Effect.scoped(Effect.gen(function*() {
        const key = String(nonce++)
        const pong = yield* expect(key)
        yield* notifySelf(pingChannel, key)
        yield* Effect.timeoutFail(Deferred.await(pong), {
          duration: pongTimeout,
          onTimeout: () => new BackendError({ reason: "Connect", message: "postgres listen: no answer to a ping" })
        })
      }))
      const listen = (name: string) =>
        pg.listen(name).pipe(
          Stream.runForEach(onNotification(pongs)),
          Effect.mapError(toBackendError("listen")),
          Effect.forkScoped
        )
      let sessions = 0
      let failures = 0
      const session = Effect.scoped(Effect.gen(function*() {
        // Both channels share the one LISTEN connection of the client.
        const main = yield* listen(channel)
        const probe = yield* listen(pingChannel)
        const streams = Effect.raceFirst(Fiber.join(main), Fiber.join(probe))
        // The LISTENs are issued by the streams' fibers: repeat a notification to ourselves on each
        // channel until both come back.
        const session = String(nonce++)
        const mainUp = yield* expect(`up-${session}`)
        const probeUp = yield* expect(`up-probe-${session}`)
        const knock = Effect.zipRight(notifySelf(channel, `up-${session}`), notifySelf(pingChannel, `up-probe-${session}`))
        const up = Effect.zipRight(Deferred.await(mainUp), Deferred.await(probeUp))
        yield* Effect.raceFirst(
          Effect.zipRight(knock.pipe(Effect.zipRight(Effect.sleep("100 millis")), Effect.forever), Effect.never),
          Effect.raceFirst(up, Effect.zipRight(streams, Effect.never))
        ).pipe(
          Effect.timeoutFail({
            duration: "10 seconds",
            onTimeout: () => new BackendError({ reason: "Connect", message: "postgres listen: LISTEN not confirmed" })
          })
        )
        yield* Deferred.succeed(listening, undefined)
        failures = 0
        if (sessions++ > 0) {
          yield* Effect.logInfo("sitq postgres: listener reconnected")
          // Notifications sent while it was down are lost: wake the local workers once.
          yield* events.publish(readyEvents(knownQueues))
        }
        const healthy = Effect.sleep(checkEvery).pipe(Effect.zipRight(ping), Effect.forever)
        // Whichever ends first (a failed ping, a failed stream) ends the session.
        return yield* Effect.raceFirst(healthy, streams)
      }))
      return yield* session.pipe(
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.failCause(cause)
            : Effect.logWarning("sitq postgres: listener lost, reconnecting").pipe(
              Effect.annotateLogs("error", Cause.pretty(cause).split("\n")[0] ?? ""),
              // 200 ms, then longer while the server stays unreachable (at most 5 s).
              Effect.zipRight(Effect.suspend(() => Effect.sleep(Math.min(5_000, 200 * 2 ** Math.min(failures++, 5)))))
            )
        ),
        Effect.forever
      )
    })
    yield* listener.pipe(Effect.withClock(liveClock), Effect.interruptible, Effect.forkScoped)
    yield* Deferred.await(listening).pipe(
      Effect.timeout("5 seconds"),
      Effect.catchAll(() =>
        Effect.logWarning("sitq postgres: LISTEN not confirmed yet; wake-ups from other processes may lag")
      ),
      Effect.withClock(liveClock)
    )

    const backend: B.Backend = guarded({
      name: "postgres",
      // LISTEN/NOTIFY: every committed change reaches every instance's subscribers.
      capabilities: { pushesAcrossProcesses: true },
      enqueue,
      claim,
      heartbeat,
      settle,
      cancel,
      retry,
      get,
      list,
      stats,
      purge,
      nextWakeAt,
      subscribe: events.subscribe
    })

    yield* retain(backend, options.retention)

    return backend
  })

/**
 * Creates the schema and runs the embedded migrations, holding a transaction-scoped advisory
 * lock so that concurrent starts run them once.
 */
const migrate = (pg: PgClient.PgClient, schema: string): Effect.Effect<void, BackendError> =>
  pg.withTransaction(Effect.gen(function*() {
    yield* pg.unsafe("SELECT pg_advisory_xact_lock(hashtext($1))", [`sitq:${schema}`]).raw
    yield* pg.unsafe(`CREATE SCHEMA IF NOT EXISTS "${schema}"`).raw
    yield* pg.unsafe(`CREATE TABLE IF NOT EXISTS "${schema}".${migrationsTable} (
      migration_id integer primary key,
      created_at timestamp with time zone not null default now(),
      name text not null
    )`).raw
    yield* Migrator.make({})({
      loader: Migrator.fromRecord(migrations(schema)),
      table: `${schema}.${migrationsTable}`
    })
  })).pipe(
    Effect.provideService(SqlClient.SqlClient, pg),
    Effect.catchAllDefect((defect) => Effect.fail(defect)),
    Effect.mapError((error) => {
      const reason = classify(error)
      return new BackendError({
        reason: reason === "Query" ? "Schema" : reason,
        message: `postgres: cannot create or migrate schema "${schema}": ${describe(error)}`,
        cause: error
      })
    })
  )

/**
 * The backend on the application's own `PgClient` (which is also its `SqlClient`). An enqueue run
 * inside the application's `sql.withTransaction` is part of that transaction: it commits or rolls
 * back with it, and its wake-up is delivered only on commit.
 *
 * @example
 * ```ts
 * import { PgClient } from "@effect/sql-pg"
 * import { Config, Layer } from "effect"
 * import { PostgresBackend } from "sitq/postgres"
 *
 * const BackendLive = PostgresBackend.layerClient({ schema: "jobs" }).pipe(
 *   Layer.provideMerge(PgClient.layerConfig({ url: Config.redacted("DATABASE_URL") }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient = (options: ClientOptions = {}): Layer.Layer<Backend, BackendError, PgClient.PgClient> =>
  Layer.scoped(Backend, make(options))

/**
 * The backend on a connection pool of its own, opened from `url`. A server that cannot be reached,
 * a role or database that does not exist, fail the layer with `BackendError` (reason `Connect`)
 * within `connectTimeout`.
 *
 * @example
 * ```ts
 * import { PostgresBackend } from "sitq/postgres"
 *
 * const BackendLive = PostgresBackend.layer({ url: "postgres://postgres@127.0.0.1:5432/app" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Backend, BackendError> =>
  Layer.scoped(
    Backend,
    Effect.gen(function*() {
      const url = typeof options.url === "string" ? Redacted.make(options.url) : options.url
      yield* checkUrl("postgres", Redacted.value(url), ["postgres:", "postgresql:"])
      const connectTimeout = options.connectTimeout ?? "5 seconds"
      const client = yield* PgClient.make({
        url,
        connectTimeout,
        maxConnections: options.maxConnections ?? 10,
        applicationName: options.applicationName ?? "sitq"
      }).pipe(
        Effect.provideServiceEffect(Reactivity.Reactivity, Reactivity.make),
        Effect.withClock(liveClock),
        Effect.mapError((error) =>
          new BackendError({
            reason: "Connect",
            message: `postgres: cannot connect: ${describe(error)}`,
            cause: error
          })
        )
      )
      return yield* make(options).pipe(Effect.provideService(PgClient.PgClient, client))
    })
  )

/**
 * {@link layer} with its options read from `Config` (e.g. the URL from the environment, kept
 * `Redacted`).
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import { PostgresBackend } from "sitq/postgres"
 *
 * const BackendLive = PostgresBackend.layerConfig({
 *   url: Config.redacted("DATABASE_URL"),
 *   schema: Config.string("SITQ_SCHEMA").pipe(Config.withDefault("sitq"))
 * })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<Backend, BackendError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
