/**
 * With hundreds of thousands of finished tasks in the table, the hot statements stay on their
 * partial indexes: the plans the backend actually runs (`EXPLAIN` of its own SQL) never scan the
 * table, and a claim takes the right tasks quickly.
 */
import { assert, describe, it } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { Effect } from "effect"
import { PostgresBackend } from "../../src/backends/postgres.js"
import { statements } from "../../src/backends/postgres/statements.js"
import { client, dropOnClose, freshSchema } from "./helpers.js"

describe("PostgresBackend at scale", () => {
  it.live("claim, nextWakeAt, heartbeat, settle and purge use the partial indexes with 300k finished tasks", () =>
    Effect.gen(function*() {
      const schema = freshSchema()
      const pg = yield* client()
      yield* dropOnClose(pg, schema)
      const b = yield* PostgresBackend.make({ schema }).pipe(Effect.provideService(PgClient.PgClient, pg))
      const T = `"${schema}".tasks`
      yield* pg.unsafe(`INSERT INTO ${T} (id, queue, name, payload, priority, status, run_at, enqueued_at, finished_at, result)
        SELECT 'f' || g, 'default', 'done', '\\x7b7d', 2, 'success', g, g, g + 10, '\\x31' FROM generate_series(1, 300000) g`).raw
      yield* pg.unsafe(`INSERT INTO ${T} (id, queue, name, payload, priority, status, run_at, enqueued_at)
        SELECT 'p' || lpad(g::text, 5, '0'), 'default', 'todo', '\\x7b7d', 1 + g % 4, 'pending', 1000 + g, 0
        FROM generate_series(1, 2000) g`).raw
      yield* pg.unsafe(`ANALYZE ${T}`).raw
      const q = statements(schema)
      const plan = (text: string, params: ReadonlyArray<unknown>) =>
        Effect.map(
          pg.unsafe<{ "QUERY PLAN": unknown }>(`EXPLAIN (FORMAT JSON) ${text}`, params).withoutTransform,
          (rows) => JSON.stringify(rows[0]["QUERY PLAN"])
        )
      const now = 10_000_000
      const claimPlan = yield* plan(q.claimOne, ["default", now, 50, "w", now + 30_000])
      assert.include(claimPlan, "tasks_pending")
      assert.include(claimPlan, "tasks_leased")
      assert.notInclude(claimPlan, "Seq Scan")
      const claimManyPlan = yield* plan(q.claimMany, [["default", "other"], now, 50, "w", now + 30_000])
      assert.include(claimManyPlan, "tasks_pending")
      assert.notInclude(claimManyPlan, "Seq Scan")
      // Each queue is walked in index order: no sort of every due task.
      assert.notInclude(claimManyPlan, "Bitmap")
      const wakePlan = yield* plan(q.nextWakeAt, [["default"]])
      assert.notInclude(wakePlan, "Seq Scan")
      const purgePlan = yield* plan(q.purge(true, false), [["success"], 1000, 500])
      assert.include(purgePlan, "tasks_finished")
      assert.notInclude(purgePlan, "Seq Scan")
      const hbPlan = yield* plan(q.heartbeat, [["p00001"], ["w"], [1], now])
      assert.notInclude(hbPlan, "Seq Scan")
      const settlePlan = yield* plan(q.settle, [
        ["S"], ["p00001"], ["w"], [1], [new Uint8Array([1])], [null], [null], [null], [null], [null], now, "ch", "o", [null]
      ])
      assert.notInclude(settlePlan, "Seq Scan")

      // And the claim itself: the 50 highest-priority, earliest tasks, fast.
      const t0 = Date.now()
      const claimed = yield* b.claim({ owner: "w", queues: ["default"], limit: 50, leaseMillis: 30_000 })
      const millis = Date.now() - t0
      assert.strictEqual(claimed.length, 50)
      assert.isTrue(claimed.every((r) => r.priority === 4 && r.name === "todo"))
      assert.deepStrictEqual(claimed.map((r) => r.runAt), claimed.map((r) => r.runAt).slice().sort((x, y) => x - y))
      assert.isBelow(millis, 500)
      const settleOutcomes = claimed.map((r) => ({
        _tag: "Succeeded" as const,
        lease: { id: r.id, owner: "w", attempt: r.attempts },
        result: new Uint8Array([1])
      }))
      assert.isTrue((yield* b.settle(settleOutcomes)).every((x) => x))
      // Purge in batches: 300,050 finished tasks go, the 1,950 pending stay.
      assert.strictEqual(yield* b.purge({}), 300_050)
      assert.deepStrictEqual(yield* b.stats(), { pending: 1_950, in_progress: 0, success: 0, failed: 0, cancelled: 0 })
    }).pipe(Effect.scoped), 60_000)
})
