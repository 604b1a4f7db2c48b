/**
 * The port suite: the `Backend` contract itself (every rule `src/Backend.ts` states), run against a
 * backend layer through the port's own operations, with no `TaskQueue` or `Worker` in between (as
 * River's driver suite and `@effect/sql`'s `SqlPersistedQueueTest` do). Each test builds the layer
 * once, so the layer must give a fresh, isolated, empty store each time it is built. A new backend
 * is one line: `portSuite(name, layer)` in `test/<backend>/port.test.ts`.
 *
 * Time is `TestClock`: backends read Effect's `Clock` inside each operation, so `TestClock.adjust`
 * moves leases, due times and `finishedAt`. Engine-specific checks (query plans, scripts, connection
 * faults, migrations, events across processes) stay in each backend's own test files.
 */
import { assert, describe, it } from "@effect/vitest"
import type { Layer } from "effect"
import { Chunk, Effect, Option, Queue, TestClock } from "effect"
import type * as B from "../../src/Backend.js"
import { Backend } from "../../src/Backend.js"

const bytes = (...xs: Array<number>) => new Uint8Array(xs)
const must = <A>(o: Option.Option<A>): A => Option.getOrThrow(o)
const ids = (records: ReadonlyArray<{ readonly id: string }>) => records.map((r) => r.id)
const lease = (rec: B.TaskRecord): B.Lease => ({ id: rec.id, owner: rec.leaseOwner ?? "", attempt: rec.attempts })
const leaseOf = (id: string, owner: string, attempt: number): B.Lease => ({ id, owner, attempt })
const error = (tag = "E", message = "m", data: Uint8Array | null = null): B.StoredError => ({ tag, message, data })
const noStats: B.Stats = { pending: 0, in_progress: 0, success: 0, failed: 0, cancelled: 0 }

let counter = 0
/** A `NewTask` with defaults; a fresh id unless one is given. */
const task = (id?: string, extra: Partial<B.NewTask> = {}): B.NewTask => ({
  id: id ?? `t${String(counter++).padStart(8, "0")}`,
  queue: "default",
  name: "job",
  payload: bytes(1, 2, 3),
  priority: 2,
  runAt: 0,
  key: null,
  ...extra
})

const claimFrom = (b: B.Backend, queues: ReadonlyArray<string>, owner = "w", leaseMillis = 1000, limit = 100) =>
  b.claim({ owner, queues, limit, leaseMillis })
const claimAll = (b: B.Backend, owner = "w1", leaseMillis = 1000, limit = 100) =>
  claimFrom(b, ["default"], owner, leaseMillis, limit)
const succeed = (rec: B.TaskRecord, result = bytes()): B.Outcome => ({ _tag: "Succeeded", lease: lease(rec), result })
const fail = (rec: B.TaskRecord, err = error(), traceback: string | null = null, failureTimes = [0]): B.Outcome => ({
  _tag: "Failed",
  lease: lease(rec),
  error: err,
  traceback,
  failureTimes
})
const stored = (e: B.StoredError | null) => e === null ? null : { ...e, data: e.data === null ? null : Array.from(e.data) }

