/**
 * A producer that starts the worker process of worker.ts, as a deployment would run it: the
 * producer enqueues on a SQLite file, the worker (another process on the same file) runs the tasks,
 * the producer joins their typed results, then stops the worker with SIGTERM and checks that it
 * shut down gracefully (exit code 0).
 *
 * Run: node --conditions=sitq-source --import tsx examples/worker-process/producer.ts
 */
import { Command, FileSystem } from "@effect/platform"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Stream } from "effect"
import { Serializer, TaskQueue } from "sitq"
import { SqliteBackend } from "sitq/sqlite"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Resize } from "./tasks.js"

// worker.ts next to this file (worker.js once compiled).
const self = fileURLToPath(import.meta.url)
const workerFile = path.join(path.dirname(self), `worker${path.extname(self)}`)

const produce = (filename: string) =>
  Effect.gen(function*() {
    const queue = yield* TaskQueue
    const ids = yield* queue.enqueueMany(Resize, [
      { image: "cat.png", width: 320 },
      { image: "dog.png", width: 640 },
      { image: "owl.png", width: 1280 }
    ])
    yield* Console.log(`Enqueued ${ids.length} tasks; starting the worker process`)

    // The same Node flags as this process (in this repository: the TypeScript loader).
    const worker = yield* Command.make(process.execPath, ...process.execArgv, workerFile).pipe(
      Command.env({ SITQ_DB: filename }),
      Command.start
    )
    yield* worker.stdout.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach((line) => Console.log(`  [worker] ${line}`)),
      Effect.forkScoped
    )

    const results = yield* Effect.forEach(ids, (id) => queue.join(Resize, id, { timeout: "30 seconds" }))
    yield* Console.log(`Results: ${results.join(", ")}`)

    yield* worker.kill("SIGTERM")
    const code = yield* worker.exitCode
    yield* Console.log(`Worker exited with code ${code} after SIGTERM`)
  })

Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "sitq-worker-process-" })
  const filename = path.join(dir, "tasks.db")
  yield* produce(filename).pipe(
    Effect.provide(TaskQueue.layer.pipe(Layer.provideMerge(SqliteBackend.layer({ filename })), Layer.provide(Serializer.json)))
  )
  yield* Console.log("Done!")
}).pipe(Effect.scoped, Effect.provide(NodeContext.layer), NodeRuntime.runMain)
