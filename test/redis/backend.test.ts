/**
 * The Redis backend's port operations, checked directly against a real server: claim order,
 * fencing, lease recovery, dedup, batches, cancel/retry, retention, purge, wake-ups, and a clear
 * error for a server that is not there.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Config, ConfigProvider, Duration, Effect, Exit, Layer, Option, Queue, TestClock } from "effect"
import { Redis } from "ioredis"
import type { NewTask } from "../../src/Backend.js"
import { Backend } from "../../src/Backend.js"
import { RedisBackend } from "../../src/backends/redis.js"
import { BackendError } from "../../src/Errors.js"
import { deleteStore, freshLayer, freshPrefix, redisUrl } from "./layer.js"

let counter = 0
const task = (over: Partial<NewTask> = {}): NewTask => ({
  id: `t-${++counter}-${Math.random().toString(36).slice(2)}`,
  queue: "default",
  name: "job",
  payload: new Uint8Array([1, 2, 3]),
  priority: 2,
  runAt: 0,
  key: null,
  ...over
})

const lease = (id: string, owner: string, attempt: number) => ({ id, owner, attempt })

describe("RedisBackend port", () => {
  it.effect("enqueue then get round-trips the record, bytes included", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      yield* TestClock.setTime(1_700_000_000_123)
      const payload = new Uint8Array([0, 255, 10, 13, 0, 7])
      const t = task({ payload, priority: 3, runAt: 1_700_000_005_000, key: "k1", name: "send" })
      const [r] = yield* b.enqueue([t])
      assert.deepStrictEqual(r, { id: t.id, inserted: true })
      const rec = Option.getOrThrow(yield* b.get(t.id))
      assert.deepStrictEqual(Array.from(rec.payload), Array.from(payload))
      assert.strictEqual(rec.status, "pending")
      assert.strictEqual(rec.priority, 3)
      assert.strictEqual(rec.runAt, 1_700_000_005_000)
      assert.strictEqual(rec.enqueuedAt, 1_700_000_000_123)
      assert.strictEqual(rec.attempts, 0)
      assert.strictEqual(rec.key, "k1")
      assert.strictEqual(rec.name, "send")
      assert.isNull(rec.leaseOwner)
      assert.isNull(rec.result)
      assert.isNull(rec.error)
      assert.isTrue(Option.isNone(yield* b.get("nope")))
    }).pipe(Effect.provide(freshLayer())))

  it.effect("claims by priority desc, then runAt asc, then enqueue order, across queues", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      yield* TestClock.setTime(10_000)
      const low = task({ priority: 1, runAt: 0 })
      const highLate = task({ priority: 4, runAt: 5_000, queue: "b" })
      const highEarly = task({ priority: 4, runAt: 4_000 })
      const mid1 = task({ priority: 2, runAt: 9_000, queue: "b" })
      const mid2 = task({ priority: 2, runAt: 9_000 })
      const future = task({ priority: 9, runAt: 20_000 })
      yield* b.enqueue([low, highLate, highEarly, mid1, mid2, future])
      const claimed = yield* b.claim({ owner: "w", queues: ["default", "b"], limit: 4, leaseMillis: 1000 })
      assert.deepStrictEqual(claimed.map((r) => r.id), [highEarly.id, highLate.id, mid1.id, mid2.id])
      for (const r of claimed) {
        assert.strictEqual(r.status, "in_progress")
        assert.strictEqual(r.attempts, 1)
        assert.strictEqual(r.leaseOwner, "w")
        assert.strictEqual(r.leaseUntil, 11_000)
        assert.strictEqual(r.startedAt, 10_000)
      }
      for (const r of claimed) assert.deepStrictEqual(r, Option.getOrThrow(yield* b.get(r.id)))
      const rest = yield* b.claim({ owner: "w", queues: ["default", "b"], limit: 10, leaseMillis: 1000 })
      assert.deepStrictEqual(rest.map((r) => r.id), [low.id])
      assert.strictEqual((yield* b.nextWakeAt(["default"])).pipe(Option.getOrThrow), 11_000)
      yield* TestClock.setTime(20_000)
      const later = yield* b.claim({ owner: "w", queues: ["default"], limit: 10, leaseMillis: 100_000 })
      // the future task became due, and the leases of the first claims expired (recovered)
      assert.strictEqual(later[0]!.id, future.id)
      assert.deepStrictEqual(
        later.slice(1).map((r) => r.id),
        [highEarly.id, mid2.id, low.id]
      )
      assert.strictEqual(later[1]!.attempts, 2)
    }).pipe(Effect.provide(freshLayer())))

  it.effect("a delayed task is claimed only once due; nextWakeAt tells when", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      const t = task({ runAt: 5_000 })
      yield* b.enqueue([t, task({ runAt: 7_000 })])
      assert.deepStrictEqual(yield* b.nextWakeAt(["default"]), Option.some(5_000))
      assert.deepStrictEqual(yield* b.nextWakeAt(["other"]), Option.none())
      assert.lengthOf(yield* b.claim({ owner: "w", queues: ["default"], limit: 5, leaseMillis: 1000 }), 0)
      yield* TestClock.adjust("5 seconds")
      const got = yield* b.claim({ owner: "w", queues: ["default"], limit: 5, leaseMillis: 1000 })
      assert.deepStrictEqual(got.map((r) => r.id), [t.id])
      assert.deepStrictEqual(yield* b.nextWakeAt(["default"]), Option.some(6_000))
    }).pipe(Effect.provide(freshLayer())))

  it.effect("settle is fenced by owner and attempt; outcomes record what they should", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      const [a, c, d, e] = [task(), task(), task(), task()]
      yield* b.enqueue([a, c, d, e])
      yield* b.claim({ owner: "w1", queues: ["default"], limit: 4, leaseMillis: 60_000 })
      yield* TestClock.adjust("1 second")
      const err = { tag: "Boom", message: "it broke", data: new Uint8Array([9, 9]) }
      const accepted = yield* b.settle([
        { _tag: "Succeeded", lease: lease(a.id, "w1", 1), result: new Uint8Array([42]) },
        { _tag: "Succeeded", lease: lease(c.id, "intruder", 1), result: new Uint8Array([0]) },
        { _tag: "Failed", lease: lease(c.id, "w1", 2), error: err, traceback: "tb" },
        { _tag: "Failed", lease: lease(c.id, "w1", 1), error: err, traceback: "tb" },
        { _tag: "Retrying", lease: lease(d.id, "w1", 1), runAt: 9_000, error: err, traceback: null },
        { _tag: "Released", lease: lease(e.id, "w1", 1) }
      ])
      assert.deepStrictEqual(accepted, [true, false, false, true, true, true])
      const ra = Option.getOrThrow(yield* b.get(a.id))
      assert.strictEqual(ra.status, "success")
      assert.deepStrictEqual(Array.from(ra.result!), [42])
      assert.strictEqual(ra.finishedAt, 1_000)
      assert.isNull(ra.leaseOwner)
      assert.isNull(ra.leaseUntil)
      const rc = Option.getOrThrow(yield* b.get(c.id))
      assert.strictEqual(rc.status, "failed")
      assert.strictEqual(rc.traceback, "tb")
      assert.deepStrictEqual({ ...rc.error!, data: Array.from(rc.error!.data!) }, { ...err, data: [9, 9] })
      const rd = Option.getOrThrow(yield* b.get(d.id))
      assert.strictEqual(rd.status, "pending")
      assert.strictEqual(rd.runAt, 9_000)
      assert.strictEqual(rd.attempts, 1)
      assert.strictEqual(rd.error!.tag, "Boom")
      assert.isNull(rd.traceback)
      const re = Option.getOrThrow(yield* b.get(e.id))
      assert.strictEqual(re.status, "pending")
      assert.strictEqual(re.attempts, 0)
      // a settled lease cannot settle twice
      assert.deepStrictEqual(
        yield* b.settle([{ _tag: "Succeeded", lease: lease(a.id, "w1", 1), result: new Uint8Array([1]) }]),
        [false]
      )
      // the released task is due now, the retrying one at 9s
      const again = yield* b.claim({ owner: "w2", queues: ["default"], limit: 5, leaseMillis: 60_000 })
      assert.deepStrictEqual(again.map((r) => r.id), [e.id])
      yield* TestClock.setTime(9_000)
      const third = yield* b.claim({ owner: "w2", queues: ["default"], limit: 5, leaseMillis: 1000 })
      assert.deepStrictEqual(third.map((r) => [r.id, r.attempts]), [[d.id, 2]])
      assert.deepStrictEqual(yield* b.stats(), { pending: 0, in_progress: 2, success: 1, failed: 1, cancelled: 0 })
    }).pipe(Effect.provide(freshLayer())))

  it.effect("settle stores every shape of error and traceback, in one mixed batch", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      const ts = Array.from({ length: 5 }, () => task())
      yield* b.enqueue(ts)
      yield* b.claim({ owner: "w", queues: ["default"], limit: 5, leaseMillis: 60_000 })
      const e = (data: Uint8Array | null) => ({ tag: "T", message: "msg \n with newline", data })
      const accepted = yield* b.settle([
        { _tag: "Failed", lease: lease(ts[0]!.id, "w", 1), error: e(null), traceback: null },
        { _tag: "Failed", lease: lease(ts[1]!.id, "w", 1), error: e(new Uint8Array([1])), traceback: null },
        { _tag: "Retrying", lease: lease(ts[2]!.id, "w", 1), runAt: 5, error: e(null), traceback: "tb2" },
        { _tag: "Retrying", lease: lease(ts[3]!.id, "w", 1), runAt: 6, error: e(new Uint8Array([3])), traceback: "tb3" },
        { _tag: "Succeeded", lease: lease(ts[4]!.id, "w", 1), result: new Uint8Array([4, 0, 4]) }
      ])
      assert.deepStrictEqual(accepted, [true, true, true, true, true])
      const recs = yield* Effect.forEach(ts, (t) => Effect.map(b.get(t.id), Option.getOrThrow))
      const shape = recs.map((r) => ({
        status: r.status,
        data: r.error?.data === null || r.error === null ? null : Array.from(r.error.data),
        message: r.error?.message ?? null,
        traceback: r.traceback,
        result: r.result === null ? null : Array.from(r.result)
      }))
      assert.deepStrictEqual(shape, [
        { status: "failed", data: null, message: "msg \n with newline", traceback: null, result: null },
        { status: "failed", data: [1], message: "msg \n with newline", traceback: null, result: null },
        { status: "pending", data: null, message: "msg \n with newline", traceback: "tb2", result: null },
        { status: "pending", data: [3], message: "msg \n with newline", traceback: "tb3", result: null },
        { status: "success", data: null, message: null, traceback: null, result: [4, 0, 4] }
      ])
      // a retried task that then succeeds has its last error cleared
      yield* TestClock.setTime(10)
      const again = yield* b.claim({ owner: "w", queues: ["default"], limit: 5, leaseMillis: 60_000 })
      assert.deepStrictEqual(again.map((r) => r.id), [ts[2]!.id, ts[3]!.id])
      assert.strictEqual(again[1]!.traceback, "tb3")
      // what claim returns is what is stored
      for (const r of again) assert.deepStrictEqual(r, Option.getOrThrow(yield* b.get(r.id)))
      yield* b.settle([{ _tag: "Succeeded", lease: lease(ts[3]!.id, "w", 2), result: new Uint8Array() }])
      const done = Option.getOrThrow(yield* b.get(ts[3]!.id))
      assert.isNull(done.error)
      assert.isNull(done.traceback)
      assert.strictEqual(done.attempts, 2)
    }).pipe(Effect.provide(freshLayer())))

  it.effect("an expired lease is recovered: the old owner loses heartbeat and settle", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      const t = task()
      yield* b.enqueue([t])
      yield* b.claim({ owner: "dead", queues: ["default"], limit: 1, leaseMillis: 1_000 })
      yield* TestClock.adjust(500)
      assert.deepStrictEqual(yield* b.heartbeat([lease(t.id, "dead", 1)], 1_000), [])
      yield* TestClock.adjust(999)
      assert.lengthOf(yield* b.claim({ owner: "alive", queues: ["default"], limit: 1, leaseMillis: 1_000 }), 0)
      yield* TestClock.adjust(1)
      const [rec] = yield* b.claim({ owner: "alive", queues: ["default"], limit: 1, leaseMillis: 1_000 })
      assert.strictEqual(rec!.id, t.id)
      assert.strictEqual(rec!.attempts, 2)
      assert.deepStrictEqual(yield* b.heartbeat([lease(t.id, "dead", 1), lease(t.id, "alive", 2)], 1_000), [t.id])
      assert.deepStrictEqual(
        yield* b.settle([
          { _tag: "Succeeded", lease: lease(t.id, "dead", 1), result: new Uint8Array() },
          { _tag: "Succeeded", lease: lease(t.id, "alive", 2), result: new Uint8Array() }
        ]),
        [false, true]
      )
    }).pipe(Effect.provide(freshLayer())))

  it.effect("dedup keys: within a batch, against live tasks, and free again once finished", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      const a = task({ key: "K" })
      const dup = task({ key: "K" })
      const other = task({ key: "L" })
      const res = yield* b.enqueue([a, dup, other])
      assert.deepStrictEqual(res, [{ id: a.id, inserted: true }, { id: a.id, inserted: false }, {
        id: other.id,
        inserted: true
      }])
      assert.deepStrictEqual(yield* b.enqueue([task({ key: "K" })]), [{ id: a.id, inserted: false }])
      yield* b.claim({ owner: "w", queues: ["default"], limit: 1, leaseMillis: 1000 })
      assert.deepStrictEqual(yield* b.enqueue([task({ key: "K" })]), [{ id: a.id, inserted: false }])
      yield* b.settle([{ _tag: "Succeeded", lease: lease(a.id, "w", 1), result: new Uint8Array() }])
      const next = task({ key: "K" })
      assert.deepStrictEqual(yield* b.enqueue([next]), [{ id: next.id, inserted: true }])
      // the same id again (a resent command) stands for itself and inserts nothing
      assert.deepStrictEqual(yield* b.enqueue([{ ...next, key: null }]), [{ id: next.id, inserted: false }])
      assert.strictEqual((yield* b.stats()).pending, 2)
    }).pipe(Effect.provide(freshLayer())))

  it.scoped("cancel and retry", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      const events = yield* b.subscribe
      const [p, r] = [task({ key: "c" }), task()]
      yield* b.enqueue([p, r])
      yield* b.claim({ owner: "w", queues: ["default"], limit: 1, leaseMillis: 1000 })
      yield* TestClock.adjust(100)
      assert.strictEqual(yield* b.cancel(p.id), "cancelled")
      assert.strictEqual(yield* b.cancel(p.id), "finished")
      assert.strictEqual(yield* b.cancel("missing"), "not_found")
      assert.strictEqual(yield* b.cancel(r.id), "cancelled")
      const rp = Option.getOrThrow(yield* b.get(p.id))
      assert.strictEqual(rp.status, "cancelled")
      assert.strictEqual(rp.finishedAt, 100)
      assert.isNull(rp.leaseOwner)
      assert.strictEqual(yield* b.retry("missing"), "not_found")
      const q = task()
      yield* b.enqueue([q])
      assert.strictEqual(yield* b.retry(q.id), "not_finished")
      yield* TestClock.adjust(100)
      assert.strictEqual(yield* b.retry(p.id), "requeued")
      const back = Option.getOrThrow(yield* b.get(p.id))
      assert.strictEqual(back.status, "pending")
      assert.strictEqual(back.runAt, 200)
      assert.strictEqual(back.attempts, 0)
      assert.isNull(back.finishedAt)
      assert.isNull(back.startedAt)
      // it holds its dedup key again
      assert.deepStrictEqual(yield* b.enqueue([task({ key: "c" })]), [{ id: p.id, inserted: false }])
      const claimed = yield* b.claim({ owner: "w", queues: ["default"], limit: 5, leaseMillis: 1000 })
      assert.deepStrictEqual(claimed.map((x) => x.id), [q.id, p.id])
      const seen = Chunk.toReadonlyArray(yield* Queue.takeAll(events))
      assert.deepStrictEqual(seen, [
        { _tag: "Ready", queue: "default" },
        { _tag: "Cancelled", ids: [p.id] },
        { _tag: "Finished", ids: [p.id] },
        { _tag: "Cancelled", ids: [r.id] },
        { _tag: "Finished", ids: [r.id] },
        { _tag: "Ready", queue: "default" },
        { _tag: "Ready", queue: "default" }
      ])
    }).pipe(Effect.provide(freshLayer())))

  it.effect("list, stats and purge", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      const ts = Array.from({ length: 6 }, (_, i) => task({ queue: i % 2 === 0 ? "even" : "odd", name: `n${i % 3}` }))
      yield* b.enqueue(ts)
      const all = yield* b.list({})
      assert.deepStrictEqual(all.map((r) => r.id), ts.map((t) => t.id))
      assert.deepStrictEqual(
        (yield* b.list({ newestFirst: true, limit: 2 })).map((r) => r.id),
        [ts[5]!.id, ts[4]!.id]
      )
      assert.deepStrictEqual((yield* b.list({ queue: "odd", name: "n0" })).map((r) => r.id), [ts[3]!.id])
      const claimed = yield* b.claim({ owner: "w", queues: ["even", "odd"], limit: 6, leaseMillis: 10_000 })
      yield* b.settle(claimed.slice(0, 4).map((r, i) => ({
        _tag: "Succeeded" as const,
        lease: lease(r.id, "w", 1),
        result: new Uint8Array([i])
      })))
      yield* TestClock.adjust(1_000)
      yield* b.settle([{
        _tag: "Failed",
        lease: lease(claimed[4]!.id, "w", 1),
        error: { tag: "E", message: "m", data: null },
        traceback: null
      }])
      assert.deepStrictEqual(yield* b.stats(), { pending: 0, in_progress: 1, success: 4, failed: 1, cancelled: 0 })
      assert.deepStrictEqual(yield* b.stats("even"), { pending: 0, in_progress: 0, success: 2, failed: 1, cancelled: 0 })
      assert.deepStrictEqual((yield* b.list({ status: "failed" })).map((r) => r.id), [claimed[4]!.id])
      assert.strictEqual(yield* b.purge({ finishedBefore: 1 }), 4)
      assert.strictEqual(yield* b.purge({ statuses: ["success"] }), 0)
      assert.strictEqual(yield* b.purge({ queue: "odd" }), 0)
      assert.strictEqual(yield* b.purge({}), 1)
      assert.deepStrictEqual(yield* b.stats(), { pending: 0, in_progress: 1, success: 0, failed: 0, cancelled: 0 })
      assert.lengthOf(yield* b.list({}), 1)
    }).pipe(Effect.provide(freshLayer())))

  it.effect("purge works through many tasks in bounded batches", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      const n = 2_500
      const ts = Array.from({ length: n }, () => task())
      yield* b.enqueue(ts)
      const claimed = yield* b.claim({ owner: "w", queues: ["default"], limit: n, leaseMillis: 10_000 })
      assert.lengthOf(claimed, n)
      const ok = yield* b.settle(claimed.map((r) => ({ _tag: "Succeeded" as const, lease: lease(r.id, "w", 1), result: new Uint8Array() })))
      assert.isTrue(ok.every((x) => x))
      assert.strictEqual(yield* b.purge({ statuses: ["success"] }), n)
      assert.deepStrictEqual(yield* b.stats(), { pending: 0, in_progress: 0, success: 0, failed: 0, cancelled: 0 })
    }).pipe(Effect.provide(freshLayer())))

  it.live("finished tasks expire after the retention period and leave no index entries", () =>
    Effect.gen(function*() {
      const b = yield* Backend
      const [a, c] = [task(), task()]
      yield* b.enqueue([a, c])
      yield* b.claim({ owner: "w", queues: ["default"], limit: 2, leaseMillis: 10_000 })
      yield* b.settle([{ _tag: "Succeeded", lease: lease(a.id, "w", 1), result: new Uint8Array([1]) }])
      assert.isTrue(Option.isSome(yield* b.get(a.id)))
      yield* Effect.sleep("400 millis")
      assert.isTrue(Option.isNone(yield* b.get(a.id)))
      assert.deepStrictEqual(yield* b.stats(), { pending: 0, in_progress: 1, success: 0, failed: 0, cancelled: 0 })
      assert.deepStrictEqual((yield* b.list({})).map((r) => r.id), [c.id])
    }).pipe(Effect.provide(freshLayer({ retention: Duration.millis(200) }))))

  it.live("retention: a finished task's hash carries the expiry; Duration.infinity keeps it", () =>
    Effect.gen(function*() {
      const raw = yield* Effect.acquireRelease(
        Effect.sync(() => new Redis(redisUrl())),
        (c) => Effect.promise(() => c.quit().catch(() => "OK"))
      )
      for (const [retention, expect] of [[Duration.hours(2), "expiring"], [Duration.infinity, "kept"]] as const) {
        const prefix = freshPrefix()
        yield* Effect.addFinalizer(() => Effect.promise(() => deleteStore(prefix)))
        const ctx = yield* Layer.build(RedisBackend.layer({ url: redisUrl(), prefix, retention }))
        const b = ctx.unsafeMap.get(Backend.key) as Backend
        const t = task()
        yield* b.enqueue([t])
        yield* b.claim({ owner: "w", queues: ["default"], limit: 1, leaseMillis: 1000 })
        assert.strictEqual(yield* Effect.promise(() => raw.pttl(`sitq:{${prefix}}:t:${t.id}`)), -1)
        yield* b.settle([{ _tag: "Succeeded", lease: lease(t.id, "w", 1), result: new Uint8Array() }])
        const ttl = yield* Effect.promise(() => raw.pttl(`sitq:{${prefix}}:t:${t.id}`))
        if (expect === "kept") assert.strictEqual(ttl, -1)
        else assert.isTrue(ttl > 7_000_000 && ttl <= 7_200_000, `ttl ${ttl}`)
        // a retried task is live again: no expiry
        yield* b.cancel(t.id)
        const u = task()
        yield* b.enqueue([u])
        yield* b.cancel(u.id)
        assert.strictEqual(yield* b.retry(u.id), "requeued")
        assert.strictEqual(yield* Effect.promise(() => raw.pttl(`sitq:{${prefix}}:t:${u.id}`)), -1)
      }
    }).pipe(Effect.scoped))

  it.live("events reach other processes' subscribers through pub/sub", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      yield* Effect.addFinalizer(() => Effect.promise(() => deleteStore(prefix)))
      const ctxA = yield* Layer.build(RedisBackend.layer({ url: redisUrl(), prefix }))
      const ctxB = yield* Layer.build(RedisBackend.layer({ url: redisUrl(), prefix }))
      const a = ctxA.unsafeMap.get(Backend.key) as Backend
      const bb = ctxB.unsafeMap.get(Backend.key) as Backend
      const events = yield* bb.subscribe
      const t = task({ queue: "mail" })
      yield* a.enqueue([t])
      const first = yield* Queue.take(events).pipe(Effect.timeout("2 seconds"))
      assert.deepStrictEqual(first, { _tag: "Ready", queue: "mail" })
      yield* a.claim({ owner: "w", queues: ["mail"], limit: 1, leaseMillis: 1000 })
      yield* a.settle([{ _tag: "Succeeded", lease: lease(t.id, "w", 1), result: new Uint8Array() }])
      assert.deepStrictEqual(yield* Queue.take(events).pipe(Effect.timeout("2 seconds")), {
        _tag: "Finished",
        ids: [t.id]
      })
      const u = task()
      yield* a.enqueue([u])
      yield* Queue.take(events).pipe(Effect.timeout("2 seconds"))
      yield* a.cancel(u.id)
      const got = [
        yield* Queue.take(events).pipe(Effect.timeout("2 seconds")),
        yield* Queue.take(events).pipe(Effect.timeout("2 seconds"))
      ]
      assert.deepStrictEqual(got, [{ _tag: "Cancelled", ids: [u.id] }, { _tag: "Finished", ids: [u.id] }])
    }).pipe(Effect.scoped))

  it.live("a server that is not there fails the layer with a Connect BackendError, quickly", () =>
    Effect.gen(function*() {
      const started = yield* Effect.clockWith((c) => c.currentTimeMillis)
      const exit = yield* Layer.build(
        RedisBackend.layer({ url: "redis://127.0.0.1:1", connectTimeout: "2 seconds" })
      ).pipe(Effect.scoped, Effect.exit)
      const took = (yield* Effect.clockWith((c) => c.currentTimeMillis)) - started
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
        assert.instanceOf(error, BackendError)
        assert.strictEqual((error as BackendError).reason, "Connect")
      }
      assert.isBelow(took, 2_500)
    }))

  it.live("keys under the prefix that are not a sitq store of this layout fail the layer with reason Schema", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      yield* Effect.addFinalizer(() => Effect.promise(() => deleteStore(prefix)))
      const raw = yield* Effect.acquireRelease(
        Effect.sync(() => new Redis(redisUrl())),
        (c) => Effect.promise(() => c.quit().catch(() => "OK"))
      )
      const open = Layer.build(RedisBackend.layer({ url: redisUrl(), prefix })).pipe(Effect.scoped, Effect.flip)
      yield* Effect.promise(() => raw.set(`sitq:{${prefix}}:meta`, "something else"))
      const wrongType = yield* open
      assert.instanceOf(wrongType, BackendError)
      assert.strictEqual((wrongType as BackendError).reason, "Schema")
      yield* Effect.promise(() => raw.del(`sitq:{${prefix}}:meta`).then(() => raw.hset(`sitq:{${prefix}}:meta`, "version", "999")))
      const newer = yield* open
      assert.strictEqual((newer as BackendError).reason, "Schema")
      assert.match((newer as BackendError).message, /layout 999/)
      // and a store of this layout opens twice (the marker is kept)
      yield* Effect.promise(() => raw.del(`sitq:{${prefix}}:meta`))
      yield* Layer.build(RedisBackend.layer({ url: redisUrl(), prefix })).pipe(Effect.scoped)
      yield* Layer.build(RedisBackend.layer({ url: redisUrl(), prefix })).pipe(Effect.scoped)
      assert.strictEqual(yield* Effect.promise(() => raw.hget(`sitq:{${prefix}}:meta`, "version")), "1")
    }).pipe(Effect.scoped))

  it.live("layerConfig reads the options from Config", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      yield* Effect.addFinalizer(() => Effect.promise(() => deleteStore(prefix)))
      const provider = ConfigProvider.fromMap(new Map([["REDIS_URL", redisUrl()], ["PREFIX", prefix]]))
      const ctx = yield* Layer.build(
        RedisBackend.layerConfig(Config.all({ url: Config.redacted("REDIS_URL"), prefix: Config.string("PREFIX") }))
      ).pipe(Effect.withConfigProvider(provider))
      const b = ctx.unsafeMap.get(Backend.key) as Backend
      const t = task()
      yield* b.enqueue([t])
      const raw = yield* Effect.acquireRelease(
        Effect.sync(() => new Redis(redisUrl())),
        (c) => Effect.promise(() => c.quit().catch(() => "OK"))
      )
      assert.strictEqual(yield* Effect.promise(() => raw.exists(`sitq:{${prefix}}:t:${t.id}`)), 1)
    }).pipe(Effect.scoped))
})