/** The port suite against one backend layer. */
export const portSuite = (name: string, layer: Layer.Layer<B.Backend, unknown>) => {
  const test = <A, E>(title: string, body: (b: B.Backend) => Effect.Effect<A, E>, timeout = 60_000) =>
    it.effect(title, () => Effect.provide(Effect.flatMap(Backend, body), layer), timeout)
  const scoped = <A, E>(title: string, body: (b: B.Backend) => Effect.Effect<A, E, import("effect").Scope.Scope>) =>
    it.scoped(title, () => Effect.provide(Effect.flatMap(Backend, body), layer))
  const live = <A, E>(title: string, body: (b: B.Backend) => Effect.Effect<A, E>) =>
    it.live(title, () => Effect.provide(Effect.flatMap(Backend, body), layer))

  describe(`port: ${name}`, () => {
    describe("enqueue and get", () => {
      test("enqueue stores the task as given: pending, attempts 0, enqueuedAt = now, bytes intact", (b) =>
        Effect.gen(function*() {
          yield* TestClock.adjust(5000)
          const payload = bytes(0, 255, 10, 13, 0, 7)
          const [r] = yield* b.enqueue([task("x1", { payload, priority: 4, runAt: 7000, key: "k", name: "send" })])
          assert.deepStrictEqual(r, { id: "x1", inserted: true })
          const rec = must(yield* b.get("x1"))
          assert.strictEqual(rec.id, "x1")
          assert.strictEqual(rec.queue, "default")
          assert.strictEqual(rec.name, "send")
          assert.strictEqual(rec.status, "pending")
          assert.strictEqual(rec.attempts, 0)
          assert.strictEqual(rec.enqueuedAt, 5000)
          assert.strictEqual(rec.runAt, 7000)
          assert.strictEqual(rec.priority, 4)
          assert.strictEqual(rec.key, "k")
          assert.deepStrictEqual(Array.from(rec.payload), [0, 255, 10, 13, 0, 7])
          assert.isNull(rec.leaseOwner)
          assert.isNull(rec.leaseUntil)
          assert.isNull(rec.startedAt)
          assert.isNull(rec.finishedAt)
          assert.isNull(rec.result)
          assert.isNull(rec.error)
          assert.isNull(rec.traceback)
          assert.deepStrictEqual(rec.failureTimes, [])
          assert.isTrue(Option.isNone(yield* b.get("nope")))
        }))

      test("large timestamps round-trip exactly", (b) =>
        Effect.gen(function*() {
          yield* TestClock.setTime(1_700_000_000_123)
          yield* b.enqueue([task("big", { runAt: 1_700_000_005_000 })])
          const rec = must(yield* b.get("big"))
          assert.strictEqual(rec.runAt, 1_700_000_005_000)
          assert.strictEqual(rec.enqueuedAt, 1_700_000_000_123)
        }))

      test("empty inputs do nothing and answer empty", (b) =>
        Effect.gen(function*() {
          assert.deepStrictEqual(yield* b.enqueue([]), [])
          yield* b.enqueue([task("e1")])
          assert.deepStrictEqual(yield* b.claim({ owner: "w", queues: [], limit: 10, leaseMillis: 1000 }), [])
          assert.deepStrictEqual(yield* b.claim({ owner: "w", queues: ["default"], limit: 0, leaseMillis: 1000 }), [])
          assert.deepStrictEqual(yield* b.heartbeat([], 1000), [])
          assert.deepStrictEqual(yield* b.settle([]), [])
          assert.deepStrictEqual(yield* b.nextWakeAt([]), Option.none())
          assert.deepStrictEqual(yield* b.list({ limit: 0 }), [])
          assert.strictEqual(yield* b.purge({ statuses: [] }), 0)
          assert.deepStrictEqual(yield* b.stats(), { ...noStats, pending: 1 })
          assert.strictEqual(must(yield* b.get("e1")).status, "pending")
        }))
    })

    describe("claim", () => {
      test("claims in order: priority desc, runAt asc, enqueue order; only due tasks; up to limit", (b) =>
        Effect.gen(function*() {
          yield* TestClock.adjust(1000)
          yield* b.enqueue([
            task("low", { priority: 1, runAt: 0 }),
            task("n2", { priority: 2, runAt: 500 }),
            task("n1", { priority: 2, runAt: 100 }),
            task("n3", { priority: 2, runAt: 500 }),
            task("high", { priority: 4, runAt: 900 }),
            task("later", { priority: 4, runAt: 1001 }),
            task("other", { queue: "other", priority: 4, runAt: 0 })
          ])
          const first = yield* claimAll(b, "w1", 1000, 3)
          assert.deepStrictEqual(ids(first), ["high", "n1", "n2"])
          const rest = yield* claimAll(b)
          assert.deepStrictEqual(ids(rest), ["n3", "low"])
          assert.deepStrictEqual(yield* claimAll(b), [])
          yield* TestClock.adjust(1)
          assert.deepStrictEqual(ids(yield* claimAll(b)), ["later"])
          const both = yield* b.claim({ owner: "w", queues: ["other", "default"], limit: 5, leaseMillis: 10 })
          assert.deepStrictEqual(ids(both), ["other"])
        }))

      test("a claim stores and returns the lease; what is claimed is not claimable until due again", (b) =>
        Effect.gen(function*() {
          yield* TestClock.setTime(1_000)
          const out = yield* b.enqueue([
            task("t1", { priority: 1 }),
            task("t2", { priority: 3, runAt: 900 }),
            task("t3", { priority: 3, runAt: 500 }),
            task("t4", { priority: 2, runAt: 1_000 }),
            task("t5", { priority: 3, runAt: 900 }),
            task("t6", { priority: 4, runAt: 1_001 })
          ])
          assert.deepStrictEqual(out.map((e) => e.inserted), [true, true, true, true, true, true])
          const first = yield* claimAll(b, "w1", 5_000, 3)
          assert.deepStrictEqual(ids(first), ["t3", "t2", "t5"])
          for (const rec of first) {
            assert.strictEqual(rec.status, "in_progress")
            assert.strictEqual(rec.attempts, 1)
            assert.strictEqual(rec.leaseOwner, "w1")
            assert.strictEqual(rec.leaseUntil, 6_000)
            assert.strictEqual(rec.startedAt, 1_000)
            assert.deepStrictEqual(must(yield* b.get(rec.id)), rec)
          }
          const rest = yield* claimAll(b, "w1", 5_000, 10)
          assert.deepStrictEqual(ids(rest), ["t4", "t1"]) // t6 is not due yet
          assert.deepStrictEqual(yield* b.nextWakeAt(["default"]), Option.some(1_001))
          yield* TestClock.adjust(1)
          assert.deepStrictEqual(ids(yield* claimAll(b, "w1", 5_000, 10)), ["t6"])
          assert.deepStrictEqual(yield* b.nextWakeAt(["default"]), Option.some(6_000))
          assert.deepStrictEqual(yield* b.nextWakeAt(["other"]), Option.none())
          assert.deepStrictEqual(yield* claimAll(b, "w2"), [])
        }))

      test("claims only from the requested queues, in one order across them", (b) =>
        Effect.gen(function*() {
          yield* TestClock.setTime(10_000)
          yield* b.enqueue([
            task("a1", { queue: "a", priority: 1 }),
            task("b1", { queue: "b", priority: 3 }),
            task("c1", { queue: "c", priority: 4 }),
            task("a2", { queue: "a", priority: 3 }),
            task("a3", { queue: "a", priority: 4, runAt: 4_000 }),
            task("b2", { queue: "b", priority: 4, runAt: 5_000 }),
            task("b3", { queue: "b", priority: 3, runAt: 0 })
          ])
          const got = yield* claimFrom(b, ["a", "b"], "w", 1000, 10)
          assert.deepStrictEqual(ids(got), ["a3", "b2", "b1", "a2", "b3", "a1"])
          assert.deepStrictEqual(yield* b.stats("c"), { ...noStats, pending: 1 })
          assert.deepStrictEqual(yield* claimFrom(b, ["a", "b"]), [])
          // duplicates in the queue list change nothing
          assert.deepStrictEqual(ids(yield* claimFrom(b, ["c", "c"])), ["c1"])
        }))

      test("claim order across several queues and priorities, with not-yet-due tasks in between", (b) =>
        Effect.gen(function*() {
          yield* TestClock.adjust(10_000)
          const tasks = Array.from({ length: 60 }, (_, i) =>
            task(`m${String(i).padStart(2, "0")}`, {
              queue: ["a", "b", "c"][i % 3],
              priority: (i * 7) % 5,
              runAt: (i * 13) % 4 === 0 ? 20_000 + i : (i * 37) % 10_000
            }))
          yield* b.enqueue(tasks)
          const due = tasks
            .map((t, seq) => ({ t, seq }))
            .filter(({ t }) => t.queue !== "c" && t.runAt <= 10_000)
            .sort((x, y) => y.t.priority - x.t.priority || x.t.runAt - y.t.runAt || x.seq - y.seq)
            .map(({ t }) => t.id)
          const first = yield* claimFrom(b, ["a", "b"], "w", 1000, 7)
          const rest = yield* claimFrom(b, ["b", "a"], "w", 1000, 100)
          assert.deepStrictEqual([...ids(first), ...ids(rest)], due)
          assert.isTrue(due.length > 20)
        }))

      test("claim order with many distinct priorities", (b) =>
        Effect.gen(function*() {
          yield* TestClock.adjust(1000)
          const tasks = Array.from({ length: 300 }, (_, i) =>
            task(`p${String(i).padStart(3, "0")}`, { priority: (i * 101) % 150, runAt: i % 5 === 0 ? 5000 : i }))
          yield* b.enqueue(tasks)
          const due = tasks
            .map((t, seq) => ({ t, seq }))
            .filter(({ t }) => t.runAt <= 1000)
            .sort((x, y) => y.t.priority - x.t.priority || x.t.runAt - y.t.runAt || x.seq - y.seq)
            .map(({ t }) => t.id)
          const claimed = yield* claimAll(b, "w", 1000, 50)
          assert.deepStrictEqual(ids(claimed), due.slice(0, 50))
          const rest = yield* claimAll(b, "w", 1000, 1000)
          assert.deepStrictEqual(ids(rest), due.slice(50))
        }))

      test("expired leases are claimed again in claim order, together with tasks that became due", (b) =>
        Effect.gen(function*() {
          yield* TestClock.setTime(10_000)
          const low = task(undefined, { priority: 1, runAt: 0 })
          const highLate = task(undefined, { priority: 4, runAt: 5_000, queue: "b" })
          const highEarly = task(undefined, { priority: 4, runAt: 4_000 })
          const mid1 = task(undefined, { priority: 2, runAt: 9_000, queue: "b" })
          const mid2 = task(undefined, { priority: 2, runAt: 9_000 })
          const future = task(undefined, { priority: 9, runAt: 20_000 })
          yield* b.enqueue([low, highLate, highEarly, mid1, mid2, future])
          const claimed = yield* claimFrom(b, ["default", "b"], "w", 1000, 4)
          assert.deepStrictEqual(ids(claimed), [highEarly.id, highLate.id, mid1.id, mid2.id])
          for (const r of claimed) {
            assert.strictEqual(r.leaseUntil, 11_000)
            assert.strictEqual(r.startedAt, 10_000)
            assert.deepStrictEqual(r, must(yield* b.get(r.id)))
          }
          assert.deepStrictEqual(ids(yield* claimFrom(b, ["default", "b"], "w", 1000, 10)), [low.id])
          assert.deepStrictEqual(yield* b.nextWakeAt(["default"]), Option.some(11_000))
          yield* TestClock.setTime(20_000)
          const later = yield* claimFrom(b, ["default"], "w", 100_000, 10)
          assert.deepStrictEqual(ids(later), [future.id, highEarly.id, mid2.id, low.id])
          assert.deepStrictEqual(later.map((r) => r.attempts), [1, 2, 2, 2])
        }))

      test("enqueue order breaks ties across batches and survives ids that sort the other way", (b) =>
        Effect.gen(function*() {
          yield* b.enqueue([task("zzz")])
          yield* b.enqueue([task("aaa"), task("mmm")])
          assert.deepStrictEqual(ids(yield* claimAll(b)), ["zzz", "aaa", "mmm"])
        }))

      live("concurrent claimers get disjoint tasks", (b) =>
        Effect.gen(function*() {
          yield* b.enqueue(Array.from({ length: 300 }, (_, i) => task(`c${i}`)))
          const claimers = Array.from({ length: 6 }, (_, w) =>
            Effect.gen(function*() {
              const got: Array<string> = []
              for (;;) {
                const batch = yield* claimFrom(b, ["default"], `w${w}`, 60_000, 7)
                if (batch.length === 0) return got
                got.push(...ids(batch))
              }
            }))
          const all = (yield* Effect.all(claimers, { concurrency: "unbounded" })).flat()
          assert.strictEqual(all.length, 300)
          assert.strictEqual(new Set(all).size, 300)
        }))
    })

    describe("leases and fencing", () => {
      test("lease recovery: an expired lease is claimed again; the old owner is fenced out", (b) =>
        Effect.gen(function*() {
          yield* b.enqueue([task("a")])
          const [first] = yield* claimAll(b, "dead", 1000)
          yield* TestClock.adjust(999)
          assert.deepStrictEqual(yield* claimAll(b, "w2"), [])
          yield* TestClock.adjust(1)
          const [second] = yield* claimAll(b, "w2", 1000)
          assert.strictEqual(second.id, "a")
          assert.strictEqual(second.attempts, 2)
          assert.strictEqual(second.leaseOwner, "w2")
          assert.deepStrictEqual(yield* b.heartbeat([lease(first), lease(second)], 10_000), ["a"])
          assert.strictEqual(must(yield* b.get("a")).leaseUntil, 11_000)
          assert.deepStrictEqual(
            yield* b.settle([
              { _tag: "Succeeded", lease: lease(first), result: bytes(1) },
              { _tag: "Succeeded", lease: lease(second), result: bytes(2) }
            ]),
            [false, true]
          )
          const done = must(yield* b.get("a"))
          assert.strictEqual(done.status, "success")
          assert.deepStrictEqual(Array.from(done.result ?? []), [2])
          assert.isNull(done.leaseOwner)
          assert.strictEqual(done.finishedAt, 1_000)
          // a settled lease cannot settle twice
          assert.deepStrictEqual(yield* b.settle([{ _tag: "Succeeded", lease: lease(second), result: bytes(3) }]), [
            false
          ])
        }))

      test("a heartbeat before expiry keeps the lease; after a re-claim it reports the lease lost", (b) =>
        Effect.gen(function*() {
          yield* b.enqueue([task("t")])
          yield* claimAll(b, "dead", 1_000)
          yield* TestClock.adjust(500)
          assert.deepStrictEqual(yield* b.heartbeat([leaseOf("t", "dead", 1)], 1_000), [])
          yield* TestClock.adjust(999)
          assert.lengthOf(yield* claimAll(b, "alive", 1_000), 0)
          yield* TestClock.adjust(1)
          const [rec] = yield* claimAll(b, "alive", 1_000)
          assert.strictEqual(rec.id, "t")
          assert.strictEqual(rec.attempts, 2)
          assert.deepStrictEqual(yield* b.heartbeat([leaseOf("t", "dead", 1), leaseOf("t", "alive", 2)], 1_000), ["t"])
        }))

      test("heartbeat extends held leases and reports lost ones (wrong attempt, cancelled, unknown)", (b) =>
        Effect.gen(function*() {
          yield* b.enqueue([task("a"), task("b"), task("c")])
          const [a, bb, c] = yield* claimAll(b, "w1", 1000)
          yield* b.cancel(c.id)
          yield* TestClock.adjust(500)
          const lost = yield* b.heartbeat(
            [lease(a), { ...lease(bb), attempt: 7 }, lease(c), leaseOf("ghost", "w1", 1)],
            1000
          )
          assert.deepStrictEqual(lost, ["b", "c", "ghost"])
          assert.strictEqual(must(yield* b.get("a")).leaseUntil, 1500)
          assert.strictEqual(must(yield* b.get("b")).leaseUntil, 1000)
          yield* TestClock.adjust(600)
          assert.deepStrictEqual(ids(yield* claimAll(b, "w2")), ["b"])
          // a finished task's lease is lost too
          const [b2] = yield* b.claim({ owner: "w3", queues: ["default"], limit: 1, leaseMillis: 60_000 })
          assert.isUndefined(b2)
          yield* b.settle([succeed(a)])
          assert.deepStrictEqual(yield* b.heartbeat([lease(a)], 1000), ["a"])
        }))

      test("settle: each outcome fenced, all kinds recorded as the port says", (b) =>
        Effect.gen(function*() {
          yield* TestClock.adjust(100)
          yield* b.enqueue(["s", "f", "r", "rel", "x"].map((id) => task(id)))
          const [s, f, r, rel, x] = yield* claimAll(b, "w1", 1000)
          yield* TestClock.adjust(50)
          const err = error("Boom", "it broke", bytes(42))
          const accepted = yield* b.settle([
            { _tag: "Succeeded", lease: lease(s), result: bytes(9, 9) },
            { _tag: "Failed", lease: lease(f), error: err, traceback: "trace f", failureTimes: [1] },
            { _tag: "Retrying", lease: lease(r), runAt: 10_000, error: err, traceback: "trace r", failureTimes: [1] },
            { _tag: "Released", lease: lease(rel) },
            { _tag: "Succeeded", lease: { ...lease(x), owner: "intruder" }, result: bytes(0) },
            { _tag: "Failed", lease: { ...lease(x), attempt: 2 }, error: err, traceback: null, failureTimes: [1] },
            { _tag: "Succeeded", lease: leaseOf("missing", "w1", 1), result: bytes() }
          ])
          assert.deepStrictEqual(accepted, [true, true, true, true, false, false, false])

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
          assert.deepStrictEqual(stored(fr.error), { tag: "Boom", message: "it broke", data: [42] })
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

          // Released is due at once, Retrying only at its runAt
          assert.deepStrictEqual(ids(yield* b.claim({ owner: "w1", queues: ["default"], limit: 5, leaseMillis: 100 })), [
            "rel"
          ])
          // the retried task keeps its error until it succeeds; a success clears it ("x"'s lease expired)
          yield* TestClock.adjust(10_000)
          const again = yield* claimAll(b, "w2")
          assert.deepStrictEqual(ids(again), ["rel", "x", "r"])
          assert.deepStrictEqual(again.map((t) => t.attempts), [2, 2, 2])
          yield* b.settle([{ _tag: "Succeeded", lease: lease(again[2]), result: bytes(1) }])
          const rr2 = must(yield* b.get("r"))
          assert.isNull(rr2.error)
          assert.isNull(rr2.traceback)
        }))

      test("settle stores every shape of error and traceback, in one mixed batch", (b) =>
        Effect.gen(function*() {
          const ts = Array.from({ length: 5 }, () => task())
          yield* b.enqueue(ts)
          const claimed = yield* claimAll(b, "w", 60_000, 5)
          const e = (data: Uint8Array | null) => error("T", "msg \n with newline", data)
          const accepted = yield* b.settle([
            { _tag: "Failed", lease: lease(claimed[0]), error: e(null), traceback: null, failureTimes: [1] },
            { _tag: "Failed", lease: lease(claimed[1]), error: e(bytes(1)), traceback: null, failureTimes: [1] },
            { _tag: "Retrying", lease: lease(claimed[2]), runAt: 5, error: e(null), traceback: "tb2", failureTimes: [1] },
            { _tag: "Retrying", lease: lease(claimed[3]), runAt: 6, error: e(bytes(3)), traceback: "tb3", failureTimes: [1] },
            { _tag: "Succeeded", lease: lease(claimed[4]), result: bytes(4, 0, 4) }
          ])
          assert.deepStrictEqual(accepted, [true, true, true, true, true])
          const recs = yield* Effect.forEach(ts, (t) => Effect.map(b.get(t.id), Option.getOrThrow))
          const shape = recs.map((r) => ({
            status: r.status,
            data: r.error === null || r.error.data === null ? null : Array.from(r.error.data),
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
          yield* TestClock.setTime(10)
          const again = yield* claimAll(b, "w", 60_000, 5)
          assert.deepStrictEqual(ids(again), [ts[2].id, ts[3].id])
          assert.strictEqual(again[1].traceback, "tb3")
          assert.deepStrictEqual(stored(again[1].error), { tag: "T", message: "msg \n with newline", data: [3] })
          // what claim returns is what is stored
          for (const r of again) assert.deepStrictEqual(r, must(yield* b.get(r.id)))
          yield* b.settle([succeed(again[1])])
          const done = must(yield* b.get(ts[3].id))
          assert.isNull(done.error)
          assert.isNull(done.traceback)
          assert.strictEqual(done.attempts, 2)
        }))

      test("failure times: set by Retrying and Failed, kept by Released and Succeeded, reset by retry", (b) =>
        Effect.gen(function*() {
          yield* TestClock.setTime(1_700_000_000_000)
          yield* b.enqueue([task("a"), task("s")])
          const [a, s] = yield* claimAll(b)
          const t1 = 1_700_000_000_000
          yield* b.settle([
            { _tag: "Retrying", lease: lease(a), runAt: 0, error: error(), traceback: null, failureTimes: [t1 - 5, t1] },
            { _tag: "Retrying", lease: lease(s), runAt: 0, error: error(), traceback: null, failureTimes: [t1] }
          ])
          assert.deepStrictEqual(must(yield* b.get("a")).failureTimes, [t1 - 5, t1])
          const [a2, s2] = yield* claimAll(b)
          assert.deepStrictEqual(a2.failureTimes, [t1 - 5, t1])
          assert.deepStrictEqual(s2.failureTimes, [t1])
          yield* b.settle([{ _tag: "Released", lease: lease(a2) }, succeed(s2)])
          assert.deepStrictEqual(must(yield* b.get("a")).failureTimes, [t1 - 5, t1])
          assert.deepStrictEqual(must(yield* b.get("s")).failureTimes, [t1])
          const [a3] = yield* claimAll(b)
          yield* b.settle([fail(a3, error(), null, [t1 - 5, t1, t1 + 7])])
          const failed = must(yield* b.get("a"))
          assert.strictEqual(failed.status, "failed")
          assert.deepStrictEqual(failed.failureTimes, [t1 - 5, t1, t1 + 7])
          assert.strictEqual(yield* b.retry("a"), "requeued")
          assert.deepStrictEqual(must(yield* b.get("a")).failureTimes, [])
          const [a4] = yield* claimAll(b)
          assert.deepStrictEqual(a4.failureTimes, [])
        }))

      test("two outcomes for one task in one settle apply in order: the second is refused", (b) =>
        Effect.gen(function*() {
          yield* b.enqueue([task("a"), task("c")])
          const [a, c] = yield* claimAll(b)
          const accepted = yield* b.settle([
            { _tag: "Succeeded", lease: lease(a), result: bytes(1) },
            { _tag: "Released", lease: lease(a) },
            { _tag: "Succeeded", lease: { ...lease(c), owner: "intruder" }, result: bytes(0) },
            { _tag: "Failed", lease: { ...lease(c), attempt: 2 }, error: error(), traceback: "tb", failureTimes: [1] },
            { _tag: "Failed", lease: lease(c), error: error(), traceback: "tb", failureTimes: [1] },
            { _tag: "Succeeded", lease: lease(c), result: bytes(2) }
          ])
          assert.deepStrictEqual(accepted, [true, false, false, false, true, false])
          const ra = must(yield* b.get("a"))
          assert.strictEqual(ra.status, "success")
          assert.deepStrictEqual(Array.from(ra.result ?? []), [1])
          const rc = must(yield* b.get("c"))
          assert.strictEqual(rc.status, "failed")
          assert.isNull(rc.result)
          assert.deepStrictEqual(yield* b.stats(), { ...noStats, success: 1, failed: 1 })
        }))

      test("Retrying is due at its runAt, Released at once", (b) =>
        Effect.gen(function*() {
          const [d, e] = [task("d"), task("e")]
          yield* b.enqueue([d, e])
          yield* claimAll(b, "w1", 60_000, 2)
          yield* TestClock.adjust("1 second")
          assert.deepStrictEqual(
            yield* b.settle([
              { _tag: "Retrying", lease: leaseOf("d", "w1", 1), runAt: 9_000, error: error("Boom"), traceback: null, failureTimes: [1] },
              { _tag: "Released", lease: leaseOf("e", "w1", 1) }
            ]),
            [true, true]
          )
          const rd = must(yield* b.get("d"))
          assert.strictEqual(rd.status, "pending")
          assert.strictEqual(rd.runAt, 9_000)
          assert.strictEqual(rd.attempts, 1)
          assert.strictEqual(rd.error?.tag, "Boom")
          assert.isNull(rd.traceback)
          // the released task is due now, the retrying one at 9s
          const again = yield* claimAll(b, "w2", 60_000, 5)
          assert.deepStrictEqual(ids(again), ["e"])
          yield* TestClock.setTime(9_000)
          const third = yield* claimAll(b, "w2", 1000, 5)
          assert.deepStrictEqual(third.map((r) => [r.id, r.attempts]), [["d", 2]])
          assert.deepStrictEqual(yield* b.stats(), { ...noStats, in_progress: 2 })
        }))
    })

    describe("dedup keys", () => {
      test("a live task with the key wins, in the store and within one batch; running counts as live", (b) =>
        Effect.gen(function*() {
          const first = yield* b.enqueue([task("k1", { key: "K" }), task("k1b", { key: "K" }), task("free")])
          assert.deepStrictEqual(first, [
            { id: "k1", inserted: true },
            { id: "k1", inserted: false },
            { id: "free", inserted: true }
          ])
          const second = yield* b.enqueue([
            task("k2", { key: "K" }),
            task("j1", { key: "J" }),
            task("j2", { key: "J" }),
            task("plain")
          ])
          assert.deepStrictEqual(second, [
            { id: "k1", inserted: false },
            { id: "j1", inserted: true },
            { id: "j1", inserted: false },
            { id: "plain", inserted: true }
          ])
          assert.isTrue(Option.isNone(yield* b.get("k1b")))
          assert.isTrue(Option.isNone(yield* b.get("k2")))
          assert.isTrue(Option.isNone(yield* b.get("j2")))
          // running still counts as live
          const claimed = yield* claimAll(b)
          const k1 = claimed.find((r) => r.id === "k1")!
          assert.deepStrictEqual(yield* b.enqueue([task("k3", { key: "K" })]), [{ id: "k1", inserted: false }])
          // finished does not: the key is free again
          yield* b.settle([succeed(k1)])
          assert.deepStrictEqual(yield* b.enqueue([task("k4", { key: "K" })]), [{ id: "k4", inserted: true }])
          assert.deepStrictEqual(yield* b.enqueue([task("k5", { key: "K" })]), [{ id: "k4", inserted: false }])
          assert.strictEqual((yield* b.list({})).length, 5)
          assert.deepStrictEqual(yield* b.stats(), { ...noStats, pending: 1, in_progress: 3, success: 1 })
        }))

      test("a key freed by failure or cancellation is reused", (b) =>
        Effect.gen(function*() {
          yield* b.enqueue([task("f1", { key: "F" }), task("c1", { key: "C" })])
          const [f1] = yield* claimAll(b, "w", 1000, 1)
          yield* b.settle([fail(f1)])
          assert.strictEqual(yield* b.cancel("c1"), "cancelled")
          assert.deepStrictEqual(yield* b.enqueue([task("f2", { key: "F" }), task("c2", { key: "C" })]), [
            { id: "f2", inserted: true },
            { id: "c2", inserted: true }
          ])
        }))

      test("retry of a keyed task: it takes its key back when no live task holds it", (b) =>
        Effect.gen(function*() {
          yield* b.enqueue([task("a", { key: "A" }), task("c", { key: "C" })])
          const [a] = yield* claimAll(b, "w", 1000, 1)
          yield* b.settle([fail(a)])
          yield* b.cancel("c")
          assert.strictEqual(yield* b.retry("a"), "requeued")
          assert.strictEqual(yield* b.retry("c"), "requeued")
          assert.strictEqual(must(yield* b.get("a")).key, "A")
          assert.deepStrictEqual(yield* b.enqueue([task("a2", { key: "A" }), task("c2", { key: "C" })]), [
            { id: "a", inserted: false },
            { id: "c", inserted: false }
          ])
        }))

      test("retry while a live task holds the key answers key_held and changes nothing", (b) =>
        Effect.gen(function*() {
          yield* b.enqueue([task("a", { key: "B" })])
          const [a] = yield* claimAll(b)
          yield* b.settle([fail(a, error("E", "m"), "tb")])
          // a new live task takes key B while a is failed
          assert.deepStrictEqual(yield* b.enqueue([task("b", { key: "B" })]), [{ id: "b", inserted: true }])
          const events = yield* Effect.scoped(Effect.gen(function*() {
            const sub = yield* b.subscribe
            const result = yield* b.retry("a")
            return { result, size: yield* Queue.size(sub) }
          }))
          assert.deepStrictEqual(events, { result: "key_held", size: 0 })
          const still = must(yield* b.get("a"))
          assert.strictEqual(still.status, "failed")
          assert.strictEqual(still.key, "B")
          assert.strictEqual(still.attempts, 1)
          assert.strictEqual(still.error?.tag, "E")
          assert.strictEqual(still.traceback, "tb")
          // at most one live task per key: b keeps it, and only b is claimable
          assert.deepStrictEqual(yield* b.enqueue([task("b2", { key: "B" })]), [{ id: "b", inserted: false }])
          assert.deepStrictEqual(ids(yield* b.list({ status: "pending" })), ["b"])
          const [running] = yield* claimAll(b)
          assert.strictEqual(running.id, "b")
          assert.strictEqual(yield* b.retry("a"), "key_held")
          // once b has finished, the key is free and a can be retried, taking the key back
          yield* b.settle([succeed(running)])
          assert.strictEqual(yield* b.retry("a"), "requeued")
          assert.strictEqual(must(yield* b.get("a")).key, "B")
          assert.deepStrictEqual(yield* b.enqueue([task("b3", { key: "B" })]), [{ id: "a", inserted: false }])
          // a cancelled keyed task follows the same rule
          const [a2] = yield* claimAll(b)
          yield* b.cancel(a2.id)
          yield* b.enqueue([task("c", { key: "B" })])
          assert.strictEqual(yield* b.retry("a"), "key_held")
          assert.strictEqual(must(yield* b.get("a")).status, "cancelled")
        }))
    })

    describe("dedup keys under concurrency", () => {
      live("concurrent retries of finished tasks with one key: one is requeued, the others hold off", (b) =>
        Effect.gen(function*() {
          const n = 6
          for (let i = 0; i < n; i++) {
            yield* b.enqueue([task(`r${i}`, { key: "R" })])
            const [rec] = yield* claimAll(b, "w", 60_000, 1)
            yield* b.settle([fail(rec)])
          }
          const results = yield* Effect.all(Array.from({ length: n }, (_, i) => b.retry(`r${i}`)), {
            concurrency: "unbounded"
          })
          assert.strictEqual(results.filter((r) => r === "requeued").length, 1)
          assert.strictEqual(results.filter((r) => r === "key_held").length, n - 1)
          const live = yield* b.list({ status: "pending" })
          assert.strictEqual(live.length, 1)
          assert.deepStrictEqual(yield* b.enqueue([task("r-new", { key: "R" })]), [{ id: live[0].id, inserted: false }])
        }))

      live("concurrent enqueues of one key insert one task", (b) =>
        Effect.gen(function*() {
          const results = yield* Effect.all(
            Array.from({ length: 8 }, (_, i) => b.enqueue([task(`c${i}`, { key: "C" })])),
            { concurrency: "unbounded" }
          )
          const inserted = results.flat().filter((r) => r.inserted)
          assert.strictEqual(inserted.length, 1)
          assert.isTrue(results.flat().every((r) => r.id === inserted[0].id))
          assert.deepStrictEqual(yield* b.stats(), { ...noStats, pending: 1 })
        }))
    })

    describe("cancel and retry", () => {
      test("cancel: pending and running become cancelled; finished and unknown say so", (b) =>
        Effect.gen(function*() {
          yield* TestClock.adjust(10)
          yield* b.enqueue([task("p"), task("run"), task("done", { runAt: 5 })])
          assert.strictEqual(yield* b.cancel("p"), "cancelled")
          assert.strictEqual(yield* b.cancel("p"), "finished")
          const [run, done] = yield* claimAll(b)
          assert.strictEqual(run.id, "run")
          assert.strictEqual(yield* b.cancel("run"), "cancelled")
          const cancelled = must(yield* b.get("run"))
          assert.strictEqual(cancelled.status, "cancelled")
          assert.strictEqual(cancelled.finishedAt, 10)
          assert.isNull(cancelled.leaseOwner)
          assert.isNull(cancelled.leaseUntil)
          // a cancelled running task's lease is gone: its outcome is refused
          assert.deepStrictEqual(yield* b.settle([succeed(run)]), [false])
          yield* b.settle([fail(done, error(), "tb")])
          assert.strictEqual(yield* b.cancel("done"), "finished")
          assert.strictEqual(yield* b.cancel("ghost"), "not_found")
          assert.deepStrictEqual(yield* b.stats(), { ...noStats, failed: 1, cancelled: 2 })
        }))

      test("retry: a failed or cancelled task is pending again, due now, attempts reset, error cleared", (b) =>
        Effect.gen(function*() {
          yield* TestClock.adjust(10)
          yield* b.enqueue([task("p"), task("done"), task("live", { runAt: 10 })])
          yield* b.cancel("p")
          const [done] = yield* claimAll(b, "w", 1000, 1)
          yield* b.settle([fail(done, error(), "tb")])
          assert.strictEqual(yield* b.retry("live"), "not_finished")
          assert.strictEqual(yield* b.retry("ghost"), "not_found")

          yield* TestClock.adjust(90)
          assert.strictEqual(yield* b.retry("done"), "requeued")
          const requeued = must(yield* b.get("done"))
          assert.strictEqual(requeued.status, "pending")
          assert.strictEqual(requeued.attempts, 0)
          assert.strictEqual(requeued.runAt, 100)
          assert.isNull(requeued.startedAt)
          assert.isNull(requeued.finishedAt)
          assert.isNull(requeued.error)
          assert.isNull(requeued.traceback)
          assert.isNull(requeued.result)
          assert.isNull(requeued.leaseOwner)
          assert.strictEqual(yield* b.retry("p"), "requeued")
          assert.strictEqual(yield* b.retry("p"), "not_finished")
          // runAt moved to now: "live" (runAt 0) first, then by enqueue order
          assert.deepStrictEqual(ids(yield* claimAll(b)), ["live", "p", "done"])
          assert.strictEqual(yield* b.retry("p"), "not_finished")
          assert.deepStrictEqual(yield* b.stats(), { ...noStats, in_progress: 3 })
        }))

      test("a success is not retried", (b) =>
        Effect.gen(function*() {
          yield* b.enqueue([task("s")])
          const [s] = yield* claimAll(b)
          yield* b.settle([succeed(s)])
          assert.strictEqual(yield* b.retry("s"), "not_finished")
          assert.strictEqual(must(yield* b.get("s")).status, "success")
        }))
    })

    describe("queries", () => {
      test("list filters and orders; stats counts per status and queue", (b) =>
        Effect.gen(function*() {
          yield* TestClock.adjust(1000)
          yield* b.enqueue([
            task("a", { name: "x" }),
            task("b", { name: "y" }),
            task("c", { name: "x", queue: "q2", runAt: 5000 }),
            task("d", { name: "x", runAt: 3000 })
          ])
          const [a, bb] = yield* claimAll(b, "w", 700)
          yield* b.settle([succeed(a), fail(bb)])
          assert.deepStrictEqual(ids(yield* b.list({})), ["a", "b", "c", "d"])
          assert.deepStrictEqual(ids(yield* b.list({ newestFirst: true })), ["d", "c", "b", "a"])
          assert.deepStrictEqual(ids(yield* b.list({ newestFirst: true, limit: 2 })), ["d", "c"])
          assert.deepStrictEqual(ids(yield* b.list({ limit: 2 })), ["a", "b"])
          assert.deepStrictEqual(ids(yield* b.list({ name: "x" })), ["a", "c", "d"])
          assert.deepStrictEqual(ids(yield* b.list({ name: "x", queue: "default" })), ["a", "d"])
          assert.deepStrictEqual(ids(yield* b.list({ queue: "default", status: "pending" })), ["d"])
          assert.deepStrictEqual(ids(yield* b.list({ status: "failed" })), ["b"])
          assert.deepStrictEqual(ids(yield* b.list({ status: "success", name: "y" })), [])
          assert.deepStrictEqual(ids(yield* b.list({ queue: "nope" })), [])
          assert.deepStrictEqual(yield* b.list({ limit: 0 }), [])
          assert.deepStrictEqual(yield* b.stats(), { ...noStats, pending: 2, success: 1, failed: 1 })
          assert.deepStrictEqual(yield* b.stats("q2"), { ...noStats, pending: 1 })
          assert.deepStrictEqual(yield* b.stats("nope"), noStats)
        }))

      test("list and stats over finished and running tasks of two queues", (b) =>
        Effect.gen(function*() {
          const ts = Array.from({ length: 6 }, (_, i) => task(undefined, { queue: i % 2 === 0 ? "even" : "odd", name: `n${i % 3}` }))
          yield* b.enqueue(ts)
          assert.deepStrictEqual(ids(yield* b.list({})), ids(ts))
          assert.deepStrictEqual(ids(yield* b.list({ queue: "odd", name: "n0" })), [ts[3].id])
          const claimed = yield* claimFrom(b, ["even", "odd"], "w", 10_000, 6)
          yield* b.settle(claimed.slice(0, 4).map((r, i) => succeed(r, bytes(i))))
          yield* TestClock.adjust(1_000)
          yield* b.settle([fail(claimed[4])])
          assert.deepStrictEqual(yield* b.stats(), { ...noStats, in_progress: 1, success: 4, failed: 1 })
          assert.deepStrictEqual(yield* b.stats("even"), { ...noStats, success: 2, failed: 1 })
          assert.deepStrictEqual(ids(yield* b.list({ status: "failed" })), [claimed[4].id])
          assert.deepStrictEqual(ids(yield* b.list({ status: "in_progress" })), [claimed[5].id])
          assert.strictEqual(yield* b.purge({ finishedBefore: 1 }), 4)
          assert.strictEqual(yield* b.purge({ statuses: ["success"] }), 0)
          assert.strictEqual(yield* b.purge({ queue: "odd" }), 0)
          assert.strictEqual(yield* b.purge({}), 1)
          assert.deepStrictEqual(yield* b.stats(), { ...noStats, in_progress: 1 })
          assert.lengthOf(yield* b.list({}), 1)
        }))

      test("purge: finished tasks only, by status, age and queue", (b) =>
        Effect.gen(function*() {
          yield* TestClock.adjust(1000)
          yield* b.enqueue([
            task("a"),
            task("b"),
            task("c", { queue: "q2", runAt: 5000 }),
            task("d", { runAt: 3000 }),
            task("e", { queue: "q2" })
          ])
          const [a, bb] = yield* claimAll(b, "w", 700)
          yield* b.settle([succeed(a), fail(bb)])
          yield* TestClock.adjust(500)
          yield* b.cancel("e")
          assert.strictEqual(yield* b.purge({ statuses: ["failed"], finishedBefore: 1000 }), 0)
          assert.strictEqual(yield* b.purge({ statuses: ["failed"], finishedBefore: 1001 }), 1)
          assert.strictEqual(yield* b.purge({ queue: "q2", finishedBefore: 1500 }), 0)
          assert.strictEqual(yield* b.purge({ queue: "q2", statuses: ["success"] }), 0)
          assert.strictEqual(yield* b.purge({ queue: "q2" }), 1)
          assert.strictEqual(yield* b.purge({}), 1)
          assert.strictEqual(yield* b.purge({}), 0)
          assert.deepStrictEqual(ids(yield* b.list({})), ["c", "d"])
          assert.deepStrictEqual(yield* b.stats(), { ...noStats, pending: 2 })
          assert.isTrue(Option.isNone(yield* b.get("a")))
        }))

      test("purge by age, then by queue, of tasks finished at different times", (b) =>
        Effect.gen(function*() {
          yield* TestClock.setTime(100)
          yield* b.enqueue([task("p"), task("q", { name: "other", queue: "q2" }), task("r")])
          const claimed = yield* claimFrom(b, ["default", "q2"], "w", 1_000, 3)
          assert.deepStrictEqual(ids(claimed), ["p", "q", "r"])
          yield* TestClock.setTime(300)
          yield* b.settle([succeed(claimed[2])])
          yield* TestClock.setTime(400)
          yield* b.settle([fail(claimed[0]), fail(claimed[1])])
          assert.deepStrictEqual(yield* b.stats(), { ...noStats, success: 1, failed: 2 })
          assert.strictEqual(yield* b.purge({ finishedBefore: 300 }), 0)
          assert.strictEqual(yield* b.purge({ finishedBefore: 301 }), 1)
          assert.strictEqual(yield* b.purge({ statuses: ["success"] }), 0)
          assert.strictEqual(yield* b.purge({ queue: "q2" }), 1)
          assert.strictEqual(yield* b.purge({}), 1)
          assert.deepStrictEqual(yield* b.list({}), [])
        }))

      test("purge deletes in batches until done", (b) =>
        Effect.gen(function*() {
          yield* b.enqueue(Array.from({ length: 2500 }, () => task()))
          for (let i = 0; i < 3; i++) {
            const recs = yield* claimAll(b, "w", 1000, 1000)
            const ok = yield* b.settle(recs.map((r) => succeed(r)))
            assert.isTrue(ok.every((x) => x))
          }
          assert.strictEqual(yield* b.purge({ statuses: ["success"] }), 2500)
          assert.deepStrictEqual(yield* b.stats(), noStats)
        }))

      test("nextWakeAt: the earliest runAt over every priority and queue asked, or the earliest lease", (b) =>
        Effect.gen(function*() {
          yield* TestClock.setTime(1_000)
          assert.deepStrictEqual(yield* b.nextWakeAt(["default"]), Option.none())
          yield* b.enqueue([
            task("hi", { priority: 4, runAt: 9_000 }),
            task("lo", { priority: 1, runAt: 5_000 }),
            task("mid", { priority: 2, runAt: 7_000 }),
            task("other", { queue: "b", priority: 3, runAt: 3_000 }),
            task("elsewhere", { queue: "c", priority: 3, runAt: 2_000 })
          ])
          assert.deepStrictEqual(yield* b.nextWakeAt(["default"]), Option.some(5_000))
          assert.deepStrictEqual(yield* b.nextWakeAt(["default", "b"]), Option.some(3_000))
          assert.deepStrictEqual(yield* b.nextWakeAt(["none"]), Option.none())
          assert.deepStrictEqual(yield* b.nextWakeAt([]), Option.none())
          yield* TestClock.setTime(5_000)
          const [lo] = yield* claimAll(b, "w", 1_000, 1)
          assert.strictEqual(lo.id, "lo")
          // the lease of the running task (6,000) is now the earliest
          assert.deepStrictEqual(yield* b.nextWakeAt(["default"]), Option.some(6_000))
          yield* b.settle([succeed(lo)])
          assert.deepStrictEqual(yield* b.nextWakeAt(["default"]), Option.some(7_000))
        }))

      test("nextWakeAt counts due tasks (in the past) and ignores finished ones", (b) =>
        Effect.gen(function*() {
          yield* TestClock.adjust(1000)
          yield* b.enqueue([task("a"), task("b"), task("d", { runAt: 3000 }), task("c", { queue: "q2", runAt: 5000 })])
          assert.deepStrictEqual(yield* b.nextWakeAt(["default"]), Option.some(0))
          assert.deepStrictEqual(yield* b.nextWakeAt(["q2"]), Option.some(5000))
          const [a, bb] = yield* claimAll(b, "w", 700)
          assert.deepStrictEqual(yield* b.nextWakeAt(["default"]), Option.some(1700))
          yield* b.settle([succeed(a), fail(bb)])
          assert.deepStrictEqual(yield* b.nextWakeAt(["default", "q2"]), Option.some(3000))
        }))

      test("a delayed task is claimed only once due; nextWakeAt tells when", (b) =>
        Effect.gen(function*() {
          const t = task(undefined, { runAt: 5_000 })
          yield* b.enqueue([t, task(undefined, { runAt: 7_000 })])
          assert.deepStrictEqual(yield* b.nextWakeAt(["default"]), Option.some(5_000))
          assert.lengthOf(yield* claimAll(b, "w", 1000, 5), 0)
          yield* TestClock.adjust("5 seconds")
          const got = yield* claimAll(b, "w", 1000, 5)
          assert.deepStrictEqual(ids(got), [t.id])
          assert.deepStrictEqual(yield* b.nextWakeAt(["default"]), Option.some(6_000))
        }))
    })

    describe("events", () => {
      scoped("Ready on enqueue, release and retry; Finished on settle; Cancelled and Finished on cancel", (b) =>
        Effect.gen(function*() {
          const events = yield* b.subscribe
          yield* b.enqueue([task("a"), task("b", { queue: "q2" }), task("c")])
          const [a, c] = yield* claimAll(b)
          yield* b.settle([succeed(a), { _tag: "Released", lease: lease(c) }])
          yield* b.cancel("b")
          assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Queue.takeAll(events)), [
            { _tag: "Ready", queue: "default" },
            { _tag: "Ready", queue: "q2" },
            { _tag: "Ready", queue: "default" },
            { _tag: "Finished", ids: ["a"] },
            { _tag: "Cancelled", ids: ["b"] },
            { _tag: "Finished", ids: ["b"] }
          ])
          // retry and a Retrying outcome make the queue ready; refused outcomes and no-ops say nothing
          assert.strictEqual(yield* b.retry("b"), "requeued")
          const [c2] = yield* claimFrom(b, ["default"], "w", 1000, 1)
          yield* b.settle([{ _tag: "Retrying", lease: lease(c2), runAt: 0, error: error(), traceback: null, failureTimes: [1] }])
          yield* b.settle([succeed(c2)])
          assert.strictEqual(yield* b.cancel("a"), "finished")
          assert.strictEqual(yield* b.retry("c"), "not_finished")
          yield* b.enqueue([])
          assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Queue.takeAll(events)), [
            { _tag: "Ready", queue: "q2" },
            { _tag: "Ready", queue: "default" }
          ])
        }))

      scoped("a dedup hit publishes nothing; a batch publishes one Ready per queue", (b) =>
        Effect.gen(function*() {
          yield* b.enqueue([task("k", { key: "K" })])
          const events = yield* b.subscribe
          yield* b.enqueue([task("k2", { key: "K" })])
          assert.strictEqual(yield* Queue.size(events), 0)
          yield* b.enqueue([task(), task(undefined, { queue: "x" }), task(), task(undefined, { queue: "x" })])
          const got = Chunk.toReadonlyArray(yield* Queue.takeAll(events))
          assert.deepStrictEqual(
            got.map((e) => JSON.stringify(e)).sort(),
            [{ _tag: "Ready", queue: "default" }, { _tag: "Ready", queue: "x" }].map((e) => JSON.stringify(e)).sort()
          )
        }))

      scoped("cancel and retry publish in the order they happen", (b) =>
        Effect.gen(function*() {
          const events = yield* b.subscribe
          const [p, r] = [task(undefined, { key: "c" }), task()]
          yield* b.enqueue([p, r])
          yield* claimAll(b, "w", 1000, 1)
          yield* TestClock.adjust(100)
          assert.strictEqual(yield* b.cancel(p.id), "cancelled")
          assert.strictEqual(yield* b.cancel(r.id), "cancelled")
          const rp = must(yield* b.get(p.id))
          assert.strictEqual(rp.status, "cancelled")
          assert.strictEqual(rp.finishedAt, 100)
          assert.isNull(rp.leaseOwner)
          const q = task()
          yield* b.enqueue([q])
          assert.strictEqual(yield* b.retry(q.id), "not_finished")
          yield* TestClock.adjust(100)
          assert.strictEqual(yield* b.retry(p.id), "requeued")
          const back = must(yield* b.get(p.id))
          assert.strictEqual(back.status, "pending")
          assert.strictEqual(back.runAt, 200)
          assert.strictEqual(back.attempts, 0)
          assert.isNull(back.finishedAt)
          assert.isNull(back.startedAt)
          // it holds its dedup key again
          assert.deepStrictEqual(yield* b.enqueue([task(undefined, { key: "c" })]), [{ id: p.id, inserted: false }])
          assert.deepStrictEqual(ids(yield* claimAll(b, "w", 1000, 5)), [q.id, p.id])
          assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Queue.takeAll(events)), [
            { _tag: "Ready", queue: "default" },
            { _tag: "Cancelled", ids: [p.id] },
            { _tag: "Finished", ids: [p.id] },
            { _tag: "Cancelled", ids: [r.id] },
            { _tag: "Finished", ids: [r.id] },
            { _tag: "Ready", queue: "default" },
            { _tag: "Ready", queue: "default" }
          ])
        }))
    })
  })
}
