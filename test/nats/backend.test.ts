/**
 * NATS-specific behaviour: several backend instances (each with its own connection, as separate
 * processes have) on one store see each other's writes through the bucket watch, never claim one
 * task twice, share dedup keys, and a new instance builds its index from what is stored.
 */
import { assert, describe, it } from "@effect/vitest"
import { Kvm } from "@nats-io/kv"
import { connect } from "@nats-io/transport-node"
import { Chunk, Effect, Exit, Layer, Option, Queue, Scope } from "effect"
import type { Backend as BackendService, BackendEvent, NewTask } from "../../src/Backend.js"
import { Backend } from "../../src/Backend.js"
import { NatsBackend } from "../../src/backends/nats.js"
import { bucketOf } from "../../src/backends/nats/NatsBackend.js"
import { BackendError } from "../../src/Errors.js"
import { deleteStore, freshPrefix, natsUrl } from "./layer.js"

/** A store on a fresh prefix, deleted at the end of the test's scope. */
const freshStore = Effect.acquireRelease(Effect.sync(freshPrefix), (prefix) => Effect.promise(() => deleteStore(prefix)))

/** One backend instance on `prefix`, open for the scope. */
const open = (prefix: string) =>
  Effect.map(Layer.build(NatsBackend.layer({ servers: natsUrl(), prefix })), (ctx) => ctx.unsafeMap.get(Backend.key) as BackendService)

const task = (i: number, over: Partial<NewTask> = {}): NewTask => ({
  id: `00000000-0000-7000-8000-${i.toString(16).padStart(12, "0")}`,
  queue: "default",
  name: "echo",
  payload: new Uint8Array([i & 0xff]),
  priority: 2,
  runAt: 0,
  key: null,
  ...over
})

/** Takes events until one matches, or fails after 5 s. */
const awaitEvent = (events: Queue.Dequeue<BackendEvent>, match: (e: BackendEvent) => boolean) =>
  Queue.take(events).pipe(
    Effect.repeat({ until: match }),
    Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("no such event within 5 s") })
  )

