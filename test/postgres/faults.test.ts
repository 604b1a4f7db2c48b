/**
 * Faults with real worker processes on the real server: a worker killed with SIGKILL mid-task
 * (its tasks run again elsewhere once the lease expires, not before), and a worker whose
 * connections are terminated by the server while it runs (it logs, reconnects, and goes on; no
 * task is lost or run twice).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Work } from "../fixtures/postgres-worker-task.js"
import { runCounts, settledRunCounts, store, waitUntil, worker } from "./processes.js"

interface Run {
  readonly task_id: string
  readonly attempt: number
  readonly worker: string
  readonly started_at: number
}

describe("PostgresBackend faults", () => {
  it.live("a worker killed with SIGKILL mid-task: its tasks run again elsewhere after the lease", () =>
    Effect.gen(function*() {
      const s = yield* store
      const leaseMs = 5_000
      const ids = yield* s.queue.enqueueMany(Work, Array.from({ length: 5 }, (_, n) => ({ n })))
      const a = yield* worker(s.schema, "sitq-kill-a", { SITQ_HANG: "1", SITQ_LEASE_MS: String(leaseMs) })
      yield* waitUntil("worker A to start all tasks", Effect.map(runCounts(s.pg, s.schema), (r) => r.rows === 5), "20 seconds")
      a.process.kill("SIGKILL")
      yield* waitUntil("worker A to die", Effect.sync(() => a.process.signalCode === "SIGKILL"), "5 seconds")
      assert.strictEqual((yield* s.queue.stats()).in_progress, 5)
      yield* worker(s.schema, "sitq-kill-b", { SITQ_LEASE_MS: String(leaseMs), SITQ_POLL_MS: "10000" })
      yield* waitUntil("the tasks to succeed on worker B", Effect.map(s.queue.stats(), (st) => st.success === 5), "30 seconds")
      assert.deepStrictEqual(yield* settledRunCounts(s.pg, s.schema, 10), { rows: 10, tasks: 5 })
      const runs = yield* s.pg.unsafe<Run>(
        `SELECT task_id, attempt, worker, started_at::float8 AS started_at FROM "${s.schema}".runs ORDER BY task_id, attempt`
      ).withoutTransform
      assert.strictEqual(runs.length, 10)
      for (const id of ids) {
        const mine = runs.filter((r) => r.task_id === id)
        assert.deepStrictEqual(mine.map((r) => [r.attempt, r.worker]), [[1, "sitq-kill-a"], [2, "sitq-kill-b"]])
        // Not before A's lease expired (A claimed shortly before its run started).
        assert.isAtLeast(mine[1].started_at - mine[0].started_at, leaseMs - 200)
        const info = yield* s.queue.get(id)
        assert.strictEqual(info.attempts, 2)
      }
    }).pipe(Effect.scoped), 60_000)

  it.live("a cancel in one process interrupts the task running in another within milliseconds", () =>
    Effect.gen(function*() {
      const s = yield* store
      yield* worker(s.schema, "sitq-cancel", { SITQ_HANG: "1", SITQ_POLL_MS: "10000" })
      const id = yield* s.queue.enqueue(Work, { n: 1 })
      yield* waitUntil("the task to start", Effect.map(runCounts(s.pg, s.schema), (r) => r.rows === 1), "10 seconds")
      const t0 = Date.now()
      assert.isTrue(yield* s.queue.cancel(id))
      const interrupted = s.pg.unsafe<{ task_id: string; worker: string }>(
        `SELECT task_id, worker FROM "${s.schema}".interrupts`
      ).withoutTransform
      yield* waitUntil("the handler to be interrupted", Effect.map(interrupted, (r) => r.length === 1), "5 seconds")
      const elapsed = Date.now() - t0
      console.log(`cross-process cancel to interruption: ${elapsed} ms (incl. 50 ms polls of this check)`)
      assert.deepStrictEqual(yield* interrupted, [{ task_id: id, worker: "sitq-cancel" }])
      assert.isBelow(elapsed, 1_000)
      const info = yield* s.queue.get(id)
      assert.strictEqual(info.status, "cancelled")
      assert.strictEqual(info.leaseOwner, null)
    }).pipe(Effect.scoped), 60_000)

  it.live("pg_terminate_backend on a running worker's connections: it logs, reconnects and goes on", () =>
    Effect.gen(function*() {
      const s = yield* store
      const appName = `sitq-term-${s.schema.slice(-8)}`
      const total = 400
      const w = yield* worker(s.schema, appName, {
        SITQ_TASK_MS: "40",
        SITQ_CONCURRENCY: "10",
        SITQ_LEASE_MS: "4000",
        SITQ_POLL_MS: "10000"
      })
      yield* s.queue.enqueueMany(Work, Array.from({ length: total }, (_, n) => ({ n })))
      yield* waitUntil("the first tasks to run", Effect.map(runCounts(s.pg, s.schema), (r) => r.rows >= 20), "20 seconds")
      const terminate = s.pg.unsafe<{ n: number }>(
        `SELECT count(pg_terminate_backend(pid))::int4 AS n FROM pg_stat_activity WHERE application_name = $1`,
        [appName]
      ).withoutTransform.pipe(Effect.map((r) => r[0].n))
      let killed = 0
      for (let i = 0; i < 3; i++) {
        killed += yield* terminate
        yield* Effect.sleep("300 millis")
      }
      assert.isAtLeast(killed, 3)
      yield* waitUntil("all tasks to succeed", Effect.map(s.queue.stats(), (st) => st.success === total), "40 seconds")
      assert.deepStrictEqual(yield* s.queue.stats(), { pending: 0, in_progress: 0, success: total, failed: 0, cancelled: 0 })
      // Every task ran exactly once.
      assert.deepStrictEqual(yield* settledRunCounts(s.pg, s.schema, total), { rows: total, tasks: total })
      // The worker noticed, and its LISTEN connection came back: a new task starts without polling.
      yield* waitUntil("the listener to reconnect", Effect.sync(() => w.output().includes("listener reconnected")), "15 seconds")
      assert.include(w.output(), "listener lost")
      if (process.env.SITQ_TEST_VERBOSE === "1") console.log(w.output())
      const t0 = Date.now()
      yield* s.queue.enqueue(Work, { n: -1 })
      yield* waitUntil("the new task to run", Effect.map(runCounts(s.pg, s.schema), (r) => r.rows === total + 1), "5 seconds")
      assert.isBelow(Date.now() - t0, 2_000)
    }).pipe(Effect.scoped), 90_000)
})
