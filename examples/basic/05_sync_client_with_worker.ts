/**
 * 05 — The Promise client with a worker: sitq from code that does not use Effect.
 *
 * `sitq/promise` is the counterpart of the Python original's `SyncTaskQueue`: plain async/await,
 * no Effect in sight. Here a "web app" (the producer) and a "worker process" (the consumer) are
 * two independent components that share one SQLite database file: the producer opens its own
 * queue on the file and enqueues; the worker, opened separately on the same file, runs the tasks;
 * the producer reads the results back. Errors are the same tagged errors as in the Effect API.
 *
 * Run: node --conditions=sitq-source --import tsx examples/basic/05_sync_client_with_worker.ts
 */
import { Schema } from "effect"
import { Task } from "sitq"
import { open, promiseHandler } from "sitq/promise"
import { SqliteBackend } from "sitq/sqlite"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"

const Add = Task.make("add", {
  payload: Schema.Struct({ x: Schema.Number, y: Schema.Number }),
  success: Schema.Number
})

const dir = mkdtempSync(path.join(tmpdir(), "sitq-example-"))
const filename = path.join(dir, "shared.db")

try {
  // The worker component: its own queue on the shared file, and a handler written as an async function.
  const workerSide = await open({ backend: SqliteBackend.layer({ filename }) })
  const worker = workerSide.worker({
    handlers: [promiseHandler(Add, async ({ x, y }) => {
      console.log(`  [worker] add(${x}, ${y})`)
      return x + y
    })],
    concurrency: 2,
    pollInterval: "100 millis"
  })
  await worker.start()
  console.log("Worker started on", path.basename(filename))

  // The producer component: no Effect code, just promises.
  const app = await open({ backend: SqliteBackend.layer({ filename }) })
  const id = await app.enqueue(Add, { x: 5, y: 10 })
  console.log(`Task ${id} enqueued.`)
  const result = await app.getResult(id, { timeout: "10 seconds" })
  console.log(`Result received: ${result.status}, value ${JSON.stringify(result.value)}`)
  const typed: number = await app.join(Add, id)
  console.log(`join gives the typed value: ${typed}`)

  const ids = await app.enqueueMany(Add, [{ x: 1, y: 2 }, { x: 3, y: 4 }, { x: 5, y: 6 }])
  const sums = await Promise.all(ids.map((i) => app.join(Add, i, { timeout: "10 seconds" })))
  console.log(`Three more, run by the same worker: ${sums.join(", ")}`)

  const missing = await app.getResult("no-such-id").catch((error: { _tag: string; message: string }) => error)
  console.log(`An unknown id rejects with a tagged error: ${"_tag" in missing ? missing._tag : "?"}`)

  await worker.stop()
  await workerSide.close()
  await app.close()
  console.log("Done!")
} finally {
  rmSync(dir, { recursive: true, force: true })
}
