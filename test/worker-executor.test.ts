/**
 * The executor alone: plain task records in, outcomes out, no backend, no worker.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Option, Schedule, Schema, TestClock } from "effect"
import type { Backend, Handler } from "../src/index.js"
import { Serializer, Task } from "../src/index.js"
import * as Executor from "../src/internal/executor.js"

class Boom extends Schema.TaggedError<Boom>()("Boom", { message: Schema.String }) {}
class Offset extends Context.Tag("test/Offset")<Offset, number>() {}

const Add = Task.make("add", {
  payload: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  success: Schema.Number,
  failure: Boom,
  retry: Schedule.spaced("10 seconds").pipe(Schedule.intersect(Schedule.recurs(1)))
})
const Slow = Task.make("slow", { timeout: "1 second" })
const Big = Task.make("big", { success: Schema.BigInt })

const AddLive = Task.handler(Add, ({ a, b }) =>
  a < 0 ? Effect.fail(new Boom({ message: "negative" })) : Effect.map(Offset, (o) => a + b + o))
const SlowLive = Task.handler(Slow, () => Effect.sleep("1 hour"))
const BigLive = Task.handler(Big, () => Effect.succeed(5n))

const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value))
const text = (b: Uint8Array) => new TextDecoder().decode(b)

const record = (name: string, payload: unknown, attempts = 1): Backend.TaskRecord => ({
  id: `id-${name}`,
  queue: "default",
  name,
  payload: bytes(payload),
  priority: 2,
  status: "in_progress",
  runAt: 0,
  attempts,
  leaseOwner: "w",
  leaseUntil: 30_000,
  failureTimes: [],
  enqueuedAt: 0,
  startedAt: 0,
  finishedAt: null,
  result: null,
  error: null,
  traceback: null,
  key: null
})

const executor = Effect.map(Serializer, (serializer) =>
  Executor.make<Offset>({
    handlers: new Map<string, Handler.Any>([["add", AddLive], ["slow", SlowLive], ["big", BigLive]]),
    serializer,
    owner: "w"
  }))

const run = (rec: Backend.TaskRecord) =>
  Effect.flatMap(executor, (e) => e.execute(rec)).pipe(
    Effect.provideService(Offset, 100),
    Effect.provide(Serializer.json)
  )

describe("executor", () => {
  it.effect("a success is encoded by the task's success schema, under the attempt's lease", () =>
    Effect.gen(function*() {
      const outcome = yield* run(record("add", { a: 1, b: 2 }, 3))
      assert.strictEqual(outcome._tag, "Succeeded")
      assert.deepStrictEqual(outcome.lease, { id: "id-add", owner: "w", attempt: 3 })
      if (outcome._tag === "Succeeded") assert.strictEqual(text(outcome.result), "103")
      const big = yield* run(record("big", null))
      assert.strictEqual(big._tag, "Succeeded")
      if (big._tag === "Succeeded") assert.strictEqual(text(big.result), "\"5\"")
    }))

  it.effect("a typed failure is retried by the schedule at the replayed time, then fails for good", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("5 seconds")
      const first = yield* run(record("add", { a: -1, b: 0 }, 1))
      assert.strictEqual(first._tag, "Retrying")
      if (first._tag === "Retrying") {
        assert.strictEqual(first.runAt, 15_000)
        assert.deepStrictEqual({ tag: first.error.tag, message: first.error.message }, { tag: "Boom", message: "negative" })
        assert.include(first.traceback ?? "", "negative")
      }
      // The second attempt carries the first one's failure time, as the backend stores it.
      const last = yield* run({ ...record("add", { a: -1, b: 0 }, 2), failureTimes: [5_000] })
      assert.strictEqual(last._tag, "Failed")
    }))

  it.effect("a payload that does not decode fails at once with SerializationError, without retry", () =>
    Effect.gen(function*() {
      const outcome = yield* run(record("add", { a: "one", b: 2 }))
      assert.strictEqual(outcome._tag, "Failed")
      if (outcome._tag === "Failed") {
        assert.strictEqual(outcome.error.tag, "SerializationError")
        assert.include(outcome.error.message, "payload of task 'add'")
      }
    }))

  it.effect("an unknown task name fails with UnknownTask listing the known ones", () =>
    Effect.gen(function*() {
      const outcome = yield* run(record("ghost", null))
      assert.strictEqual(outcome._tag, "Failed")
      if (outcome._tag === "Failed") {
        assert.strictEqual(outcome.error.tag, "UnknownTask")
        assert.include(outcome.error.message, "ghost")
        assert.include(outcome.error.message, "add, slow, big")
      }
    }))

  it.effect("a handler that outruns its timeout ends as TaskTimeout", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(run(record("slow", null)))
      yield* TestClock.adjust("1 second")
      const outcome = yield* fiber
      assert.strictEqual(outcome._tag, "Failed")
      if (outcome._tag === "Failed") assert.strictEqual(outcome.error.tag, "TaskTimeout")
    }))

  it.effect("retryOutcome gives none when the schedule is done", () =>
    Effect.gen(function*() {
      const lease = { id: "x", owner: "w", attempt: 3 }
      const stored = { tag: "Boom", message: "m", data: null }
      const done = yield* Executor.retryOutcome(Schedule.recurs(2), [0, 10, 20], lease, "e", stored, null)
      assert.isTrue(Option.isNone(done))
      const more = yield* Executor.retryOutcome(Schedule.recurs(2), [0, 10], lease, "e", stored, null)
      assert.isTrue(Option.isSome(more))
    }))
})
