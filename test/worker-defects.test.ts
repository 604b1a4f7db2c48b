/**
 * Worker defects of issue 8, each against MemoryBackend with faults injected by a Layer that wraps
 * its service: transient claim failures during `drain` (defect 2), and a slow outcome write with a
 * short lease (defect 4).
 */
import { assert, describe, it } from "@effect/vitest"
import type { Duration, Fiber } from "effect"
import { Effect, Layer, Ref, Schema, TestClock, TestServices } from "effect"
import { Backend, BackendError, MemoryBackend, Serializer, Task, TaskQueue, Worker } from "../src/index.js"

const Echo = Task.make("echo", { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Number })

const settle = (ms = 2) => TestServices.provideLive(Effect.sleep(`${ms} millis`))

/** Moves the test clock in steps until the fiber is done. */
const drive = <A, E>(fiber: Fiber.RuntimeFiber<A, E>, step: Duration.DurationInput = "100 millis", maxSteps = 2_000) =>
  Effect.gen(function*() {
    for (let i = 0; i < maxSteps && fiber.unsafePoll() === null; i++) {
      yield* TestClock.adjust(step)
      yield* settle()
    }
    return yield* fiber
  })

/** MemoryBackend whose first `failures` claims fail with a transient BackendError. */
const failingClaims = (failures: number) =>
  Layer.effect(
    Backend.Backend,
    Effect.gen(function*() {
      const inner = yield* Backend.Backend
      const calls = yield* Ref.make(0)
      return {
        ...inner,
        claim: (request) =>
          Effect.flatMap(Ref.getAndUpdate(calls, (n) => n + 1), (n) =>
            n < failures
              ? Effect.fail(new BackendError({ reason: "Unavailable", message: "injected claim failure" }))
              : inner.claim(request))
      } satisfies Backend.Backend
    })
  ).pipe(Layer.provide(MemoryBackend.layer))

/** MemoryBackend whose first `settle` takes `millis` (of the test clock) before it writes. */
const slowFirstSettle = (millis: number) =>
  Layer.effect(
    Backend.Backend,
    Effect.gen(function*() {
      const inner = yield* Backend.Backend
      const calls = yield* Ref.make(0)
      return {
        ...inner,
        settle: (outcomes) =>
          Effect.flatMap(Ref.getAndUpdate(calls, (n) => n + 1), (n) =>
            n === 0 ? Effect.zipRight(Effect.sleep(`${millis} millis`), inner.settle(outcomes)) : inner.settle(outcomes))
      } satisfies Backend.Backend
    })
  ).pipe(Layer.provide(MemoryBackend.layer))

const envOf = (backend: Layer.Layer<Backend.Backend>) =>
  TaskQueue.layer.pipe(Layer.provideMerge(backend), Layer.provideMerge(Serializer.json))

describe("Worker.drain and transient claim failures (issue 8, defect 2)", () => {
  it.scoped("drain retries claims that fail transiently and runs the due tasks", () =>
    Effect.gen(function*() {
      const queue = yield* TaskQueue
      const id = yield* queue.enqueue(Echo, { n: 4 })
      const fiber = yield* Effect.fork(Worker.drain({ handlers: [Task.handler(Echo, ({ n }) => Effect.succeed(n))] }))
      const stats = yield* drive(fiber)
      assert.strictEqual(stats.claimed, 1)
      assert.strictEqual(stats.succeeded, 1)
      assert.strictEqual((yield* queue.get(id)).status, "success")
    }).pipe(Effect.provide(envOf(failingClaims(2)))))

  it.scoped("drain fails with the BackendError when claims keep failing", () =>
    Effect.gen(function*() {
      const queue = yield* TaskQueue
      const id = yield* queue.enqueue(Echo, { n: 4 })
      const fiber = yield* Effect.fork(
        Effect.flip(Worker.drain({ handlers: [Task.handler(Echo, ({ n }) => Effect.succeed(n))] }))
      )
      const error = yield* drive(fiber)
      assert.instanceOf(error, BackendError)
      assert.strictEqual((error as BackendError).message, "injected claim failure")
      assert.strictEqual((yield* queue.get(id)).status, "pending")
    }).pipe(Effect.provide(envOf(failingClaims(Number.POSITIVE_INFINITY)))))
})

describe("lease keeping while an outcome is written (issue 8, defect 4)", () => {
  it.scoped("a task whose outcome write is slower than its lease keeps its lease and runs once", () =>
    Effect.gen(function*() {
      const queue = yield* TaskQueue
      const runs = yield* Ref.make(0)
      const handler = Task.handler(Echo, ({ n }) => Effect.as(Ref.update(runs, (x) => x + 1), n))
      yield* Worker.make({ handlers: [handler], leaseDuration: "3 seconds", pollInterval: "500 millis" })
      const id = yield* queue.enqueue(Echo, { n: 1 })
      // The first settle takes 10 s of the test clock: three lease durations.
      for (let i = 0; i < 300 && (yield* queue.get(id)).status !== "success"; i++) {
        yield* TestClock.adjust("100 millis")
        yield* settle()
      }
      assert.strictEqual((yield* queue.get(id)).status, "success")
      assert.strictEqual((yield* queue.get(id)).attempts, 1)
      assert.strictEqual(yield* Ref.get(runs), 1)
    }).pipe(Effect.provide(envOf(slowFirstSettle(10_000)))))
})
