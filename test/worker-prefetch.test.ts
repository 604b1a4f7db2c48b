/**
 * Prefetch (issue 9): a worker holds up to `prefetch` claimed tasks beyond its running ones. They
 * are leased and heartbeated while held, start in claim order the moment a slot frees, are released
 * at once on shutdown, and a cancelled one never runs. Against MemoryBackend and SQLite.
 */
import { assert, describe, it } from "@effect/vitest"
import type { Layer } from "effect"
import { Deferred, Effect, Exit, Layer as L, Ref, Schema, Scope, TestClock, TestServices } from "effect"
import { Backend, MemoryBackend, Serializer, Task, TaskQueue, Worker } from "../src/index.js"
import { freshLayer as sqliteLayer } from "./sqlite/helpers.js"

const Step = Task.make("step", { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Number })

const settle = (ms = 5) => TestServices.provideLive(Effect.sleep(`${ms} millis`))

/** Waits (live) until the check holds, for up to `ms`. */
const eventually = <E, R>(check: Effect.Effect<boolean, E, R>, ms = 5_000) =>
  Effect.gen(function*() {
    for (let waited = 0; waited < ms; waited += 5) {
      if (yield* check) return
      yield* settle()
    }
    assert.fail("condition not reached in time")
  })

/** A handler that records the order tasks start in; task 0 waits for `gate`. */
const handlerWith = (gate: Deferred.Deferred<void>, started: Ref.Ref<ReadonlyArray<number>>) =>
  Task.handler(Step, ({ n }) =>
    Effect.gen(function*() {
      yield* Ref.update(started, (xs) => [...xs, n])
      if (n === 0) yield* Deferred.await(gate)
      return n
    }))

