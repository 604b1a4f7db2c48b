/**
 * A producer process killed with SIGKILL in the middle of `enqueueMany` leaves each batch whole or
 * absent, and the database file opens cleanly afterwards.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { join } from "node:path"
import { Backend } from "../../src/Backend.js"
import { SqliteBackend } from "../../src/backends/sqlite.js"
import { tempDir } from "./helpers.js"
import { start, waitForLine } from "./processes.js"

describe("SqliteBackend with a producer process", () => {
  it.scopedLive("a producer killed during enqueueMany leaves each batch whole or absent", () =>
    Effect.gen(function*() {
      const size = 20_000
      let cutMidBatch = 0
      for (const delay of [0, 40, 90, 150]) {
        const dir = yield* tempDir
        const filename = join(dir, "tasks.db")
        const producer = yield* start("sqlite-producer.ts", {
          SITQ_DB: filename,
          SITQ_BATCH: String(size),
          SITQ_BATCHES: "100"
        })
        yield* waitForLine(producer, /^start 1$/, 30_000)
        yield* Effect.sleep(delay)
        yield* producer.kill
        const started = producer.lines.flatMap((l) => l.startsWith("start ") ? [Number(l.slice(6))] : [])
        const done = new Set(producer.lines.flatMap((l) => l.startsWith("done ") ? [Number(l.slice(5))] : []))
        // the file opens cleanly after the crash, and each batch is all there or not at all
        yield* Effect.scoped(Effect.gen(function*() {
          const backend = yield* Effect.provide(Backend, yield* Layer.build(SqliteBackend.layer({ filename })))
          for (const k of started) {
            const stats = yield* backend.stats(`b${k}`)
            const stored = stats.pending + stats.in_progress + stats.success + stats.failed + stats.cancelled
            if (done.has(k)) assert.strictEqual(stored, size, `batch ${k} was committed`)
            else {
              assert.include([0, size], stored, `batch ${k} was cut by the kill`)
              cutMidBatch++
            }
          }
          const total = yield* backend.stats()
          assert.strictEqual(total.pending % size, 0)
        }))
      }
      // the kills did land while a batch was being enqueued
      assert.isAbove(cutMidBatch, 0)
    }), 60_000)
})
