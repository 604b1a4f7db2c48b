/**
 * Result waiters and the backend's `capabilities.pushesAcrossProcesses`: where every change is
 * pushed, a waiter waits on the push and re-reads the store only as a slow safety net; where it is
 * not (SQLite across processes), it polls every 250 ms.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Queue, Schema, TestClock } from "effect"
import { Backend, MemoryBackend, Serializer, Task, TaskQueue } from "../../src/index.js"

const Echo = Task.make("echo", { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Number })

/**
 * The memory backend with `get` counted and the capability flag set as asked; `silent`: its
 * subscribers never get an event (a push that is lost).
 */
const counted = (pushes: boolean, gets: { n: number }, silent = false) =>
  Layer.effect(
    Backend.Backend,
    Effect.map(Backend.Backend, (b): Backend.Backend => ({
      ...b,
      capabilities: { pushesAcrossProcesses: pushes },
      subscribe: silent ? Queue.unbounded<Backend.BackendEvent>() : b.subscribe,
      get: (id) => Effect.suspend(() => {
        gets.n++
        return b.get(id)
      })
    }))
  ).pipe(Layer.provide(MemoryBackend.layer))

const env = (pushes: boolean, gets: { n: number }, silent = false) =>
  TaskQueue.layer.pipe(Layer.provideMerge(counted(pushes, gets, silent)), Layer.provideMerge(Serializer.json))

/** Runs the one pending task of the default queue to success through the port. */
const complete = Effect.gen(function*() {
  const b = yield* Backend.Backend
  const [rec] = yield* b.claim({ owner: "w", queues: ["default"], limit: 1, leaseMillis: 60_000 })
  yield* b.settle([{
    _tag: "Succeeded",
    lease: { id: rec.id, owner: "w", attempt: rec.attempts },
    result: new TextEncoder().encode("7")
  }])
})

describe("result waiters and pushes", () => {
  const gets = { n: 0 }
  it.scoped("a backend that pushes across processes: join waits on the push, with no polling", () =>
    Effect.gen(function*() {
      gets.n = 0
      const queue = yield* TaskQueue
      const id = yield* queue.enqueue(Echo, { n: 7 })
      const joining = yield* Effect.fork(queue.join(Echo, id))
      yield* TestClock.adjust("4 seconds")
      // one read when the waiter started; none while it waits
      assert.strictEqual(gets.n, 1)
      assert.isNull(joining.unsafePoll())
      yield* complete
      assert.strictEqual(yield* Fiber.join(joining), 7)
      assert.strictEqual(gets.n, 2)
    }).pipe(Effect.provide(env(true, gets))))

  const polled = { n: 0 }
  it.scoped("a backend that does not: join polls every 250 ms", () =>
    Effect.gen(function*() {
      polled.n = 0
      const queue = yield* TaskQueue
      const id = yield* queue.enqueue(Echo, { n: 7 })
      const joining = yield* Effect.fork(queue.join(Echo, id))
      yield* TestClock.adjust("1 second")
      assert.isAtLeast(polled.n, 4)
      yield* complete
      assert.strictEqual(yield* Fiber.join(joining), 7)
    }).pipe(Effect.provide(env(false, polled))))

  const safety = { n: 0 }
  it.scoped("a push that never comes: the waiter still re-reads the store every 5 seconds", () =>
    Effect.gen(function*() {
      safety.n = 0
      const queue = yield* TaskQueue
      const id = yield* queue.enqueue(Echo, { n: 7 })
      const joining = yield* Effect.fork(queue.join(Echo, id))
      yield* TestClock.adjust("1 second")
      // finished, but the push is lost
      yield* complete
      yield* TestClock.adjust("3 seconds")
      assert.isNull(joining.unsafePoll())
      assert.strictEqual(safety.n, 1)
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* Fiber.join(joining), 7)
      assert.strictEqual(safety.n, 2)
    }).pipe(Effect.provide(env(true, safety, true))))
})
