/**
 * `joinUnwrapped`: the task's own failure, one level up, so `catchTag` handles it (issue 15,
 * item 5); and `join` keeps `TaskFailed` around it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Schema, TestClock } from "effect"
import { MemoryBackend, Serializer, Task, TaskCancelled, TaskFailed, TaskQueue, TaskTimeout, Worker } from "../src/index.js"
import { open, promiseHandler } from "../src/promise.js"

class Rejected extends Schema.TaggedError<Rejected>()("Rejected", { reason: Schema.String }) {}

const Send = Task.make("send", { payload: Schema.String, success: Schema.String, failure: Rejected })
const SendLive = Task.handler(Send, (to) =>
  to.includes("@") ? Effect.succeed(`sent to ${to}`) : Effect.fail(new Rejected({ reason: `bad address ${to}` })))

const Env = TaskQueue.layer.pipe(Layer.provideMerge(MemoryBackend.layer), Layer.provideMerge(Serializer.json))

describe("joinUnwrapped", () => {
  it.scoped("fails with the task's own typed failure, handled by catchTag in one step", () =>
    Effect.gen(function*() {
      const queue = yield* TaskQueue
      const bad = yield* queue.enqueue(Send, "nobody")
      const good = yield* queue.enqueue(Send, "a@b.c")
      yield* Worker.drain({ handlers: [SendLive] })
      assert.strictEqual(yield* queue.joinUnwrapped(Send, good), "sent to a@b.c")
      const error = yield* Effect.flip(queue.joinUnwrapped(Send, bad))
      assert.instanceOf(error, Rejected)
      const handled = yield* queue.joinUnwrapped(Send, bad).pipe(
        Effect.catchTag("Rejected", (e) => Effect.succeed(`handled: ${e.reason}`))
      )
      assert.strictEqual(handled, "handled: bad address nobody")
      // join still wraps it.
      const wrapped = yield* Effect.flip(queue.join(Send, bad))
      assert.instanceOf(wrapped, TaskFailed)
      assert.instanceOf((wrapped as TaskFailed).failure, Rejected)
    }).pipe(Effect.provide(Env)))

  it.scoped("sitq's own errors come unwrapped too; a cancelled task is TaskCancelled", () =>
    Effect.gen(function*() {
      const queue = yield* TaskQueue
      const Slow = Task.make("slow_join", { timeout: "1 millis" })
      const slow = yield* queue.enqueue(Slow)
      const cancelled = yield* queue.enqueue(Send, "x@y", { delay: "1 hour" })
      yield* queue.cancel(cancelled)
      const fiber = yield* Effect.fork(Worker.drain({ handlers: [Task.handler(Slow, () => Effect.never)] }))
      for (let i = 0; i < 100 && fiber.unsafePoll() === null; i++) yield* TestClock.adjust("10 millis")
      yield* fiber
      assert.instanceOf(yield* Effect.flip(queue.joinUnwrapped(Slow, slow)), TaskTimeout)
      assert.instanceOf(yield* Effect.flip(queue.joinUnwrapped(Send, cancelled)), TaskCancelled)
    }).pipe(Effect.provide(Env)))

  it.scoped("a failure that no longer decodes stays inside TaskFailed", () =>
    Effect.gen(function*() {
      const queue = yield* TaskQueue
      const V1 = Task.make("shape", { failure: Rejected })
      class Other extends Schema.TaggedError<Other>()("Rejected", { code: Schema.Number }) {}
      const V2 = Task.make("shape", { failure: Other })
      const id = yield* queue.enqueue(V1)
      yield* Worker.drain({ handlers: [Task.handler(V1, () => Effect.fail(new Rejected({ reason: "old" })))] })
      const error = yield* Effect.flip(queue.joinUnwrapped(V2, id))
      assert.instanceOf(error, TaskFailed)
    }).pipe(Effect.provide(Env)))

  it("the Promise client's joinUnwrapped rejects with the task's own failure", async () => {
    const queue = await open({ backend: MemoryBackend.layer })
    const id = await queue.enqueue(Send, "nobody")
    await queue.drain({ handlers: [promiseHandler(Send, async (to) => {
      throw new Rejected({ reason: `bad address ${to}` })
    })] })
    const error = await queue.joinUnwrapped(Send, id).catch((e: unknown) => e)
    assert.instanceOf(error, Rejected)
    assert.strictEqual((error as Rejected)._tag, "Rejected")
    await queue.close()
  })
})
