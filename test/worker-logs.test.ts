/**
 * What a worker logs (issue 15, item 4): each failed attempt at warning with its task, attempt and
 * next run time; one line per task released at shutdown. Captured by a test Logger.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, HashMap, Layer, Logger, LogLevel, Schedule, Schema, Scope, TestClock } from "effect"
import { MemoryBackend, Serializer, Task, TaskQueue, Worker } from "../src/index.js"

class Boom extends Schema.TaggedError<Boom>()("Boom", { message: Schema.String }) {}

interface Entry {
  readonly level: string
  readonly message: string
  readonly annotations: Record<string, unknown>
}

const captureLogs = () => {
  const entries: Array<Entry> = []
  const logger = Logger.make<unknown, void>(({ annotations, logLevel, message }) => {
    entries.push({
      level: logLevel.label,
      message: Array.isArray(message) ? message.join(" ") : String(message),
      annotations: Object.fromEntries(HashMap.toEntries(annotations))
    })
  })
  return { entries, layer: Logger.replace(Logger.defaultLogger, logger) }
}

const Env = TaskQueue.layer.pipe(Layer.provideMerge(MemoryBackend.layer), Layer.provideMerge(Serializer.json))

const Flaky = Task.make("flaky", {
  failure: Boom,
  retry: Schedule.spaced("1 minute").pipe(Schedule.intersect(Schedule.recurs(1)))
})
const FlakyLive = Task.handler(Flaky, () => Effect.fail(new Boom({ message: "it broke" })))

describe("worker logs", () => {
  it.scoped("each failed attempt is logged at warning with task id, name, attempt and next run time", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const queue = yield* TaskQueue
      const id = yield* queue.enqueue(Flaky)
      yield* Worker.drain({ handlers: [FlakyLive] })
      const pending = yield* queue.get(id)
      assert.strictEqual(pending.status, "pending")
      const first = logs.entries.filter((e) => e.annotations.task === id)
      assert.strictEqual(first.length, 1)
      assert.strictEqual(first[0]!.level, "WARN")
      assert.strictEqual(first[0]!.annotations.name, "flaky")
      assert.strictEqual(first[0]!.annotations.attempt, 1)
      assert.strictEqual(first[0]!.annotations.error, "it broke")
      assert.strictEqual(first[0]!.annotations.nextRunAt, new Date(pending.runAt).toISOString())
      assert.include(first[0]!.message, "attempt 1 failed")
      // The last attempt is logged too, with no next run.
      yield* TestClock.adjust("1 minute")
      yield* Worker.drain({ handlers: [FlakyLive] })
      const all = logs.entries.filter((e) => e.annotations.task === id)
      assert.strictEqual(all.length, 2)
      assert.strictEqual(all[1]!.level, "WARN")
      assert.strictEqual(all[1]!.annotations.attempt, 2)
      assert.strictEqual(all[1]!.annotations.nextRunAt, "none")
      assert.include(all[1]!.message, "failed after 2 attempt(s)")
    }).pipe(Effect.provide(Env), Effect.provide(logs.layer))
  })

  it.scoped("failureLogLevel lowers the level of failed attempts", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const queue = yield* TaskQueue
      const id = yield* queue.enqueue(Flaky)
      yield* Worker.drain({ handlers: [FlakyLive], failureLogLevel: LogLevel.Debug })
      const entries = logs.entries.filter((e) => e.annotations.task === id)
      assert.deepStrictEqual(entries.map((e) => e.level), ["DEBUG"])
    }).pipe(Effect.provide(Env), Effect.provide(logs.layer), Logger.withMinimumLogLevel(LogLevel.All))
  })

  it.scoped("shutdown logs one line per task it released, with its id and name", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const queue = yield* TaskQueue
      const Forever = Task.make("forever", { payload: Schema.Number })
      const started = yield* Deferred.make<void>()
      const handler = Task.handler(Forever, () => Effect.zipRight(Deferred.succeed(started, undefined), Effect.never))
      const ids = yield* queue.enqueueMany(Forever, [1, 2])
      const scope = yield* Scope.make()
      yield* Worker.make({ handlers: [handler], shutdownTimeout: 0 }).pipe(Scope.extend(scope))
      yield* Deferred.await(started)
      for (let i = 0; i < 100 && (yield* queue.stats()).in_progress < 2; i++) yield* TestClock.adjust("10 millis")
      yield* Scope.close(scope, Exit.void)
      const released = logs.entries.filter((e) => e.message.includes("released task"))
      assert.deepStrictEqual(released.map((e) => e.annotations.task).sort(), [...ids].sort())
      for (const e of released) {
        assert.strictEqual(e.annotations.name, "forever")
        assert.strictEqual(e.level, "INFO")
      }
      assert.strictEqual((yield* queue.stats()).pending, 2)
    }).pipe(Effect.provide(Env), Effect.provide(logs.layer))
  })
})
