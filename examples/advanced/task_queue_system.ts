/**
 * A task queue system: priorities, a scheduled task, retries, three workers and statistics.
 *
 * Eight tasks of four kinds go into one SQLite queue before any worker runs: a CRITICAL alert,
 * HIGH-priority emails and a report, NORMAL image jobs, a LOW newsletter, a cleanup scheduled two
 * seconds ahead, and a call to a flaky external API that fails twice before it succeeds (its
 * retry schedule allows up to 3 retries). Three workers, each running one task at a time, take
 * them highest priority first; the scheduled cleanup waits for its time; the flaky call is retried
 * with backoff. The queue's statistics are printed before and after, then the most recently
 * completed tasks.
 *
 * Run: node --conditions=sitq-source --import tsx examples/advanced/task_queue_system.ts
 */
import { FileSystem } from "@effect/platform"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Logger, LogLevel, Ref, Schedule, Schema } from "effect"
import { Priority, Serializer, Task, TaskQueue, Worker } from "sitq"
import { SqliteBackend } from "sitq/sqlite"
import * as path from "node:path"

class ApiUnavailable extends Schema.TaggedError<ApiUnavailable>()("ApiUnavailable", { message: Schema.String }) {}

const SendEmail = Task.make("send_email", {
  payload: Schema.Struct({ to: Schema.String, subject: Schema.String }),
  priority: Priority.HIGH
})
const GenerateReport = Task.make("generate_report", { payload: Schema.Struct({ name: Schema.String }), priority: Priority.HIGH })
const ProcessImage = Task.make("process_image", { payload: Schema.Struct({ file: Schema.String }) })
const Alert = Task.make("alert", { payload: Schema.Struct({ text: Schema.String }), priority: Priority.CRITICAL })
const Newsletter = Task.make("send_newsletter", { payload: Schema.Struct({ issue: Schema.Number }), priority: Priority.LOW })
const Cleanup = Task.make("cleanup", { payload: Schema.Struct({ older_than_days: Schema.Number }), priority: Priority.LOW })
const CallApi = Task.make("external_api", {
  payload: Schema.Struct({ endpoint: Schema.String }),
  failure: ApiUnavailable,
  retry: Schedule.exponential("200 millis").pipe(Schedule.intersect(Schedule.recurs(3)))
})

const priorityName = (p: number) => Object.entries(Priority).find(([, v]) => v === p)?.[0] ?? String(p)

const main = Effect.gen(function*() {
  const apiCalls = yield* Ref.make(0)
  const work = (label: string, ms: number) =>
    Effect.gen(function*() {
      console.log(`  ⚙  ${label}`)
      yield* Effect.sleep(`${ms} millis`)
    })
  const handlers = [
    Task.handler(SendEmail, ({ subject, to }) => work(`sending email to ${to}: ${subject}`, 150)),
    Task.handler(GenerateReport, ({ name }) => work(`generating report ${name}`, 300)),
    Task.handler(ProcessImage, ({ file }) => work(`processing image ${file}`, 200)),
    Task.handler(Alert, ({ text }) => work(`ALERT: ${text}`, 50)),
    Task.handler(Newsletter, ({ issue }) => work(`sending newsletter #${issue}`, 100)),
    Task.handler(Cleanup, ({ older_than_days }) => work(`cleaning up data older than ${older_than_days} days`, 100)),
    Task.handler(CallApi, ({ endpoint }) =>
      Effect.flatMap(Ref.updateAndGet(apiCalls, (n) => n + 1), (n) =>
        n < 3
          ? Effect.zipRight(
            work(`calling ${endpoint} (attempt ${n}): unavailable`, 50),
            Effect.fail(new ApiUnavailable({ message: `${endpoint} answered 503` }))
          )
          : work(`calling ${endpoint} (attempt ${n}): ok`, 50)))
  ]

  const program = Effect.gen(function*() {
    const queue = yield* TaskQueue
    console.log("=".repeat(60))
    console.log("Task Queue System Demo")
    console.log("=".repeat(60))
    console.log("\nEnqueueing tasks...")
    const show = (task: Task.Any, delay = "") => (id: string) =>
      Effect.sync(() =>
        console.log(`  + ${task.name.padEnd(16)} priority ${priorityName(task.priority).padEnd(8)} ${delay.padEnd(12)} ${id.slice(0, 13)}…`)
      )
    yield* queue.enqueue(SendEmail, { to: "user@example.com", subject: "Welcome!" }).pipe(Effect.tap(show(SendEmail)))
    yield* queue.enqueue(GenerateReport, { name: "sales-2026-11" }).pipe(Effect.tap(show(GenerateReport)))
    for (const file of ["a.png", "b.png", "c.png"]) {
      yield* queue.enqueue(ProcessImage, { file }).pipe(Effect.tap(show(ProcessImage)))
    }
    yield* queue.enqueue(Newsletter, { issue: 42 }).pipe(Effect.tap(show(Newsletter)))
    yield* queue.enqueue(Cleanup, { older_than_days: 30 }, { delay: "2 seconds" }).pipe(Effect.tap(show(Cleanup, "in 2 seconds")))
    yield* queue.enqueue(CallApi, { endpoint: "https://api.example.com/sync" }).pipe(Effect.tap(show(CallApi)))
    yield* queue.enqueue(Alert, { text: "disk almost full" }).pipe(Effect.tap(show(Alert)))

    const before = yield* queue.stats()
    console.log("\nInitial queue stats:")
    for (const [status, n] of Object.entries(before)) if (n > 0) console.log(`  ${status}: ${n}`)

    console.log("\nStarting 3 workers (one task at a time each)...\n")
    yield* Effect.scoped(Effect.gen(function*() {
      for (let i = 1; i <= 3; i++) yield* Worker.make({ handlers, concurrency: 1, workerId: `Worker-${i}` })
      // Wait until nothing is pending or running (the scheduled cleanup included).
      yield* Effect.repeat(queue.stats(), {
        schedule: Schedule.spaced("100 millis"),
        until: (s) => s.pending === 0 && s.in_progress === 0
      }).pipe(Effect.timeout("20 seconds"))
    }))

    const after = yield* queue.stats()
    console.log("\n" + "=".repeat(60))
    console.log("Final queue stats:")
    for (const [status, n] of Object.entries(after)) if (n > 0) console.log(`  ${status}: ${n}`)
    const api = (yield* queue.list({ name: "external_api" }))[0]
    console.log(`\nThe flaky API call: ${api?.status} after ${api?.attempts} attempts`)
    console.log("\nRecently completed tasks:")
    const done = yield* queue.list({ status: "success" })
    const recent = [...done].sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0)).slice(0, 5)
    for (const t of recent) {
      console.log(`  ✓ ${t.name.padEnd(16)} finished ${new Date(t.finishedAt ?? 0).toISOString()}`)
    }
    console.log("\nDemo completed successfully!")
  })

  const TempSqlite = Layer.unwrapScoped(Effect.map(
    Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped()),
    (dir) => SqliteBackend.layer({ filename: path.join(dir, "tasks.db") })
  ))
  yield* program.pipe(Effect.provide(TaskQueue.layer.pipe(
    Layer.provideMerge(TempSqlite),
    Layer.provideMerge(Serializer.json),
    Layer.provide(NodeContext.layer)
  )))
})

main.pipe(Effect.provide(Logger.minimumLogLevel(LogLevel.Error)), NodeRuntime.runMain)