const suite = (name: string, backend: Layer.Layer<Backend.Backend, unknown>) =>
  describe(`prefetch (${name})`, () => {
    const env = TaskQueue.layer.pipe(L.provideMerge(backend), L.provideMerge(Serializer.json))

    it.scoped("a worker holds prefetched tasks leased and starts them in claim order as slots free", () =>
      Effect.gen(function*() {
        const queue = yield* TaskQueue
        const ids = yield* queue.enqueueMany(Step, [{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }])
        const gate = yield* Deferred.make<void>()
        const started = yield* Ref.make<ReadonlyArray<number>>([])
        const worker = yield* Worker.make({ handlers: [handlerWith(gate, started)], concurrency: 1, prefetch: 2 })
        yield* eventually(Effect.map(Ref.get(started), (xs) => xs.length === 1))
        // One running, two held: three claimed and leased to this worker, the fourth still pending.
        yield* eventually(Effect.map(queue.stats(), (s) => s.in_progress === 3))
        assert.strictEqual(yield* worker.running, 1)
        assert.deepStrictEqual((yield* queue.stats()).pending, 1)
        for (const id of ids.slice(0, 3)) assert.strictEqual((yield* queue.get(id)).status, "in_progress")
        yield* Deferred.succeed(gate, undefined)
        for (const id of ids) assert.strictEqual(yield* queue.join(Step, id), ids.indexOf(id))
        assert.deepStrictEqual(yield* Ref.get(started), [0, 1, 2, 3])
        const stats = yield* worker.stats
        assert.strictEqual(stats.claimed, 4)
        assert.strictEqual(stats.succeeded, 4)
      }).pipe(Effect.provide(env)))

    it.scoped("shutdown releases prefetched tasks at once, before running ones finish", () =>
      Effect.gen(function*() {
        const queue = yield* TaskQueue
        const [a, b, c] = yield* queue.enqueueMany(Step, [{ n: 0 }, { n: 1 }, { n: 2 }])
        const gate = yield* Deferred.make<void>()
        const started = yield* Ref.make<ReadonlyArray<number>>([])
        const scope = yield* Scope.make()
        yield* Worker.make({
          handlers: [handlerWith(gate, started)],
          concurrency: 1,
          prefetch: 2,
          shutdownTimeout: "10 seconds"
        }).pipe(Scope.extend(scope))
        yield* eventually(Effect.map(queue.stats(), (s) => s.in_progress === 3))
        const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
        // The running task still has its shutdown timeout; the held ones are pending again already,
        // with no attempt spent.
        yield* eventually(Effect.map(queue.stats(), (s) => s.pending === 2))
        assert.strictEqual((yield* queue.get(a!)).status, "in_progress")
        for (const id of [b!, c!]) {
          const info = yield* queue.get(id)
          assert.strictEqual(info.status, "pending")
          assert.strictEqual(info.attempts, 0)
        }
        yield* Deferred.succeed(gate, undefined)
        yield* closing
        assert.strictEqual((yield* queue.get(a!)).status, "success")
        assert.deepStrictEqual(yield* Ref.get(started), [0])
      }).pipe(Effect.provide(env)))

    it.scoped("a cancelled prefetched task never runs", () =>
      Effect.gen(function*() {
        const queue = yield* TaskQueue
        const [a, b, c] = yield* queue.enqueueMany(Step, [{ n: 0 }, { n: 1 }, { n: 2 }])
        const gate = yield* Deferred.make<void>()
        const started = yield* Ref.make<ReadonlyArray<number>>([])
        const worker = yield* Worker.make({ handlers: [handlerWith(gate, started)], concurrency: 1, prefetch: 2 })
        yield* eventually(Effect.map(queue.stats(), (s) => s.in_progress === 3))
        yield* queue.cancel(b!)
        yield* Deferred.succeed(gate, undefined)
        assert.strictEqual(yield* queue.join(Step, c!), 2)
        assert.strictEqual(yield* queue.join(Step, a!), 0)
        assert.strictEqual((yield* queue.get(b!)).status, "cancelled")
        assert.deepStrictEqual(yield* Ref.get(started), [0, 2])
        yield* eventually(Effect.map(worker.running, (n) => n === 0))
      }).pipe(Effect.provide(env)))

    it.scoped("prefetched tasks are heartbeated: another worker cannot claim them while they wait", () =>
      Effect.gen(function*() {
        const queue = yield* TaskQueue
        const backendService = yield* Backend.Backend
        const [, b] = yield* queue.enqueueMany(Step, [{ n: 0 }, { n: 1 }])
        const gate = yield* Deferred.make<void>()
        const started = yield* Ref.make<ReadonlyArray<number>>([])
        const worker = yield* Worker.make({
          handlers: [handlerWith(gate, started)],
          concurrency: 1,
          prefetch: 1,
          leaseDuration: "3 seconds",
          heartbeatInterval: "1 second"
        })
        yield* eventually(Effect.map(queue.stats(), (s) => s.in_progress === 2))
        // Ten lease durations pass while task 1 waits behind task 0.
        for (let i = 0; i < 60; i++) {
          yield* TestClock.adjust("500 millis")
          yield* settle(2)
        }
        const other = yield* backendService.claim({ owner: "other", queues: ["default"], limit: 10, leaseMillis: 1_000 })
        assert.deepStrictEqual(other, [])
        const info = yield* queue.get(b!)
        assert.strictEqual(info.status, "in_progress")
        assert.strictEqual(info.attempts, 1)
        yield* Deferred.succeed(gate, undefined)
        assert.strictEqual(yield* queue.join(Step, b!), 1)
        assert.strictEqual((yield* worker.stats).refused, 0)
      }).pipe(Effect.provide(env)))

    it.effect("prefetch must be a non-negative integer", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          Worker.make({ handlers: [Task.handler(Step, ({ n }) => Effect.succeed(n))], prefetch: -1 }).pipe(Effect.scoped)
        )
        assert.strictEqual(error._tag, "InvalidOptions")
        assert.strictEqual(error.option, "prefetch")
      }).pipe(Effect.provide(env)))
  })

suite("memory", MemoryBackend.layer)
suite("sqlite", sqliteLayer)
