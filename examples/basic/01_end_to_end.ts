/**
 * 01 — End to end: define a task, enqueue it, let a worker run it, read its result.
 *
 * Shows the whole life of a task on the embedded SQLite backend: it is `pending` when enqueued,
 * `in_progress` while the worker runs it, `success` when done, and its typed result comes back
 * through `join` (and untyped through `getResult`).
 *
 * Run: node --conditions=sitq-source --import tsx examples/basic/01_end_to_end.ts
 */
import { FileSystem } from "@effect/platform"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Deferred, Effect, Layer, Schedule, Schema } from "effect"
import { Serializer, Task, TaskQueue, Worker } from "sitq"
import { SqliteBackend } from "sitq/sqlite"
import * as path from "node:path"

// 1. A task definition: its name and the schemas of its payload and result.
const SayHello = Task.make("say_hello", {
  payload: Schema.Struct({ name: Schema.String }),
  success: Schema.String
})

// 2. The program: enqueue, watch the status change, wait for the result.
const program = (release: Deferred.Deferred<void>) =>
  Effect.gen(function*() {
    const queue = yield* TaskQueue
    const id = yield* queue.enqueue(SayHello, { name: "World" })
    console.log(`Task ${id} enqueued; status: ${(yield* queue.get(id)).status}`)

    // The handler below holds the task until we have seen it running.
    yield* Effect.repeat(queue.get(id), { schedule: Schedule.spaced("10 millis"), until: (t) => t.status === "in_progress" })
    console.log(`Worker picked it up; status: in_progress`)
    yield* Deferred.succeed(release, undefined)

    const greeting = yield* queue.join(SayHello, id, { timeout: "10 seconds" })
    const info = yield* queue.get(id)
    console.log(`Status: ${info.status} after ${info.attempts} attempt(s)`)
    console.log(`Task return value: ${greeting}`)
    const raw = yield* queue.getResult(id)
    console.log(`getResult: status=${raw.status} value=${JSON.stringify(raw.value)}`)
  })

// 3. The handler (only workers need it), then the layers: a worker, the client, a backend in a
//    temporary SQLite file that is removed at the end, and the JSON serializer.
const main = Effect.gen(function*() {
  const release = yield* Deferred.make<void>()
  const SayHelloLive = Task.handler(SayHello, ({ name }) =>
    Effect.gen(function*() {
      console.log(`Hello, ${name}!  (running in the worker)`)
      yield* Deferred.await(release)
      return `Greetings, ${name}!`
    }))
  const TempSqlite = Layer.unwrapScoped(Effect.map(
    Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped()),
    (dir) => SqliteBackend.layer({ filename: path.join(dir, "tasks.db") })
  ))
  const Live = Worker.layer({ handlers: [SayHelloLive], concurrency: 1 }).pipe(
    Layer.provideMerge(TaskQueue.layer),
    Layer.provideMerge(TempSqlite),
    Layer.provide(Serializer.json),
    Layer.provide(NodeContext.layer)
  )
  yield* program(release).pipe(Effect.provide(Live))
  console.log("Done!")
})

main.pipe(NodeRuntime.runMain)
