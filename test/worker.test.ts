import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Layer, Metric, Ref, Schema, TestClock, TestServices } from "effect"
import { Backend, MemoryBackend, Serializer, Task, TaskQueue, taskOutcomes, Worker } from "../src/index.js"

const Echo = Task.make("echo", { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Number })

class Doubler extends Context.Tag("test/Doubler")<Doubler, { readonly double: (n: number) => number }>() {}

const settle = (ms = 5) => TestServices.provideLive(Effect.sleep(`${ms} millis`))

/** A memory backend whose first `claim` dies with a defect. */
const FlakyClaim = Layer.effect(
  Backend.Backend,
  Effect.gen(function*() {
    const inner = yield* Backend.Backend
    const calls = yield* Ref.make(0)
    return {
      ...inner,
      claim: (request) =>
        Effect.flatMap(Ref.getAndUpdate(calls, (n) => n + 1), (n) =>
          n === 0 ? Effect.dieMessage("driver exploded") : inner.claim(request))
    } satisfies Backend.Backend
  })
).pipe(Layer.provide(MemoryBackend.layer))

describe("Worker", () => {
  it.scoped("a running worker outlives a defect in its claim loop", () =>
    Effect.gen(function*() {
      const queue = yield* TaskQueue
      const done = yield* Deferred.make<number>()
      const handler = Task.handler(Echo, ({ n }) => Effect.as(Deferred.succeed(done, n), n))
      yield* Worker.make({ handlers: [handler], pollInterval: "1 second" })
      yield* queue.enqueue(Echo, { n: 9 })
      for (let i = 0; i < 50 && !(yield* Deferred.isDone(done)); i++) {
        yield* TestClock.adjust("200 millis")
        yield* settle()
      }
      assert.strictEqual(yield* Deferred.await(done), 9)
    }).pipe(Effect.provide(TaskQueue.layer.pipe(Layer.provideMerge(FlakyClaim), Layer.provideMerge(Serializer.json)))))

  it.scoped("Worker.layer runs handlers with the services they need", () =>
    Effect.gen(function*() {
      const queue = yield* TaskQueue
      const worker = yield* Worker
      const id = yield* queue.enqueue(Echo, { n: 21 })
      const fiber = yield* Effect.fork(queue.join(Echo, id))
      for (let i = 0; i < 50 && fiber.unsafePoll() === null; i++) {
        yield* TestClock.adjust("100 millis")
        yield* settle()
      }
      assert.strictEqual(yield* fiber, 42)
      assert.strictEqual((yield* worker.stats).succeeded, 1)
      assert.strictEqual(yield* worker.running, 0)
      assert.isString(worker.id)
    }).pipe(Effect.provide(
      Worker.layer({
        handlers: [Task.handler(Echo, ({ n }) => Effect.map(Doubler, (d) => d.double(n)))],
        workerId: "w-1"
      }).pipe(
        Layer.provideMerge(TaskQueue.layer),
        Layer.provideMerge(MemoryBackend.layer),
        Layer.provideMerge(Serializer.json),
        Layer.provide(Layer.succeed(Doubler, { double: (n) => n * 2 }))
      )
    )))

  it.scoped("the lease owner is the worker id, and drain reports what it did", () =>
    Effect.gen(function*() {
      const queue = yield* TaskQueue
      const seen = yield* Ref.make<Array<string | null>>([])
      const handler = Task.handler(Echo, ({ n }, ctx) =>
        Effect.flatMap(Effect.orDie(queue.get(ctx.id)), (t) => Effect.as(Ref.update(seen, (a) => [...a, t.leaseOwner]), n)))
      yield* queue.enqueueMany(Echo, [{ n: 1 }, { n: 2 }, { n: 3 }])
      const stats = yield* Worker.drain({ handlers: [handler], workerId: "drainer", concurrency: 2 })
      assert.deepStrictEqual(stats, { claimed: 3, succeeded: 3, failed: 0, retried: 0, released: 0, refused: 0 })
      assert.deepStrictEqual(yield* Ref.get(seen), ["drainer", "drainer", "drainer"])
    }).pipe(Effect.provide(TaskQueue.layer.pipe(Layer.provideMerge(MemoryBackend.layer), Layer.provideMerge(Serializer.json)))))

  it.scoped("finished attempts are counted in the sitq_worker_tasks metric, by outcome", () =>
    Effect.gen(function*() {
      const queue = yield* TaskQueue
      const succeeded = Metric.tagged(taskOutcomes, "outcome", "Succeeded")
      const before = (yield* Metric.value(succeeded)).count
      yield* queue.enqueueMany(Echo, [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }])
      yield* Worker.drain({ handlers: [Task.handler(Echo, ({ n }) => Effect.succeed(n))] })
      assert.strictEqual((yield* Metric.value(succeeded)).count - before, 4)
    }).pipe(Effect.provide(TaskQueue.layer.pipe(Layer.provideMerge(MemoryBackend.layer), Layer.provideMerge(Serializer.json)))))
})
