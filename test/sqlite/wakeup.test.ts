/**
 * A worker wakes at once for a task enqueued in its own process, even when the producer built its
 * own `SqliteBackend` layer on the same file: the layers share one event hub. The worker's poll
 * interval is an hour, so only the push can start the task in time (the second test shows that a
 * task written without a push indeed waits).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { createRequire } from "node:module"
import { SqliteBackend } from "../../src/backends/sqlite.js"
import { Serializer } from "../../src/Serializer.js"
import * as Task from "../../src/Task.js"
import { TaskQueue } from "../../src/TaskQueue.js"
import { Worker } from "../../src/Worker.js"
import { tempFile } from "./helpers.js"

/** better-sqlite3 itself, as another process would use it (it ships no types here). */
const Database = createRequire(import.meta.url)("better-sqlite3") as new(filename: string) => {
  prepare(sql: string): { run(...params: ReadonlyArray<unknown>): unknown }
  close(): void
}

const Double = Task.make("double", { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Number })
const DoubleLive = Task.handler(Double, ({ n }) => Effect.succeed(n * 2))

describe("SqliteBackend wake-ups within a process", () => {
  it.scopedLive("a worker on its own layer starts a task enqueued through another layer at once", () =>
    Effect.gen(function*() {
      const filename = yield* tempFile
      const producer = yield* Layer.build(
        TaskQueue.layer.pipe(Layer.provide(SqliteBackend.layer({ filename })), Layer.provide(Serializer.json))
      )
      yield* Layer.build(
        Worker.layer({ handlers: [DoubleLive], pollInterval: "1 hour" }).pipe(
          Layer.provide(SqliteBackend.layer({ filename })),
          Layer.provide(Serializer.json)
        )
      )
      const queue = yield* Effect.provide(TaskQueue, producer)
      // let the idle worker settle into its (hour-long) wait
      yield* Effect.sleep("200 millis")
      for (const n of [1, 2, 3]) {
        const id = yield* queue.enqueue(Double, { n })
        const result = yield* queue.join(Double, id, { timeout: "3 seconds" })
        assert.strictEqual(result, n * 2)
      }
    }))

  it.scopedLive("a task written by another connection (no push) waits for the next wake-up", () =>
    Effect.gen(function*() {
      const filename = yield* tempFile
      const producer = yield* Layer.build(
        TaskQueue.layer.pipe(Layer.provide(SqliteBackend.layer({ filename })), Layer.provide(Serializer.json))
      )
      yield* Layer.build(
        Worker.layer({ handlers: [DoubleLive], pollInterval: "1 hour" }).pipe(
          Layer.provide(SqliteBackend.layer({ filename })),
          Layer.provide(Serializer.json)
        )
      )
      const queue = yield* Effect.provide(TaskQueue, producer)
      yield* Effect.sleep("200 millis")
      // as another process would: straight into the file, no event in this process
      const db = new Database(filename)
      db.prepare(
        `INSERT INTO sitq_tasks (id, queue, name, payload, priority, status, run_at, attempts, enqueued_at)
         VALUES ('raw-1', 'default', 'double', ?, 2, 'pending', 0, 0, 0)`
      ).run(Buffer.from(JSON.stringify({ n: 20 })))
      db.close()
      const waited = yield* Effect.flip(queue.join(Double, "raw-1", { timeout: "500 millis" }))
      assert.strictEqual(waited._tag, "ResultTimeout")
      // any push wakes the worker, which then claims everything due, the raw task included
      const id = yield* queue.enqueue(Double, { n: 1 })
      assert.strictEqual(yield* queue.join(Double, id, { timeout: "3 seconds" }), 2)
      assert.strictEqual(yield* queue.join(Double, "raw-1", { timeout: "3 seconds" }), 40)
    }))
})
