/**
 * Several worker processes started at the same moment on a fresh schema: the schema is created and
 * migrated once (advisory lock around the Migrator), every process comes up, and they work. (Process
 * start-up jitter may keep their migrations from overlapping; `backend.test.ts` starts four
 * backends in one process on one fresh schema, which always overlaps.)
 */
import { assert, describe, it } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer } from "effect"
import { Backend } from "../../src/Backend.js"
import { PostgresBackend } from "../../src/backends/postgres.js"
import { Serializer } from "../../src/Serializer.js"
import { TaskQueue } from "../../src/TaskQueue.js"
import { Work } from "../fixtures/postgres-worker-task.js"
import { client, dropOnClose, freshSchema } from "./helpers.js"
import { settledRunCounts, waitUntil, worker } from "./processes.js"

describe("PostgresBackend start-up", () => {
  it.live("three processes starting at once on a fresh schema migrate it once and all work", () =>
    Effect.gen(function*() {
      const schema = freshSchema()
      const pg = yield* client()
      yield* dropOnClose(pg, schema)
      yield* Effect.all(
        Array.from({ length: 3 }, (_, i) => worker(schema, `sitq-start-${i}`, { SITQ_CONCURRENCY: "4" })),
        { concurrency: "unbounded" }
      )
      const migrations = yield* pg.unsafe<{ migration_id: number; name: string }>(
        `SELECT migration_id, name FROM "${schema}".sitq_migrations`
      ).withoutTransform
      assert.deepStrictEqual(migrations.map((m) => [m.migration_id, m.name]), [[1, "create_tasks"], [2, "failure_times"]])
      yield* pg.unsafe(`CREATE TABLE "${schema}".runs (
        task_id text NOT NULL, attempt int NOT NULL, worker text NOT NULL,
        started_at bigint NOT NULL, enqueued_at bigint NOT NULL, PRIMARY KEY (task_id, attempt, worker, started_at))`).raw
      const ctx = yield* Layer.build(
        TaskQueue.layer.pipe(
          Layer.provideMerge(PostgresBackend.layerClient({ schema })),
          Layer.provide(Layer.succeed(PgClient.PgClient, pg)),
          Layer.provide(Serializer.json)
        )
      )
      const queue = yield* Effect.provide(TaskQueue, ctx)
      yield* queue.enqueueMany(Work, Array.from({ length: 60 }, (_, n) => ({ n })))
      yield* waitUntil("all tasks to succeed", Effect.map(queue.stats(), (s) => s.success === 60), "30 seconds")
      assert.deepStrictEqual(yield* settledRunCounts(pg, schema, 60), { rows: 60, tasks: 60 })
      const backend = yield* Effect.provide(Backend, ctx)
      assert.strictEqual(backend.name, "postgres")
    }).pipe(Effect.scoped), 60_000)
})
