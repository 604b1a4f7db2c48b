/**
 * Worker options are checked when the worker starts, before any task is claimed: each mistake is
 * an `InvalidOptions` naming the option (issue 15, item 1).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Schema } from "effect"
import type { WorkerOptions } from "../src/index.js"
import { InvalidOptions, MemoryBackend, Serializer, Task, TaskQueue, Worker } from "../src/index.js"
import type { Handler } from "../src/Task.js"

const Echo = Task.make("echo", { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Number })
const EchoLive = Task.handler(Echo, ({ n }) => Effect.succeed(n))

const Env = TaskQueue.layer.pipe(Layer.provideMerge(MemoryBackend.layer), Layer.provideMerge(Serializer.json))

/** Builds a worker with these options and returns its InvalidOptions, checking nothing was claimed. */
const refused = (options: WorkerOptions<ReadonlyArray<Handler<never>>>) =>
  Effect.gen(function*() {
    const queue = yield* TaskQueue
    const id = yield* queue.enqueue(Echo, { n: 1 })
    const exit = yield* Effect.exit(Effect.scoped(Worker.make(options)))
    assert.isTrue(Exit.isFailure(exit))
    const error = yield* Effect.flip(Worker.drain(options))
    assert.instanceOf(error, InvalidOptions)
    assert.strictEqual((yield* queue.get(id)).status, "pending")
    return error as InvalidOptions
  })

describe("Worker option checks", () => {
  it.scoped("concurrency must be a positive integer: 0, NaN, negative and 2.5 are refused", () =>
    Effect.gen(function*() {
      for (const concurrency of [0, Number.NaN, -3, 2.5]) {
        const error = yield* refused({ handlers: [EchoLive], concurrency })
        assert.strictEqual(error.option, "concurrency")
        assert.include(error.message, String(concurrency))
      }
      assert.strictEqual((yield* refused({ handlers: [EchoLive], batchSize: 0 })).option, "batchSize")
    }).pipe(Effect.provide(Env)))

  it.scoped("durations must be positive and the heartbeat shorter than the lease", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* refused({ handlers: [EchoLive], pollInterval: -1 })).option, "pollInterval")
      assert.strictEqual((yield* refused({ handlers: [EchoLive], leaseDuration: 0 })).option, "leaseDuration")
      assert.strictEqual((yield* refused({ handlers: [EchoLive], leaseDuration: Number.NaN })).option, "leaseDuration")
      const slowBeat = yield* refused({ handlers: [EchoLive], leaseDuration: "5 seconds", heartbeatInterval: "5 seconds" })
      assert.strictEqual(slowBeat.option, "heartbeatInterval")
      assert.strictEqual((yield* refused({ handlers: [EchoLive], shutdownTimeout: -5 })).option, "shutdownTimeout")
      assert.strictEqual((yield* refused({ handlers: [EchoLive], queues: [] })).option, "queues")
    }).pipe(Effect.provide(Env)))

  it.scoped("two handlers for one task are refused", () =>
    Effect.gen(function*() {
      const other = Task.handler(Echo, ({ n }) => Effect.succeed(n * 2))
      const error = yield* refused({ handlers: [EchoLive, other] })
      assert.strictEqual(error.option, "handlers")
      assert.include(error.message, "two handlers for task 'echo'")
    }).pipe(Effect.provide(Env)))

  it.scoped("two different tasks sharing one name are refused", () =>
    Effect.gen(function*() {
      const Impostor = Task.make("echo", { payload: Schema.String })
      const error = yield* refused({ handlers: [EchoLive, Task.handler(Impostor, () => Effect.void)] })
      assert.strictEqual(error.option, "handlers")
      assert.include(error.message, "two different tasks are named 'echo'")
    }).pipe(Effect.provide(Env)))

  it.scoped("a handler's task with a priority that is not an integer is refused by the worker", () =>
    Effect.gen(function*() {
      const Odd = Task.make("odd", { priority: 2.5 })
      const error = yield* refused({ handlers: [EchoLive, Task.handler(Odd, () => Effect.void)] })
      assert.include(error.option, "priority of task 'odd'")
    }).pipe(Effect.provide(Env)))

  it.scoped("Worker.layer fails to build with the InvalidOptions", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Layer.build(Worker.layer({ handlers: [EchoLive], concurrency: 0 })))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const error = yield* Effect.flip(Exit.failCause(exit.cause))
        assert.instanceOf(error, InvalidOptions)
      }
    }).pipe(Effect.provide(Env)))

  it.scoped("valid options start a worker that drains", () =>
    Effect.gen(function*() {
      const queue = yield* TaskQueue
      yield* queue.enqueue(Echo, { n: 1 })
      const stats = yield* Worker.drain({
        handlers: [EchoLive],
        concurrency: 1,
        batchSize: 1,
        pollInterval: "10 millis",
        leaseDuration: "2 seconds",
        heartbeatInterval: "1 second",
        shutdownTimeout: 0
      })
      assert.strictEqual(stats.succeeded, 1)
    }).pipe(Effect.provide(Env)))
})
