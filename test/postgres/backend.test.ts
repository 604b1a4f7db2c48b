/**
 * The PostgreSQL backend's port operations against the real server: claim order, fencing, lease
 * recovery, dedup, atomic batches, events across instances, the application's transactions,
 * concurrent migrations, retention, connection failures.
 */
import { assert, describe, it } from "@effect/vitest"
import { createServer } from "node:net"
import type { AddressInfo, Server, Socket } from "node:net"
import { PgClient } from "@effect/sql-pg"
import { Config, Deferred, Effect, Exit, Fiber, Layer, Option, Queue, Redacted, TestClock } from "effect"
import type * as B from "../../src/Backend.js"
import { Backend } from "../../src/Backend.js"
import { PostgresBackend } from "../../src/backends/postgres.js"
import { client, dropOnClose, freshLayer, freshSchema, url } from "./helpers.js"

const task = (id: string, extra: Partial<B.NewTask> = {}): B.NewTask => ({
  id,
  queue: "default",
  name: "t",
  payload: new TextEncoder().encode(id),
  priority: 2,
  runAt: 0,
  key: null,
  ...extra
})

const ids = (records: ReadonlyArray<{ readonly id: string }>) => records.map((r) => r.id)
const lease = (rec: B.TaskRecord): B.Lease => ({ id: rec.id, owner: rec.leaseOwner ?? "", attempt: rec.attempts })

/** A backend on `schema` with its own client, for tests that need two instances on one store. */
const backendOn = (schema: string, options: Omit<PostgresBackend.ClientOptions, "schema"> = {}) =>
  Effect.flatMap(client(), (pg) =>
    PostgresBackend.make({ ...options, schema }).pipe(Effect.provideService(PgClient.PgClient, pg)))

