/**
 * The queue depth gauge: sampled once, then on schedule (TestClock), per queue and status.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Metric, Schema, TestClock } from "effect"
import { Backend } from "../src/Backend.js"
import * as MemoryBackend from "../src/backends/memory.js"
import * as Metrics from "../src/Metrics.js"
import { Serializer } from "../src/Serializer.js"
import * as Task from "../src/Task.js"
import * as TaskQueue from "../src/TaskQueue.js"

const Ping = Task.make("metrics_ping", { payload: Schema.Number, queue: "metrics-q" })

const depth = (queue: string, status: string) =>
  Effect.map(
    Metric.value(Metrics.queueDepth.pipe(Metric.tagged("queue", queue), Metric.tagged("status", status))),
    (s) => s.value
  )

describe("Metrics.queueDepth", () => {
  it.scoped("is set per queue and status, now and then every interval", () =>
    Effect.gen(function*() {
      const backend = yield* MemoryBackend.make()
      const queue = yield* TaskQueue.make().pipe(Effect.provideService(Backend, backend), Effect.provide(Serializer.json))
      yield* queue.enqueueMany(Ping, [1, 2, 3])
      const cancelled = yield* queue.enqueue(Ping, 4)
      yield* queue.cancel(cancelled)
      yield* Layer.build(Metrics.layer({ every: "10 seconds" }).pipe(Layer.provide(Layer.succeed(Backend, backend))))
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* depth("metrics-q", "pending"), 3)
      assert.strictEqual(yield* depth("metrics-q", "cancelled"), 1)
      assert.strictEqual(yield* depth("metrics-q", "success"), 0)

      yield* queue.enqueueMany(Ping, [5, 6])
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* depth("metrics-q", "pending"), 3)
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* depth("metrics-q", "pending"), 5)
    }))

  it.scoped("samples only the named queues, and goes back to zero", () =>
    Effect.gen(function*() {
      const backend = yield* MemoryBackend.make()
      const queue = yield* TaskQueue.make().pipe(Effect.provideService(Backend, backend), Effect.provide(Serializer.json))
      const ids = yield* queue.enqueueMany(Ping, [1, 2], { queue: "metrics-named" })
      yield* queue.enqueue(Ping, 3, { queue: "metrics-unnamed" })
      const sample = Metrics.sample({ queues: ["metrics-named"] }).pipe(Effect.provideService(Backend, backend))
      yield* sample
      assert.strictEqual(yield* depth("metrics-named", "pending"), 2)
      assert.strictEqual(yield* depth("metrics-unnamed", "pending"), 0)
      yield* Effect.forEach(ids, (id) => queue.cancel(id))
      yield* sample
      assert.strictEqual(yield* depth("metrics-named", "pending"), 0)
      assert.strictEqual(yield* depth("metrics-named", "cancelled"), 2)
    }))
})
