/**
 * The SQLite backend's port operations, each against a fresh database file: claim order, leases
 * and lease recovery, fencing, dedup keys, atomic and chunked batches, cancel/retry, queries,
 * events, and durability across re-opening the file.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Option, Queue, TestClock } from "effect"
import type * as B from "../../src/Backend.js"
import { Backend } from "../../src/Backend.js"
import { SqliteBackend } from "../../src/backends/sqlite.js"
import { freshLayer, newTask, tempFile } from "./helpers.js"

const bytes = (...xs: Array<number>) => new Uint8Array(xs)
const lease = (rec: B.TaskRecord): B.Lease => ({ id: rec.id, owner: rec.leaseOwner ?? "", attempt: rec.attempts })
const claimAll = (b: B.Backend, owner = "w1", leaseMillis = 1000, limit = 100) =>
  b.claim({ owner, queues: ["default"], limit, leaseMillis })
const must = <A>(o: Option.Option<A>): A => Option.getOrThrow(o)

describe("SqliteBackend port", () => {
  it.effect("enqueue stores the task as given, pending, attempts 0, enqueuedAt = now", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust(5000)
      const b = yield* Backend
      const [r] = yield* b.enqueue([newTask({ id: "x1", payload: bytes(0, 255, 7), priority: 4, runAt: 7000, key: "k" })])
      assert.deepStrictEqual(r, { id: "x1", inserted: true })
      const rec = must(yield* b.get("x1"))
      assert.strictEqual(rec.status, "pending")
      assert.strictEqual(rec.attempts, 0)
      assert.strictEqual(rec.enqueuedAt, 5000)
      assert.strictEqual(rec.runAt, 7000)
      assert.strictEqual(rec.priority, 4)
      assert.strictEqual(rec.key, "k")
      assert.deepStrictEqual(Array.from(rec.payload), [0, 255, 7])
      assert.isNull(rec.leaseOwner)
      assert.isNull(rec.startedAt)
      assert.isTrue(Option.isNone(yield* b.get("nope")))
    }).pipe(Effect.provide(freshLayer)))

  it.effect("claims in order: priority desc, runAt asc, enqueue order; only due tasks; up to limit", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust(1000)
      const b = yield* Backend
      yield* b.enqueue([
        newTask({ id: "low", priority: 1, runAt: 0 }),
        newTask({ id: "n2", priority: 2, runAt: 500 }),
        newTask({ id: "n1", priority: 2, runAt: 100 }),
        newTask({ id: "n3", priority: 2, runAt: 500 }),
        newTask({ id: "high", priority: 4, runAt: 900 }),
        newTask({ id: "later", priority: 4, runAt: 1001 }),
        newTask({ id: "other", queue: "other", priority: 4, runAt: 0 })
      ])
      const first = yield* claimAll(b, "w1", 1000, 3)
      assert.deepStrictEqual(first.map((r) => r.id), ["high", "n1", "n2"])
      const rest = yield* claimAll(b)
      assert.deepStrictEqual(rest.map((r) => r.id), ["n3", "low"])
      assert.deepStrictEqual(yield* claimAll(b), [])
      yield* TestClock.adjust(1)
      assert.deepStrictEqual((yield* claimAll(b)).map((r) => r.id), ["later"])
      const both = yield* b.claim({ owner: "w", queues: ["other", "default"], limit: 5, leaseMillis: 10 })
      assert.deepStrictEqual(both.map((r) => r.id), ["other"])
    }).pipe(Effect.provide(freshLayer)))

  it.effect("claim order across several queues and priorities, with not-yet-due tasks in between", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust(10_000)
      const b = yield* Backend
      const tasks = Array.from({ length: 60 }, (_, i) =>
        newTask({
          id: `m${String(i).padStart(2, "0")}`,
          queue: ["a", "b", "c"][i % 3],
          priority: (i * 7) % 5,
          runAt: (i * 13) % 4 === 0 ? 20_000 + i : (i * 37) % 10_000
        }))
      yield* b.enqueue(tasks)
      const due = tasks
        .map((task, seq) => ({ task, seq }))
        .filter(({ task }) => task.queue !== "c" && task.runAt <= 10_000)
        .sort((x, y) => y.task.priority - x.task.priority || x.task.runAt - y.task.runAt || x.seq - y.seq)
        .map(({ task }) => task.id)
      const first = yield* b.claim({ owner: "w", queues: ["a", "b"], limit: 7, leaseMillis: 1000 })
      const rest = yield* b.claim({ owner: "w", queues: ["b", "a"], limit: 100, leaseMillis: 1000 })
      assert.deepStrictEqual([...first, ...rest].map((r) => r.id), due)
      assert.isTrue(due.length > 20)
    }).pipe(Effect.provide(freshLayer)))

  it.effect("claim order with more distinct priorities than the per-priority plan takes", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust(1000)
      const b = yield* Backend
      const tasks = Array.from({ length: 300 }, (_, i) =>
        newTask({ id: `p${String(i).padStart(3, "0")}`, priority: (i * 101) % 150, runAt: i % 5 === 0 ? 5000 : i }))
      yield* b.enqueue(tasks)
      const due = tasks
        .map((task, seq) => ({ task, seq }))
        .filter(({ task }) => task.runAt <= 1000)
        .sort((x, y) => y.task.priority - x.task.priority || x.task.runAt - y.task.runAt || x.seq - y.seq)
        .map(({ task }) => task.id)
      const claimed = yield* claimAll(b, "w", 1000, 50)
      assert.deepStrictEqual(claimed.map((r) => r.id), due.slice(0, 50))
      const rest = yield* claimAll(b, "w", 1000, 1000)
      assert.deepStrictEqual(rest.map((r) => r.id), due.slice(50))
    }).pipe(Effect.provide(freshLayer)))

  it.effect("enqueue order breaks ties across batches and survives ids that sort the other way", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      yield* b.enqueue([newTask({ id: "zzz" })])
      yield* b.enqueue([newTask({ id: "aaa" }), newTask({ id: "mmm" })])
      assert.deepStrictEqual((yield* claimAll(b)).map((r) => r.id), ["zzz", "aaa", "mmm"])
    }).pipe(Effect.provide(freshLayer)))

  it.effect("a claim leases the task: in_progress, attempts + 1, owner, leaseUntil, startedAt", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust(2000)
      const b = yield* Backend
      yield* b.enqueue([newTask({ id: "a" })])
      const [rec] = yield* claimAll(b, "w1", 1500)
      assert.strictEqual(rec.status, "in_progress")
      assert.strictEqual(rec.attempts, 1)
      assert.strictEqual(rec.leaseOwner, "w1")
      assert.strictEqual(rec.leaseUntil, 3500)
      assert.strictEqual(rec.startedAt, 2000)
      assert.deepStrictEqual(must(yield* b.get("a")), rec)
      assert.deepStrictEqual(yield* claimAll(b, "w2"), [])
    }).pipe(Effect.provide(freshLayer)))

  it.effect("lease recovery: an expired lease is claimed again; the old owner is fenced out", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      yield* b.enqueue([newTask({ id: "a" })])
      const [first] = yield* claimAll(b, "dead", 1000)
      yield* TestClock.adjust(999)
      assert.deepStrictEqual(yield* claimAll(b, "w2"), [])
      yield* TestClock.adjust(1)
      const [second] = yield* claimAll(b, "w2", 1000)
      assert.strictEqual(second.id, "a")
      assert.strictEqual(second.attempts, 2)
      assert.strictEqual(second.leaseOwner, "w2")
      assert.deepStrictEqual(yield* b.heartbeat([lease(first)], 1000), ["a"])
      assert.deepStrictEqual(
        yield* b.settle([{ _tag: "Succeeded", lease: lease(first), result: bytes(1) }]),
        [false]
      )
      assert.deepStrictEqual(
        yield* b.settle([{ _tag: "Succeeded", lease: lease(second), result: bytes(2) }]),
        [true]
      )
      const done = must(yield* b.get("a"))
      assert.strictEqual(done.status, "success")
      assert.deepStrictEqual(Array.from(done.result ?? []), [2])
    }).pipe(Effect.provide(freshLayer)))

  it.effect("heartbeat extends held leases and reports lost ones", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      yield* b.enqueue([newTask({ id: "a" }), newTask({ id: "b" }), newTask({ id: "c" })])
      const [a, bb, c] = yield* claimAll(b, "w1", 1000)
      yield* b.cancel(c.id)
      yield* TestClock.adjust(500)
      const lost = yield* b.heartbeat(
        [lease(a), { ...lease(bb), attempt: 7 }, lease(c), { id: "ghost", owner: "w1", attempt: 1 }],
        1000
      )
      assert.deepStrictEqual(lost, ["b", "c", "ghost"])
      assert.strictEqual(must(yield* b.get("a")).leaseUntil, 1500)
      assert.strictEqual(must(yield* b.get("b")).leaseUntil, 1000)
      yield* TestClock.adjust(600)
      assert.deepStrictEqual((yield* claimAll(b, "w2")).map((r) => r.id), ["b"])
    }).pipe(Effect.provide(freshLayer)))

  it.effect("settle: each outcome fenced, all kinds recorded as the port says", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust(100)
      const b = yield* Backend
      yield* b.enqueue(["s", "f", "r", "rel", "x"].map((id) => newTask({ id })))
      const recs = yield* claimAll(b, "w1", 1000)
      // give "rel" an error from an earlier attempt: Released keeps it
      const [s, f, r, rel, x] = recs
      yield* TestClock.adjust(50)
      const error = { tag: "Boom", message: "it broke", data: bytes(42) }
      const accepted = yield* b.settle([
        { _tag: "Succeeded", lease: lease(s), result: bytes(9, 9) },
        { _tag: "Failed", lease: lease(f), error, traceback: "trace f" },
        { _tag: "Retrying", lease: lease(r), runAt: 10_000, error, traceback: "trace r" },
        { _tag: "Released", lease: lease(rel) },
        { _tag: "Succeeded", lease: { ...lease(x), owner: "intruder" }, result: bytes(0) },
        { _tag: "Failed", lease: { ...lease(x), attempt: 2 }, error, traceback: null }
      ])
      assert.deepStrictEqual(accepted, [true, true, true, true, false, false])

      const sr = must(yield* b.get("s"))
      assert.strictEqual(sr.status, "success")
      assert.deepStrictEqual(Array.from(sr.result ?? []), [9, 9])
      assert.strictEqual(sr.finishedAt, 150)
      assert.isNull(sr.leaseOwner)
      assert.isNull(sr.leaseUntil)
      assert.isNull(sr.error)

      const fr = must(yield* b.get("f"))
      assert.strictEqual(fr.status, "failed")
      assert.strictEqual(fr.finishedAt, 150)
      assert.deepStrictEqual(fr.error && { ...fr.error, data: Array.from(fr.error.data ?? []) }, {
        tag: "Boom",
        message: "it broke",
        data: [42]
      })
      assert.strictEqual(fr.traceback, "trace f")
      assert.isNull(fr.leaseOwner)

      const rr = must(yield* b.get("r"))
      assert.strictEqual(rr.status, "pending")
      assert.strictEqual(rr.runAt, 10_000)
      assert.strictEqual(rr.attempts, 1)
      assert.strictEqual(rr.error?.tag, "Boom")
      assert.strictEqual(rr.traceback, "trace r")
      assert.isNull(rr.finishedAt)
      assert.isNull(rr.leaseOwner)

      const relr = must(yield* b.get("rel"))
      assert.strictEqual(relr.status, "pending")
      assert.strictEqual(relr.attempts, 0)
      assert.strictEqual(relr.runAt, 0)
      assert.isNull(relr.leaseOwner)

      assert.strictEqual(must(yield* b.get("x")).status, "in_progress")

      // the retried task keeps its error until it succeeds; a success clears it ("x"'s lease expired)
      yield* TestClock.adjust(10_000)
      const again = yield* claimAll(b, "w2")
      assert.deepStrictEqual(again.map((t) => t.id), ["rel", "x", "r"])
      assert.deepStrictEqual(again.map((t) => t.attempts), [1, 2, 2])
      yield* b.settle([{ _tag: "Succeeded", lease: lease(again[2]), result: bytes(1) }])
      const rr2 = must(yield* b.get("r"))
      assert.isNull(rr2.error)
      assert.isNull(rr2.traceback)
    }).pipe(Effect.provide(freshLayer)))

  it.effect("settle applies outcomes for the same task in order within one call", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      yield* b.enqueue([newTask({ id: "a" })])
      const [a] = yield* claimAll(b)
      const accepted = yield* b.settle([
        { _tag: "Succeeded", lease: lease(a), result: bytes(1) },
        { _tag: "Released", lease: lease(a) }
      ])
      assert.deepStrictEqual(accepted, [true, false])
      assert.strictEqual(must(yield* b.get("a")).status, "success")
    }).pipe(Effect.provide(freshLayer)))

  it.effect("dedup keys: a live task with the key wins, in the store and within a batch", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      const first = yield* b.enqueue([newTask({ id: "k1", key: "K" }), newTask({ id: "free" })])
      assert.deepStrictEqual(first, [{ id: "k1", inserted: true }, { id: "free", inserted: true }])
      const second = yield* b.enqueue([
        newTask({ id: "k2", key: "K" }),
        newTask({ id: "j1", key: "J" }),
        newTask({ id: "j2", key: "J" }),
        newTask({ id: "plain" })
      ])
      assert.deepStrictEqual(second, [
        { id: "k1", inserted: false },
        { id: "j1", inserted: true },
        { id: "j1", inserted: false },
        { id: "plain", inserted: true }
      ])
      assert.isTrue(Option.isNone(yield* b.get("k2")))
      assert.isTrue(Option.isNone(yield* b.get("j2")))
      // running still counts as live
      const claimed = yield* claimAll(b)
      const k1 = claimed.find((r) => r.id === "k1")!
      assert.deepStrictEqual(yield* b.enqueue([newTask({ id: "k3", key: "K" })]), [{ id: "k1", inserted: false }])
      // finished does not
      yield* b.settle([{ _tag: "Succeeded", lease: lease(k1), result: bytes() }])
      assert.deepStrictEqual(yield* b.enqueue([newTask({ id: "k4", key: "K" })]), [{ id: "k4", inserted: true }])
    }).pipe(Effect.provide(freshLayer)))

  it.effect("a batch is all or nothing: a failing row leaves none of the batch", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      yield* b.enqueue([newTask({ id: "taken" })])
      const batch = Array.from({ length: 1200 }, (_, i) => newTask({ id: `b${i}`, key: i % 3 === 0 ? `key${i}` : null }))
      batch[1100] = newTask({ id: "taken" })
      const error = yield* Effect.flip(b.enqueue(batch))
      assert.strictEqual(error._tag, "BackendError")
      assert.strictEqual(error.reason, "Query")
      assert.deepStrictEqual(yield* b.stats(), { pending: 1, in_progress: 0, success: 0, failed: 0, cancelled: 0 })
    }).pipe(Effect.provide(freshLayer)))

  it.effect("large batches are chunked under SQLite's variable limit, in order", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      const batch = Array.from({ length: 12_345 }, (_, i) => newTask({ id: `big${String(i).padStart(6, "0")}` }))
      const out = yield* b.enqueue(batch)
      assert.strictEqual(out.length, 12_345)
      assert.isTrue(out.every((r, i) => r.inserted && r.id === batch[i].id))
      assert.strictEqual((yield* b.stats()).pending, 12_345)
      const firsts = yield* claimAll(b, "w", 1000, 3)
      assert.deepStrictEqual(firsts.map((r) => r.id), ["big000000", "big000001", "big000002"])
      const keyed = Array.from({ length: 2000 }, (_, i) => newTask({ id: `kk${i}`, key: `K${i % 1500}` }))
      const res = yield* b.enqueue(keyed)
      assert.strictEqual(res.filter((r) => r.inserted).length, 1500)
      assert.deepStrictEqual(res[1700], { id: "kk200", inserted: false })
    }).pipe(Effect.provide(freshLayer)))

  it.effect("cancel and retry", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust(10)
      const b = yield* Backend
      yield* b.enqueue([newTask({ id: "p" }), newTask({ id: "run" }), newTask({ id: "done", runAt: 5 })])
      assert.strictEqual(yield* b.cancel("p"), "cancelled")
      const [run, done] = yield* claimAll(b)
      assert.strictEqual(run.id, "run")
      assert.strictEqual(yield* b.cancel("run"), "cancelled")
      const cancelled = must(yield* b.get("run"))
      assert.strictEqual(cancelled.status, "cancelled")
      assert.strictEqual(cancelled.finishedAt, 10)
      assert.isNull(cancelled.leaseOwner)
      assert.deepStrictEqual(yield* b.settle([{ _tag: "Succeeded", lease: lease(run), result: bytes() }]), [false])
      yield* b.settle([{ _tag: "Failed", lease: lease(done), error: { tag: "E", message: "m", data: null }, traceback: "tb" }])
      assert.strictEqual(yield* b.cancel("done"), "finished")
      assert.strictEqual(yield* b.cancel("ghost"), "not_found")

      yield* TestClock.adjust(90)
      assert.strictEqual(yield* b.retry("done"), "requeued")
      const requeued = must(yield* b.get("done"))
      assert.strictEqual(requeued.status, "pending")
      assert.strictEqual(requeued.attempts, 0)
      assert.strictEqual(requeued.runAt, 100)
      assert.isNull(requeued.finishedAt)
      assert.isNull(requeued.error)
      assert.isNull(requeued.traceback)
      assert.isNull(requeued.result)
      assert.strictEqual(yield* b.retry("p"), "requeued")
      assert.strictEqual(yield* b.retry("p"), "not_finished")
      assert.strictEqual(yield* b.retry("ghost"), "not_found")
      assert.deepStrictEqual((yield* claimAll(b)).map((r) => r.id), ["p", "done"])
      assert.strictEqual(yield* b.retry("p"), "not_finished")
    }).pipe(Effect.provide(freshLayer)))

  it.effect("list, stats, purge, nextWakeAt", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust(1000)
      const b = yield* Backend
      assert.deepStrictEqual(yield* b.nextWakeAt(["default"]), Option.none())
      yield* b.enqueue([
        newTask({ id: "a", name: "x" }),
        newTask({ id: "b", name: "y" }),
        newTask({ id: "c", name: "x", queue: "q2", runAt: 5000 }),
        newTask({ id: "d", name: "x", runAt: 3000 })
      ])
      assert.deepStrictEqual(yield* b.nextWakeAt(["default"]), Option.some(0))
      assert.deepStrictEqual(yield* b.nextWakeAt(["q2"]), Option.some(5000))
      assert.deepStrictEqual(yield* b.nextWakeAt(["none"]), Option.none())
      const [a, bb] = yield* claimAll(b, "w", 700)
      assert.deepStrictEqual(yield* b.nextWakeAt(["default"]), Option.some(1700))
      yield* b.settle([
        { _tag: "Succeeded", lease: lease(a), result: bytes() },
        { _tag: "Failed", lease: lease(bb), error: { tag: "E", message: "m", data: null }, traceback: null }
      ])
      assert.deepStrictEqual(yield* b.nextWakeAt(["default", "q2"]), Option.some(3000))

      assert.deepStrictEqual((yield* b.list({})).map((r) => r.id), ["a", "b", "c", "d"])
      assert.deepStrictEqual((yield* b.list({ newestFirst: true, limit: 2 })).map((r) => r.id), ["d", "c"])
      assert.deepStrictEqual((yield* b.list({ name: "x" })).map((r) => r.id), ["a", "c", "d"])
      assert.deepStrictEqual((yield* b.list({ name: "x", queue: "default" })).map((r) => r.id), ["a", "d"])
      assert.deepStrictEqual((yield* b.list({ status: "failed" })).map((r) => r.id), ["b"])
      assert.deepStrictEqual(yield* b.list({ limit: 0 }), [])

      assert.deepStrictEqual(yield* b.stats(), { pending: 2, in_progress: 0, success: 1, failed: 1, cancelled: 0 })
      assert.deepStrictEqual(yield* b.stats("q2"), { pending: 1, in_progress: 0, success: 0, failed: 0, cancelled: 0 })

      assert.strictEqual(yield* b.purge({ statuses: ["failed"], finishedBefore: 1000 }), 0)
      assert.strictEqual(yield* b.purge({ statuses: ["failed"], finishedBefore: 1001 }), 1)
      assert.strictEqual(yield* b.purge({ queue: "q2" }), 0)
      assert.strictEqual(yield* b.purge({}), 1)
      assert.deepStrictEqual((yield* b.list({})).map((r) => r.id), ["c", "d"])
    }).pipe(Effect.provide(freshLayer)))

  it.effect("purge deletes in batches until done", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      yield* b.enqueue(Array.from({ length: 2500 }, () => newTask()))
      for (let i = 0; i < 3; i++) {
        const recs = yield* claimAll(b, "w", 1000, 1000)
        yield* b.settle(recs.map((r) => ({ _tag: "Succeeded" as const, lease: lease(r), result: bytes() })))
      }
      assert.strictEqual(yield* b.purge({}), 2500)
      assert.deepStrictEqual(yield* b.stats(), { pending: 0, in_progress: 0, success: 0, failed: 0, cancelled: 0 })
    }).pipe(Effect.provide(freshLayer)))

  it.scoped("events: Ready on enqueue/retry/release, Finished on settle, Cancelled on cancel", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      const events = yield* b.subscribe
      yield* b.enqueue([newTask({ id: "a" }), newTask({ id: "b", queue: "q2" }), newTask({ id: "c" })])
      const [a, c] = yield* claimAll(b)
      yield* b.settle([{ _tag: "Succeeded", lease: lease(a), result: bytes() }, { _tag: "Released", lease: lease(c) }])
      yield* b.cancel("b")
      const got = Chunk.toReadonlyArray(yield* Queue.takeAll(events))
      assert.deepStrictEqual(got, [
        { _tag: "Ready", queue: "default" },
        { _tag: "Ready", queue: "q2" },
        { _tag: "Ready", queue: "default" },
        { _tag: "Finished", ids: ["a"] },
        { _tag: "Cancelled", ids: ["b"] },
        { _tag: "Finished", ids: ["b"] }
      ])
    }).pipe(Effect.provide(freshLayer)))

  it.scoped("events are shared by every layer opened on the same file in this process", () =>
    Effect.gen(function*() {
      const filename = yield* tempFile
      const producer = yield* Layer.build(SqliteBackend.layer({ filename }))
      const consumer = yield* Layer.build(SqliteBackend.layer({ filename }))
      const other = yield* Layer.build(SqliteBackend.layer({ filename, prefix: "other_" }))
      const events = yield* consumer.pipe((ctx) => Effect.provide(Effect.flatMap(Backend, (b) => b.subscribe), ctx))
      const otherEvents = yield* Effect.provide(Effect.flatMap(Backend, (b) => b.subscribe), other)
      yield* Effect.provide(Effect.flatMap(Backend, (b) => b.enqueue([newTask({ id: "e1" })])), producer)
      assert.deepStrictEqual(yield* Queue.take(events), { _tag: "Ready", queue: "default" })
      assert.strictEqual(yield* Queue.size(otherEvents), 0)
      const seen = yield* Effect.provide(Effect.flatMap(Backend, (b) => b.get("e1")), consumer)
      assert.isTrue(Option.isSome(seen))
    }))

  it.scoped("tasks survive closing and re-opening the file; migrations run once", () =>
    Effect.gen(function*() {
      const filename = yield* tempFile
      yield* Effect.scoped(
        Effect.flatMap(Layer.build(SqliteBackend.layer({ filename })), (ctx) =>
          Effect.provide(Effect.flatMap(Backend, (b) => b.enqueue([newTask({ id: "durable", key: "D" })])), ctx))
      )
      const ctx = yield* Layer.build(SqliteBackend.layer({ filename }))
      const b = yield* Effect.provide(Backend, ctx)
      assert.strictEqual(must(yield* b.get("durable")).status, "pending")
      assert.deepStrictEqual(yield* b.enqueue([newTask({ id: "dup", key: "D" })]), [{ id: "durable", inserted: false }])
    }))

  it.scoped("after the layer closed, operations fail with a typed Closed error", () =>
    Effect.gen(function*() {
      const filename = yield* tempFile
      const b = yield* Effect.scoped(Effect.flatMap(Layer.build(SqliteBackend.layer({ filename })), (ctx) =>
        Effect.provide(Effect.tap(Backend, (b) => b.enqueue([newTask({ id: "before" })])), ctx)))
      const get = yield* Effect.flip(b.get("before"))
      assert.deepStrictEqual([get._tag, get.reason], ["BackendError", "Closed"])
      const claim = yield* Effect.flip(claimAll(b))
      assert.strictEqual(claim.reason, "Closed")
    }))

  it.scoped("several stores share one file under different prefixes", () =>
    Effect.gen(function*() {
      const filename = yield* tempFile
      const one = yield* Effect.provide(Backend, yield* Layer.build(SqliteBackend.layer({ filename })))
      const two = yield* Effect.provide(Backend, yield* Layer.build(SqliteBackend.layer({ filename, prefix: "two_" })))
      yield* one.enqueue([newTask({ id: "only-in-one" })])
      assert.strictEqual((yield* one.stats()).pending, 1)
      assert.strictEqual((yield* two.stats()).pending, 0)
      const bad = yield* Effect.flip(
        Layer.build(SqliteBackend.layer({ filename, prefix: "bad-prefix; DROP" }))
      )
      assert.strictEqual(bad.reason, "Schema")
    }))
})
