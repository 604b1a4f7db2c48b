/**
 * 04 — Failures and tracebacks: what happens when a task fails.
 *
 * - A handler that fails with its typed failure is retried by its `Schedule` (here: 2 retries
 *   with exponential backoff), then ends `failed`. The record keeps the error's tag and message,
 *   the attempt count and a traceback; `join` gives the failure back, decoded into its class,
 *   inside `TaskFailed`.
 * - A handler that dies (an unexpected exception) is recorded as a `TaskDefect`, with the
 *   exception's stack in the traceback.
 * - A failing task never stops the worker: the next task runs normally.
 *
 * Run: node --conditions=sitq-source --import tsx examples/basic/04_failures_and_tracebacks.ts
 */
import { FileSystem } from "@effect/platform"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Logger, LogLevel, Schedule, Schema } from "effect"
import { Serializer, Task, TaskQueue, Worker } from "sitq"
import { SqliteBackend } from "sitq/sqlite"
import * as path from "node:path"

class DivisionByZero extends Schema.TaggedError<DivisionByZero>()("DivisionByZero", {
  message: Schema.String,
  numerator: Schema.Number
}) {}

const Divide = Task.make("divide", {
  payload: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  success: Schema.Number,
  failure: DivisionByZero,
  retry: Schedule.exponential("100 millis").pipe(Schedule.intersect(Schedule.recurs(2)))
})
const ParseConfig = Task.make("parse_config", { payload: Schema.Struct({ text: Schema.String }), success: Schema.Unknown })

const DivideLive = Task.handler(Divide, ({ a, b }, { attempt }) => {
  console.log(`  [worker] divide(${a}, ${b}), attempt ${attempt}`)
  return b === 0
    ? Effect.fail(new DivisionByZero({ message: `cannot divide ${a} by zero`, numerator: a }))
    : Effect.succeed(a / b)
})
// An unexpected exception: JSON.parse throws, and Effect.sync turns it into a defect.
const ParseConfigLive = Task.handler(ParseConfig, ({ text }) => Effect.sync(() => JSON.parse(text) as unknown))

const program = Effect.gen(function*() {
  const queue = yield* TaskQueue
  const bad = yield* queue.enqueue(Divide, { a: 1, b: 0 })
  const broken = yield* queue.enqueue(ParseConfig, { text: "{ not json" })
  const good = yield* queue.enqueue(Divide, { a: 10, b: 4 })

  const error = yield* Effect.flip(queue.join(Divide, bad, { timeout: "20 seconds" }))
  const failed = yield* queue.get(bad)
  console.log(`\ndivide(1, 0): status=${failed.status} attempts=${failed.attempts}`)
  console.log(`  error: ${failed.error?.tag}: ${failed.error?.message}`)
  if (error._tag === "TaskFailed" && error.failure instanceof DivisionByZero) {
    console.log(`  join failed with TaskFailed; its failure is a DivisionByZero (numerator ${error.failure.numerator})`)
  }
  console.log(`  traceback (first 3 lines):\n${indent(failed.traceback)}`)

  yield* Effect.ignore(queue.join(ParseConfig, broken, { timeout: "20 seconds" }))
  const died = yield* queue.get(broken)
  console.log(`\nparse_config: status=${died.status} attempts=${died.attempts}`)
  console.log(`  error: ${died.error?.tag}: ${died.error?.message}`)
  console.log(`  traceback (first 3 lines):\n${indent(died.traceback)}`)

  console.log(`\ndivide(10, 4) = ${yield* queue.join(Divide, good, { timeout: "20 seconds" })}: the worker went on`)
  const stats = yield* queue.stats()
  console.log(`stats: success=${stats.success} failed=${stats.failed}`)
})

const indent = (text: string | null) =>
  (text ?? "").split("\n").slice(0, 3).map((l) => `    | ${l}`).join("\n")

const TempSqlite = Layer.unwrapScoped(Effect.map(
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped()),
  (dir) => SqliteBackend.layer({ filename: path.join(dir, "tasks.db") })
))

const Live = Worker.layer({ handlers: [DivideLive, ParseConfigLive], concurrency: 1 }).pipe(
  Layer.provideMerge(TaskQueue.layer),
  Layer.provideMerge(TempSqlite),
  Layer.provide(Serializer.json),
  Layer.provide(NodeContext.layer)
)

// The worker logs a warning for each failed task; keep the example's output to its own lines.
program.pipe(Effect.provide(Live), Effect.provide(Logger.minimumLogLevel(LogLevel.Error)), NodeRuntime.runMain)