describe("PostgresBackend port", () => {
  it.effect("enqueue stores the record; claim takes tasks in priority, runAt, enqueue order", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_000)
      const b = yield* Backend
      const out = yield* b.enqueue([
        task("t1", { priority: 1 }),
        task("t2", { priority: 3, runAt: 900 }),
        task("t3", { priority: 3, runAt: 500 }),
        task("t4", { priority: 2, runAt: 1_000 }),
        task("t5", { priority: 3, runAt: 900 }),
        task("t6", { priority: 4, runAt: 1_001 })
      ])
      assert.deepStrictEqual(out.map((e) => e.inserted), [true, true, true, true, true, true])
      const stored = Option.getOrThrow(yield* b.get("t4"))
      assert.strictEqual(stored.status, "pending")
      assert.strictEqual(stored.enqueuedAt, 1_000)
      assert.strictEqual(stored.attempts, 0)
      assert.deepStrictEqual(Array.from(stored.payload), Array.from(new TextEncoder().encode("t4")))

      const first = yield* b.claim({ owner: "w1", queues: ["default"], limit: 3, leaseMillis: 5_000 })
      assert.deepStrictEqual(ids(first), ["t3", "t2", "t5"])
      for (const rec of first) {
        assert.strictEqual(rec.status, "in_progress")
        assert.strictEqual(rec.attempts, 1)
        assert.strictEqual(rec.leaseOwner, "w1")
        assert.strictEqual(rec.leaseUntil, 6_000)
        assert.strictEqual(rec.startedAt, 1_000)
      }
      const rest = yield* b.claim({ owner: "w1", queues: ["default"], limit: 10, leaseMillis: 5_000 })
      assert.deepStrictEqual(ids(rest), ["t4", "t1"]) // t6 is not due yet
      assert.deepStrictEqual(yield* b.nextWakeAt(["default"]), Option.some(1_001))
      yield* TestClock.adjust(1)
      assert.deepStrictEqual(ids(yield* b.claim({ owner: "w1", queues: ["default"], limit: 10, leaseMillis: 5_000 })), ["t6"])
      assert.deepStrictEqual(yield* b.nextWakeAt(["default"]), Option.some(6_000))
      assert.deepStrictEqual(yield* b.nextWakeAt(["other"]), Option.none())
    }).pipe(Effect.provide(freshLayer())))

  it.effect("nextWakeAt: the earliest runAt over every priority and queue asked, or the earliest lease", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_000)
      const b = yield* Backend
      yield* b.enqueue([
        task("hi", { priority: 4, runAt: 9_000 }),
        task("lo", { priority: 1, runAt: 5_000 }),
        task("mid", { priority: 2, runAt: 7_000 }),
        task("other", { queue: "b", priority: 3, runAt: 3_000 }),
        task("elsewhere", { queue: "c", priority: 3, runAt: 2_000 })
      ])
      assert.deepStrictEqual(yield* b.nextWakeAt(["default"]), Option.some(5_000))
      assert.deepStrictEqual(yield* b.nextWakeAt(["default", "b"]), Option.some(3_000))
      assert.deepStrictEqual(yield* b.nextWakeAt([]), Option.none())
      yield* TestClock.setTime(5_000)
      const [lo] = yield* b.claim({ owner: "w", queues: ["default"], limit: 1, leaseMillis: 1_000 })
      assert.strictEqual(lo.id, "lo")
      // The lease of the running task (6,000) is now the earliest.
      assert.deepStrictEqual(yield* b.nextWakeAt(["default"]), Option.some(6_000))
    }).pipe(Effect.provide(freshLayer())))

  it.effect("claims only from the requested queues, in one order across them", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      yield* b.enqueue([
        task("a1", { queue: "a", priority: 1 }),
        task("b1", { queue: "b", priority: 3 }),
        task("c1", { queue: "c", priority: 4 }),
        task("a2", { queue: "a", priority: 3 })
      ])
      const got = yield* b.claim({ owner: "w", queues: ["a", "b"], limit: 10, leaseMillis: 1_000 })
      assert.deepStrictEqual(ids(got), ["b1", "a2", "a1"])
      assert.deepStrictEqual(yield* b.stats("c"), { pending: 1, in_progress: 0, success: 0, failed: 0, cancelled: 0 })
    }).pipe(Effect.provide(freshLayer())))

  it.effect("an expired lease is claimed again; the old owner is fenced out", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      yield* b.enqueue([task("x")])
      const [first] = yield* b.claim({ owner: "dead", queues: ["default"], limit: 1, leaseMillis: 1_000 })
      assert.deepStrictEqual(yield* b.claim({ owner: "other", queues: ["default"], limit: 1, leaseMillis: 1_000 }), [])
      yield* TestClock.adjust(1_000)
      const [second] = yield* b.claim({ owner: "alive", queues: ["default"], limit: 1, leaseMillis: 1_000 })
      assert.strictEqual(second.id, "x")
      assert.strictEqual(second.attempts, 2)
      assert.strictEqual(second.leaseOwner, "alive")
      assert.deepStrictEqual(yield* b.heartbeat([lease(first), lease(second)], 10_000), ["x"])
      assert.strictEqual(Option.getOrThrow(yield* b.get("x")).leaseUntil, 11_000)
      const accepted = yield* b.settle([
        { _tag: "Succeeded", lease: lease(first), result: new Uint8Array([1]) },
        { _tag: "Succeeded", lease: lease(second), result: new Uint8Array([2]) }
      ])
      assert.deepStrictEqual(accepted, [false, true])
      const done = Option.getOrThrow(yield* b.get("x"))
      assert.strictEqual(done.status, "success")
      assert.deepStrictEqual(Array.from(done.result ?? []), [2])
      assert.strictEqual(done.leaseOwner, null)
      assert.strictEqual(done.finishedAt, 1_000)
    }).pipe(Effect.provide(freshLayer())))

  it.effect("settle records each outcome kind, fenced, in one batch", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(10_000)
      const b = yield* Backend
      yield* b.enqueue([task("s"), task("f"), task("r"), task("l"), task("z")])
      const claimed = yield* b.claim({ owner: "w", queues: ["default"], limit: 5, leaseMillis: 1_000 })
      const by = new Map(claimed.map((r) => [r.id, r]))
      const err = { tag: "Boom", message: "it broke", data: new Uint8Array([7, 8]) }
      const accepted = yield* b.settle([
        { _tag: "Released", lease: lease(by.get("l")!) },
        { _tag: "Succeeded", lease: lease(by.get("s")!), result: new Uint8Array([42]) },
        { _tag: "Failed", lease: lease(by.get("f")!), error: err, traceback: "trace" },
        { _tag: "Retrying", lease: lease(by.get("r")!), runAt: 20_000, error: err, traceback: "trace r" },
        { _tag: "Succeeded", lease: { id: "z", owner: "w", attempt: 2 }, result: new Uint8Array() },
        { _tag: "Succeeded", lease: { id: "missing", owner: "w", attempt: 1 }, result: new Uint8Array() }
      ])
      assert.deepStrictEqual(accepted, [true, true, true, true, false, false])
      const get = (id: string) => Effect.map(b.get(id), Option.getOrThrow)
      const s = yield* get("s")
      assert.strictEqual(s.status, "success")
      assert.deepStrictEqual(Array.from(s.result ?? []), [42])
      assert.strictEqual(s.error, null)
      const f = yield* get("f")
      assert.strictEqual(f.status, "failed")
      assert.deepStrictEqual(f.error && { ...f.error, data: Array.from(f.error.data ?? []) }, {
        tag: "Boom",
        message: "it broke",
        data: [7, 8]
      })
      assert.strictEqual(f.traceback, "trace")
      assert.strictEqual(f.finishedAt, 10_000)
      const r = yield* get("r")
      assert.strictEqual(r.status, "pending")
      assert.strictEqual(r.runAt, 20_000)
      assert.strictEqual(r.attempts, 1)
      assert.strictEqual(r.traceback, "trace r")
      assert.strictEqual(r.leaseOwner, null)
      const l = yield* get("l")
      assert.strictEqual(l.status, "pending")
      assert.strictEqual(l.attempts, 0)
      assert.strictEqual(l.runAt, 0)
      assert.strictEqual((yield* get("z")).status, "in_progress")
      // Released is due at once, Retrying only at its runAt.
      assert.deepStrictEqual(ids(yield* b.claim({ owner: "w", queues: ["default"], limit: 5, leaseMillis: 100_000 })), ["l"])
      yield* b.heartbeat([lease(by.get("z")!)], 100_000)
      yield* TestClock.setTime(20_000)
      const again = yield* b.claim({ owner: "w", queues: ["default"], limit: 5, leaseMillis: 1_000 })
      assert.deepStrictEqual(ids(again), ["r"])
      assert.strictEqual(again[0].attempts, 2)
    }).pipe(Effect.provide(freshLayer())))

  it.effect("dedup keys: a live task's key returns its id, also within one batch; a finished one frees it", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      const first = yield* b.enqueue([task("k1", { key: "K" }), task("k2", { key: "K" }), task("n1")])
      assert.deepStrictEqual(first, [
        { id: "k1", inserted: true },
        { id: "k1", inserted: false },
        { id: "n1", inserted: true }
      ])
      assert.deepStrictEqual(yield* b.enqueue([task("k3", { key: "K" })]), [{ id: "k1", inserted: false }])
      const [c] = yield* b.claim({ owner: "w", queues: ["default"], limit: 1, leaseMillis: 1_000 })
      assert.strictEqual(c.id, "k1")
      assert.deepStrictEqual(yield* b.enqueue([task("k4", { key: "K" })]), [{ id: "k1", inserted: false }])
      yield* b.settle([{ _tag: "Succeeded", lease: lease(c), result: new Uint8Array() }])
      assert.deepStrictEqual(yield* b.enqueue([task("k5", { key: "K" })]), [{ id: "k5", inserted: true }])
      assert.strictEqual((yield* b.list({})).length, 3)
    }).pipe(Effect.provide(freshLayer())))

  it.effect("retry of a keyed task: it takes its key back, unless a live task holds it now", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      yield* b.enqueue([task("a", { key: "A" }), task("b", { key: "B" })])
      const claimed = yield* b.claim({ owner: "w", queues: ["default"], limit: 2, leaseMillis: 1_000 })
      yield* b.settle(claimed.map((r) => ({
        _tag: "Failed" as const,
        lease: lease(r),
        error: { tag: "E", message: "m", data: null },
        traceback: null
      })))
      // A new live task takes key B while b is failed.
      assert.deepStrictEqual(yield* b.enqueue([task("b2", { key: "B" })]), [{ id: "b2", inserted: true }])
      assert.strictEqual(yield* b.retry("a"), "requeued")
      assert.strictEqual(yield* b.retry("b"), "requeued")
      assert.strictEqual(Option.getOrThrow(yield* b.get("a")).key, "A")
      assert.deepStrictEqual(yield* b.enqueue([task("a2", { key: "A" })]), [{ id: "a", inserted: false }])
      // Two live tasks cannot share a key: b runs again without it; b2 keeps it.
      assert.strictEqual(Option.getOrThrow(yield* b.get("b")).key, null)
      assert.deepStrictEqual(yield* b.enqueue([task("b3", { key: "B" })]), [{ id: "b2", inserted: false }])
    }).pipe(Effect.provide(freshLayer())))

  it.effect("a batch is atomic: one bad row inserts nothing", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      yield* b.enqueue([task("dup")])
      const error = yield* Effect.flip(b.enqueue([task("new1"), task("dup"), task("new2")]))
      assert.strictEqual(error._tag, "BackendError")
      assert.strictEqual(error.reason, "Query")
      assert.deepStrictEqual(ids(yield* b.list({})), ["dup"])
    }).pipe(Effect.provide(freshLayer())))

  it.effect("cancel, retry, list, stats, purge", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(100)
      const b = yield* Backend
      yield* b.enqueue([task("p"), task("q", { name: "other", queue: "q2" }), task("r")])
      assert.strictEqual(yield* b.cancel("p"), "cancelled")
      assert.strictEqual(yield* b.cancel("p"), "finished")
      assert.strictEqual(yield* b.cancel("nope"), "not_found")
      assert.strictEqual(yield* b.retry("r"), "not_finished")
      assert.strictEqual(yield* b.retry("nope"), "not_found")
      yield* TestClock.setTime(200)
      assert.strictEqual(yield* b.retry("p"), "requeued")
      const p = Option.getOrThrow(yield* b.get("p"))
      assert.deepStrictEqual([p.status, p.runAt, p.attempts, p.finishedAt], ["pending", 200, 0, null])
      assert.deepStrictEqual(ids(yield* b.list({ newestFirst: true })), ["r", "q", "p"])
      assert.deepStrictEqual(ids(yield* b.list({ limit: 2 })), ["p", "q"])
      assert.deepStrictEqual(ids(yield* b.list({ name: "other" })), ["q"])
      assert.deepStrictEqual(ids(yield* b.list({ queue: "default", status: "pending" })), ["p", "r"])

      const claimed = yield* b.claim({ owner: "w", queues: ["default", "q2"], limit: 3, leaseMillis: 1_000 })
      assert.deepStrictEqual(ids(claimed), ["q", "r", "p"]) // p's runAt moved to 200 by the retry
      yield* TestClock.setTime(300)
      yield* b.settle([{ _tag: "Succeeded", lease: lease(claimed[1]), result: new Uint8Array() }])
      yield* TestClock.setTime(400)
      yield* b.settle([claimed[0], claimed[2]].map((r) => ({
        _tag: "Failed" as const,
        lease: lease(r),
        error: { tag: "E", message: "m", data: null },
        traceback: null
      })))
      assert.deepStrictEqual(yield* b.stats(), { pending: 0, in_progress: 0, success: 1, failed: 2, cancelled: 0 })
      assert.strictEqual(yield* b.purge({ finishedBefore: 300 }), 0)
      assert.strictEqual(yield* b.purge({ finishedBefore: 301 }), 1)
      assert.strictEqual(yield* b.purge({ statuses: ["success"] }), 0)
      assert.strictEqual(yield* b.purge({ queue: "q2" }), 1)
      assert.strictEqual(yield* b.purge({}), 1)
      assert.deepStrictEqual(yield* b.list({}), [])
    }).pipe(Effect.provide(freshLayer())))

  it.effect("purge deletes in batches", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      yield* b.enqueue(Array.from({ length: 25 }, (_, i) => task(`t${String(i).padStart(2, "0")}`)))
      const claimed = yield* b.claim({ owner: "w", queues: ["default"], limit: 25, leaseMillis: 1_000 })
      yield* b.settle(claimed.map((r) => ({ _tag: "Succeeded" as const, lease: lease(r), result: new Uint8Array() })))
      assert.strictEqual(yield* b.purge({}), 25)
      assert.strictEqual((yield* b.stats()).success, 0)
    }).pipe(Effect.provide(freshLayer({ purgeBatchSize: 7 }))))

  it.live("concurrent claimers get disjoint tasks", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      yield* b.enqueue(Array.from({ length: 300 }, (_, i) => task(`c${i}`)))
      const claimers = Array.from({ length: 6 }, (_, w) =>
        Effect.gen(function*() {
          const got: Array<string> = []
          for (;;) {
            const batch = yield* b.claim({ owner: `w${w}`, queues: ["default"], limit: 7, leaseMillis: 60_000 })
            if (batch.length === 0) return got
            got.push(...ids(batch))
          }
        }))
      const all = (yield* Effect.all(claimers, { concurrency: "unbounded" })).flat()
      assert.strictEqual(all.length, 300)
      assert.strictEqual(new Set(all).size, 300)
    }).pipe(Effect.provide(freshLayer())))

  it.live("events: local at once, and from another instance through NOTIFY", () =>
    Effect.scoped(Effect.gen(function*() {
      const schema = freshSchema()
      const pg = yield* client()
      yield* dropOnClose(pg, schema)
      const one = yield* backendOn(schema)
      const two = yield* backendOn(schema)
      const local = yield* one.subscribe
      const remote = yield* two.subscribe
      yield* one.enqueue([task("e1"), task("e2", { queue: "other" })])
      const [c1] = yield* one.claim({ owner: "w", queues: ["default"], limit: 1, leaseMillis: 10_000 })
      yield* one.settle([{ _tag: "Succeeded", lease: lease(c1), result: new Uint8Array() }])
      yield* one.cancel("e2")
      const expected: Array<B.BackendEvent> = [
        { _tag: "Ready", queue: "default" },
        { _tag: "Ready", queue: "other" },
        { _tag: "Finished", ids: ["e1"] },
        { _tag: "Cancelled", ids: ["e2"] },
        { _tag: "Finished", ids: ["e2"] }
      ]
      const take = (q: Queue.Dequeue<B.BackendEvent>) =>
        Effect.map(Effect.all(expected.map(() => Queue.take(q))), (evs) =>
          evs.map((e) => ({ ...e })))
      const sortKey = (e: B.BackendEvent) => JSON.stringify(e)
      const gotLocal = yield* take(local).pipe(Effect.timeout("5 seconds"))
      assert.deepStrictEqual(gotLocal.map(sortKey).sort(), expected.map(sortKey).sort())
      const gotRemote = yield* take(remote).pipe(Effect.timeout("5 seconds"))
      assert.deepStrictEqual(gotRemote.map(sortKey).sort(), expected.map(sortKey).sort())
      // Our own notifications are not delivered twice.
      yield* Effect.sleep("200 millis")
      assert.strictEqual(yield* Queue.size(local), 0)
    })))

  it.live("layerClient: an enqueue inside the application's transaction commits or rolls back with it", () =>
    Effect.scoped(Effect.gen(function*() {
      const schema = freshSchema()
      const pg = yield* client()
      yield* dropOnClose(pg, schema)
      const ctx = yield* Layer.build(
        PostgresBackend.layerClient({ schema }).pipe(Layer.provide(Layer.succeed(PgClient.PgClient, pg)))
      )
      const b = yield* Effect.provide(Backend, ctx)
      const other = yield* backendOn(schema)
      const events = yield* other.subscribe
      const mine = yield* b.subscribe

      const failed = yield* pg.withTransaction(
        b.enqueue([task("rolled")]).pipe(Effect.zipRight(Effect.fail("abort" as const)))
      ).pipe(Effect.flip)
      assert.strictEqual(failed, "abort")
      assert.deepStrictEqual(yield* b.get("rolled"), Option.none())

      const gate = yield* Deferred.make<void>()
      const tx = yield* pg.withTransaction(
        Effect.gen(function*() {
          yield* b.enqueue([task("kept")])
          yield* pg.unsafe(`INSERT INTO "${schema}".tasks (id, queue, name, payload, priority, status, run_at, enqueued_at)
            VALUES ('app-row', 'default', 'x', '\\x', 2, 'pending', 0, 0)`).raw
          yield* Deferred.await(gate)
        })
      ).pipe(Effect.fork)
      yield* Effect.sleep("300 millis")
      // Not visible, and no wake-up, before commit.
      assert.deepStrictEqual(yield* other.get("kept"), Option.none())
      assert.strictEqual(yield* Queue.size(events), 0)
      assert.strictEqual(yield* Queue.size(mine), 0)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(tx)
      assert.strictEqual(Option.getOrThrow(yield* other.get("kept")).status, "pending")
      assert.deepStrictEqual(yield* Queue.take(events).pipe(Effect.timeout("5 seconds")), { _tag: "Ready", queue: "default" })
      assert.deepStrictEqual(yield* Queue.take(mine).pipe(Effect.timeout("5 seconds")), { _tag: "Ready", queue: "default" })
      assert.deepStrictEqual(ids(yield* other.list({})), ["kept", "app-row"])
    })))

  it.live("two processes' worth of concurrent starts migrate a fresh schema once", () =>
    Effect.scoped(Effect.gen(function*() {
      const schema = freshSchema()
      const pg = yield* client()
      yield* dropOnClose(pg, schema)
      const backends = yield* Effect.all(Array.from({ length: 4 }, () => backendOn(schema)), { concurrency: "unbounded" })
      yield* backends[0].enqueue([task("m")])
      for (const b of backends) assert.deepStrictEqual(ids(yield* b.list({})), ["m"])
      const rows = yield* pg.unsafe<{ migration_id: number }>(
        `SELECT migration_id FROM "${schema}".sitq_migrations`
      ).withoutTransform
      assert.deepStrictEqual(rows.map((r) => r.migration_id), [1])
      // Starting again on a migrated schema is a no-op.
      yield* backendOn(schema)
    })))

  it.live("a start waits for the schema's advisory lock while another process migrates", () =>
    Effect.scoped(Effect.gen(function*() {
      const schema = freshSchema()
      const pg = yield* client()
      yield* dropOnClose(pg, schema)
      const gate = yield* Deferred.make<void>()
      const locked = yield* Deferred.make<void>()
      const holder = yield* pg.withTransaction(
        pg.unsafe("SELECT pg_advisory_xact_lock(hashtext($1))", [`sitq:${schema}`]).raw.pipe(
          Effect.zipRight(Deferred.succeed(locked, undefined)),
          Effect.zipRight(Deferred.await(gate))
        )
      ).pipe(Effect.fork)
      yield* Deferred.await(locked)
      const starting = yield* Effect.fork(backendOn(schema))
      yield* Effect.sleep("500 millis")
      assert.isNull(starting.unsafePoll())
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(holder)
      const b = yield* Fiber.join(starting)
      assert.deepStrictEqual(yield* b.list({}), [])
    })))

  it.live("a schema that holds something else is a Schema error", () =>
    Effect.scoped(Effect.gen(function*() {
      const schema = freshSchema()
      const pg = yield* client()
      yield* dropOnClose(pg, schema)
      yield* pg.unsafe(`CREATE SCHEMA "${schema}"`).raw
      yield* pg.unsafe(`CREATE TABLE "${schema}".tasks (something int)`).raw
      const error = yield* Effect.flip(backendOn(schema))
      assert.strictEqual(error.reason, "Schema")
      const bad = yield* Effect.flip(backendOn("Not A Schema"))
      assert.strictEqual(bad.reason, "Schema")
    })))

  it.live("retention purges old finished tasks periodically", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      yield* b.enqueue([task("old"), task("live")])
      const [c] = yield* b.claim({ owner: "w", queues: ["default"], limit: 1, leaseMillis: 10_000 })
      yield* b.settle([{ _tag: "Succeeded", lease: lease(c), result: new Uint8Array() }])
      assert.strictEqual((yield* b.stats()).success, 1)
      // finishedOlderThan 200 ms, every 100 ms: gone within a second, the pending one stays.
      let success = 1
      for (let i = 0; i < 20 && success > 0; i++) {
        yield* Effect.sleep("100 millis")
        success = (yield* b.stats()).success
      }
      assert.strictEqual(success, 0)
      assert.deepStrictEqual(ids(yield* b.list({})), ["live"])
    }).pipe(Effect.provide(freshLayer({ retention: { finishedOlderThan: "200 millis", every: "100 millis" } }))))

  it.live("layerConfig reads the URL (redacted) and schema from Config", () =>
    Effect.gen(function*() {
      const schema = freshSchema()
      const pg = yield* client()
      yield* dropOnClose(pg, schema)
      const ctx = yield* Layer.build(PostgresBackend.layerConfig({
        url: Config.redacted("SITQ_TEST_POSTGRES_URL"),
        schema: Config.succeed(schema)
      }))
      const b = yield* Effect.provide(Backend, ctx)
      yield* b.enqueue([task("cfg")])
      const rows = yield* pg.unsafe<{ id: string }>(`SELECT id FROM "${schema}".tasks`).withoutTransform
      assert.deepStrictEqual(rows.map((r) => r.id), ["cfg"])
    }).pipe(Effect.scoped))

  describe("connection failures fail the layer with a typed BackendError, quickly", () => {
    const start = (options: PostgresBackend.Options) =>
      Effect.gen(function*() {
        const t0 = Date.now()
        const exit = yield* Effect.exit(Effect.scoped(Layer.build(PostgresBackend.layer(options))))
        assert.isTrue(Exit.isFailure(exit))
        const error = yield* Effect.flip(exit)
        assert.strictEqual(error._tag, "BackendError")
        assert.strictEqual(error.reason, "Connect")
        return { error, millis: Date.now() - t0 }
      })
    const parsed = new URL(url)

    it.live("nothing listening on the port", () =>
      Effect.gen(function*() {
        const bad = new URL(url)
        bad.port = "1"
        const { millis } = yield* start({ url: bad.toString(), connectTimeout: "3 seconds" })
        assert.isBelow(millis, 3_500)
      }))

    it.live("a role that does not exist", () =>
      Effect.gen(function*() {
        const bad = new URL(url)
        bad.username = "sitq_no_such_role"
        const { error, millis } = yield* start({ url: Redacted.make(bad.toString()) })
        assert.include(error.message, "sitq_no_such_role")
        assert.isBelow(millis, 5_500)
      }))

    it.live("a database that does not exist", () =>
      Effect.gen(function*() {
        const bad = new URL(url)
        bad.pathname = "/sitq_no_such_db"
        const { error, millis } = yield* start({ url: bad.toString() })
        assert.include(error.message, "sitq_no_such_db")
        assert.isBelow(millis, 5_500)
      }))

    it.live("a server that accepts the connection but never answers times out at connectTimeout", () =>
      Effect.gen(function*() {
        // A TCP server that accepts and then stays silent: the connect itself succeeds, the
        // PostgreSQL handshake never completes.
        const sockets = new Set<Socket>()
        const server = yield* Effect.acquireRelease(
          Effect.async<Server>((resume) => {
            const srv = createServer((socket) => {
              sockets.add(socket)
            })
            srv.listen(0, "127.0.0.1", () => resume(Effect.succeed(srv)))
          }),
          (srv) =>
            Effect.async<void>((resume) => {
              for (const socket of sockets) socket.destroy()
              srv.close(() => resume(Effect.void))
            })
        )
        const port = (server.address() as AddressInfo).port
        const bad = new URL(url)
        bad.port = String(port)
        const { millis } = yield* start({ url: bad.toString(), connectTimeout: "1 second" })
        assert.isAtLeast(millis, 900)
        assert.isBelow(millis, 3_000)
        assert.isAtLeast(sockets.size, 1)
      }).pipe(Effect.scoped))

    it.live("a backend used after its layer closed fails with reason Closed", () =>
      Effect.gen(function*() {
        const schema = freshSchema()
        const pg = yield* client()
        yield* dropOnClose(pg, schema)
        const b = yield* Effect.scoped(
          Effect.flatMap(Layer.build(PostgresBackend.layer({ url, schema })), (ctx) => Effect.provide(Backend, ctx))
        )
        const error = yield* Effect.flip(b.stats())
        assert.strictEqual(error._tag, "BackendError")
        assert.strictEqual(error.reason, "Closed")
      }).pipe(Effect.scoped))

    it.live("the URL's own server works (sanity for the cases above)", () =>
      Effect.gen(function*() {
        assert.strictEqual(parsed.protocol, "postgres:")
        const schema = freshSchema()
        const pg = yield* client()
        yield* dropOnClose(pg, schema)
        const ctx = yield* Layer.build(PostgresBackend.layer({ url, schema }))
        const b = yield* Effect.provide(Backend, ctx)
        assert.deepStrictEqual(yield* b.stats(), { pending: 0, in_progress: 0, success: 0, failed: 0, cancelled: 0 })
        const schemas = yield* pg.unsafe<{ n: string }>(
          `SELECT count(*)::text AS n FROM pg_stat_activity WHERE application_name = 'sitq'`
        ).withoutTransform
        assert.isAtLeast(Number(schemas[0].n), 1)
      }).pipe(Effect.scoped))
  })
})
