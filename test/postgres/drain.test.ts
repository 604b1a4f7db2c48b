/**
 * Real worker processes on the real server: four processes drain 20,000 tasks with every task run
 * exactly once; an idle worker in another process starts a new task within milliseconds
 * (LISTEN/NOTIFY wake-ups, not polling).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Work } from "../fixtures/postgres-worker-task.js"
import { runCounts, settledRunCounts, store, waitUntil, worker } from "./processes.js"

describe("PostgresBackend with worker processes", () => {
  it.live("four processes drain 20,000 tasks; each runs exactly once", () =>
    Effect.gen(function*() {
      const s = yield* store
      const total = 20_000
      for (let i = 0; i < total; i += 2_000) {
        yield* s.queue.enqueueMany(Work, Array.from({ length: 2_000 }, (_, j) => ({ n: i + j })))
      }
      assert.strictEqual((yield* s.queue.stats()).pending, total)
      const t0 = Date.now()
      yield* Effect.all(
        Array.from({ length: 4 }, (_, w) => worker(s.schema, `sitq-drain-${w}`, { SITQ_CONCURRENCY: "50" })),
        { concurrency: "unbounded" }
      )
      yield* waitUntil(
        "all tasks to succeed",
        Effect.map(s.queue.stats(), (st) => st.success === total),
        "70 seconds"
      )
      const seconds = (Date.now() - t0) / 1000
      const stats = yield* s.queue.stats()
      assert.deepStrictEqual(stats, { pending: 0, in_progress: 0, success: total, failed: 0, cancelled: 0 })
      const runs = yield* settledRunCounts(s.pg, s.schema, total)
      assert.deepStrictEqual(runs, { rows: total, tasks: total })
      const perWorker = yield* s.pg.unsafe<{ worker: string; n: number }>(
        `SELECT worker, count(*)::int4 AS n FROM "${s.schema}".runs GROUP BY worker ORDER BY worker`
      ).withoutTransform
      // Every process took part.
      assert.strictEqual(perWorker.length, 4)
      console.log(`drained ${total} tasks with 4 processes in ${seconds.toFixed(1)} s (incl. process start)`, perWorker)
    }).pipe(Effect.scoped), 90_000)

  it.live("an idle worker in another process starts a new task within milliseconds", () =>
    Effect.gen(function*() {
      const s = yield* store
      // Polling every 10 s: only a NOTIFY can explain a fast start.
      yield* worker(s.schema, "sitq-latency", { SITQ_POLL_MS: "10000" })
      yield* Effect.sleep("300 millis")
      const n = 40
      for (let i = 0; i < n; i++) {
        yield* s.queue.enqueue(Work, { n: i })
        yield* Effect.sleep("25 millis")
      }
      yield* waitUntil("all tasks to run", Effect.map(runCounts(s.pg, s.schema), (r) => r.rows === n), "10 seconds")
      const rows = yield* s.pg.unsafe<{ d: number }>(
        `SELECT (started_at - enqueued_at)::int4 AS d FROM "${s.schema}".runs ORDER BY d`
      ).withoutTransform
      const latencies = rows.map((r) => r.d)
      const p50 = latencies[Math.floor(n / 2)]
      const p90 = latencies[Math.floor(n * 0.9)]
      console.log(`cross-process enqueue-to-start: p50 ${p50} ms, p90 ${p90} ms, max ${latencies[n - 1]} ms`)
      // The worker polls every 10 s: only a NOTIFY wakes it this fast. Measured here: p50 8 ms with a
      // few other suites running, 31 ms with the whole test run competing for the two cores; the
      // bound is for the latter, the benchmark measures the former on a quiet machine.
      assert.isBelow(p50, 250)
    }).pipe(Effect.scoped), 30_000)
})