describe("NatsBackend", () => {
  it.live("a task enqueued by one instance wakes and is claimed by another; a cancellation is pushed back", () =>
    Effect.gen(function*() {
      const prefix = yield* freshStore
      const a = yield* open(prefix)
      const b = yield* open(prefix)
      const bEvents = yield* b.subscribe
      const aEvents = yield* a.subscribe
      const [t] = [task(1)]
      yield* a.enqueue([t])
      yield* awaitEvent(bEvents, (e) => e._tag === "Ready" && e.queue === "default")
      const claimed = yield* b.claim({ owner: "B", queues: ["default"], limit: 10, leaseMillis: 60_000 })
      assert.deepStrictEqual(claimed.map((r) => r.id), [t.id])
      assert.strictEqual(claimed[0]!.attempts, 1)
      assert.deepStrictEqual(claimed[0]!.payload, new Uint8Array([1]))
      assert.strictEqual(yield* a.cancel(t.id), "cancelled")
      yield* awaitEvent(bEvents, (e) => e._tag === "Cancelled" && e.ids.includes(t.id))
      // B's settle is refused: the task is cancelled
      assert.deepStrictEqual(
        yield* b.settle([{ _tag: "Succeeded", lease: { id: t.id, owner: "B", attempt: 1 }, result: new Uint8Array() }]),
        [false]
      )
      // and a task B finishes is pushed to A as Finished
      const [u] = [task(2)]
      yield* a.enqueue([u])
      yield* awaitEvent(bEvents, (e) => e._tag === "Ready")
      const [claimedU] = yield* b.claim({ owner: "B", queues: ["default"], limit: 1, leaseMillis: 60_000 })
      assert.strictEqual(claimedU?.id, u.id)
      yield* b.settle([{ _tag: "Succeeded", lease: { id: u.id, owner: "B", attempt: 1 }, result: new Uint8Array([7]) }])
      yield* awaitEvent(aEvents, (e) => e._tag === "Finished" && e.ids.includes(u.id))
      const stored = yield* a.get(u.id)
      assert.isTrue(Option.isSome(stored))
      assert.strictEqual(Option.getOrThrow(stored).status, "success")
      assert.deepStrictEqual(Option.getOrThrow(stored).result, new Uint8Array([7]))
    }).pipe(Effect.scoped), 30_000)

  it.live("three instances claiming the same 600 tasks at once never claim one twice", () =>
    Effect.gen(function*() {
      const prefix = yield* freshStore
      const producer = yield* open(prefix)
      const claimers = yield* Effect.all([open(prefix), open(prefix), open(prefix)])
      const n = 600
      yield* producer.enqueue(Array.from({ length: n }, (_, i) => task(i)))
      const claimAll = (backend: BackendService, owner: string) =>
        Effect.gen(function*() {
          const mine: Array<string> = []
          let empty = 0
          while (empty < 20) {
            const got = yield* backend.claim({ owner, queues: ["default"], limit: 25, leaseMillis: 60_000 })
            for (const r of got) mine.push(r.id)
            if (got.length === 0) {
              empty++
              yield* Effect.sleep("20 millis")
            } else empty = 0
          }
          return mine
        })
      const lists = yield* Effect.all(claimers.map((c, i) => claimAll(c, `w${i}`)), { concurrency: "unbounded" })
      const all = lists.flat()
      assert.strictEqual(all.length, n, `claimed ${all.length} of ${n}`)
      assert.strictEqual(new Set(all).size, n, "no task claimed twice")
      assert.isAtLeast(lists.filter((l) => l.length > 0).length, 2, "the claims spread over the instances")
      assert.deepStrictEqual((yield* producer.stats()).in_progress, n)
    }).pipe(Effect.scoped), 60_000)

  it.live("a new instance builds its index from the store: pending, delayed and leased tasks", () =>
    Effect.gen(function*() {
      const prefix = yield* freshStore
      const scope = yield* Scope.make()
      const first = yield* open(prefix).pipe(Scope.extend(scope))
      yield* first.enqueue([task(1), task(2, { runAt: Date.now() + 3_600_000 }), task(3, { priority: 4 })])
      yield* first.claim({ owner: "gone", queues: ["default"], limit: 1, leaseMillis: 5_000 })
      yield* Scope.close(scope, Exit.void)
      const second = yield* open(prefix)
      // due now: task 1 (task 3 is leased until 5 s after the claim)
      const next = yield* second.nextWakeAt(["default"])
      assert.isTrue(Option.isSome(next))
      const got = yield* second.claim({ owner: "B", queues: ["default"], limit: 10, leaseMillis: 1_000 })
      assert.deepStrictEqual(got.map((r) => r.id), [task(1).id])
      assert.deepStrictEqual((yield* second.stats()), { pending: 1, in_progress: 2, success: 0, failed: 0, cancelled: 0 })
    }).pipe(Effect.scoped), 30_000)

  it.live("dedup keys hold across instances and are released by purge", () =>
    Effect.gen(function*() {
      const prefix = yield* freshStore
      const a = yield* open(prefix)
      const b = yield* open(prefix)
      const [first] = yield* a.enqueue([task(1, { key: "report-1" })])
      const [again] = yield* b.enqueue([task(2, { key: "report-1" })])
      assert.deepStrictEqual(again, { id: first!.id, inserted: false })
      yield* Effect.sleep("100 millis")
      const [claimed] = yield* b.claim({ owner: "B", queues: ["default"], limit: 1, leaseMillis: 60_000 })
      assert.strictEqual(claimed?.id, first!.id)
      yield* b.settle([{ _tag: "Succeeded", lease: { id: first!.id, owner: "B", attempt: 1 }, result: new Uint8Array() }])
      const [after] = yield* a.enqueue([task(3, { key: "report-1" })])
      assert.deepStrictEqual(after, { id: task(3).id, inserted: true })
      // purging the finished holder leaves the key with the new one
      assert.strictEqual(yield* a.purge({}), 1)
      const [fourth] = yield* b.enqueue([task(4, { key: "report-1" })])
      assert.deepStrictEqual(fourth, { id: task(3).id, inserted: false })
    }).pipe(Effect.scoped), 30_000)

  it.live("a bucket of another layout, or a bad prefix, is refused with a Schema error", () =>
    Effect.gen(function*() {
      const prefix = yield* freshStore
      yield* Effect.promise(async () => {
        const nc = await connect({ servers: natsUrl() })
        const kv = await new Kvm(nc).create(bucketOf(prefix), { history: 1 })
        await kv.put("m.version", "99")
        await nc.close()
      })
      const error = yield* Effect.flip(open(prefix))
      assert.instanceOf(error, BackendError)
      assert.strictEqual(error.reason, "Schema")
      assert.match(error.message, /layout 99/)
      const bad = yield* Effect.flip(open("no spaces allowed"))
      assert.strictEqual(bad.reason, "Schema")
    }).pipe(Effect.scoped), 30_000)

  it.live("list and stats read the whole store; enqueue of a batch is all or none", () =>
    Effect.gen(function*() {
      const prefix = yield* freshStore
      const a = yield* open(prefix)
      const n = 2_500
      const ids = Chunk.toReadonlyArray(Chunk.makeBy(n, (i) => task(i)))
      yield* a.enqueue(ids)
      assert.strictEqual((yield* a.stats()).pending, n)
      const listed = yield* a.list({ newestFirst: true, limit: 3 })
      assert.deepStrictEqual(listed.map((r) => r.id), ids.slice(-3).reverse().map((t) => t.id))
      // a batch whose second task reuses an existing id fails and leaves nothing of itself
      const clash = yield* Effect.flip(a.enqueue([task(n + 1), ids[0]!]))
      assert.instanceOf(clash, BackendError)
      assert.strictEqual((yield* a.stats()).pending, n)
      assert.isTrue(Option.isNone(yield* a.get(task(n + 1).id)))
    }).pipe(Effect.scoped), 60_000)
})
