/**
 * 02 — ETA and delayed execution: run a task at a given time, or after a delay.
 *
 * A task enqueued with `eta` (a `Date`, an instant in UTC) or `delay` (a duration) is `pending`
 * with a future `runAt`; it is not eligible to run until the clock reaches it. The worker does not
 * poll for it: it sleeps until the earliest due time it knows of, so the task starts on time.
 *
 * Run: node --conditions=sitq-source --import tsx examples/basic/02_eta_delayed_execution.ts
 */
import { FileSystem } from "@effect/platform"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Clock, Effect, Layer, Schema } from "effect"
import { Serializer, Task, TaskQueue, Worker } from "sitq"
import { SqliteBackend } from "sitq/sqlite"
import * as path from "node:path"

const Remind = Task.make("remind", { payload: Schema.Struct({ note: Schema.String }), success: Schema.String })

const RemindLive = Task.handler(Remind, ({ note }) =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    console.log(`  [worker] ${new Date(now).toISOString()} running: ${note}`)
    return note
  }))

const program = Effect.gen(function*() {
  const queue = yield* TaskQueue
  const now = yield* Clock.currentTimeMillis
  const eta = new Date(now + 2_000) // an absolute instant; toISOString() shows it in UTC
  console.log(`Now (UTC):            ${new Date(now).toISOString()}`)

  const immediate = yield* queue.enqueue(Remind, { note: "now" })
  const delayed = yield* queue.enqueue(Remind, { note: "after a 1 second delay" }, { delay: "1 second" })
  const scheduled = yield* queue.enqueue(Remind, { note: `at the ETA ${eta.toISOString()}` }, { eta })

  for (const id of [immediate, delayed, scheduled]) {
    const t = yield* queue.get(id)
    console.log(`Enqueued ${t.id.slice(0, 13)}…  runAt ${new Date(t.runAt).toISOString()}  status ${t.status}`)
  }

  yield* Effect.sleep("500 millis")
  console.log(`After 0.5 s: delayed is ${(yield* queue.get(delayed)).status}, scheduled is ${(yield* queue.get(scheduled)).status} (not yet eligible)`)

  for (const id of [immediate, delayed, scheduled]) yield* queue.join(Remind, id, { timeout: "10 seconds" })
  console.log("All three ran. Start time versus due time:")
  for (const id of [immediate, delayed, scheduled]) {
    const t = yield* queue.get(id)
    const late = (t.startedAt ?? 0) - t.runAt
    console.log(`  due ${new Date(t.runAt).toISOString()}  started ${new Date(t.startedAt ?? 0).toISOString()}  (+${late} ms)  ${t.status}`)
    if (late < 0) return yield* Effect.dieMessage("a task started before it was due")
  }
})

const TempSqlite = Layer.unwrapScoped(Effect.map(
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped()),
  (dir) => SqliteBackend.layer({ filename: path.join(dir, "tasks.db") })
))

const Live = Worker.layer({ handlers: [RemindLive], pollInterval: "30 seconds" }).pipe(
  Layer.provideMerge(TaskQueue.layer),
  Layer.provideMerge(TempSqlite),
  Layer.provide(Serializer.json),
  Layer.provide(NodeContext.layer)
)

program.pipe(Effect.provide(Live), NodeRuntime.runMain)
