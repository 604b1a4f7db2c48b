/**
 * Helpers of the PostgreSQL process tests: a store on a fresh schema with a `runs` table, worker
 * child processes (`test/fixtures/postgres-worker.ts`) killed in the scope's finalizer, and
 * bounded waits.
 */
import { PgClient } from "@effect/sql-pg"
import type { Duration } from "effect"
import { Effect, Layer, Schedule } from "effect"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { fileURLToPath } from "node:url"
import type * as B from "../../src/Backend.js"
import { Backend } from "../../src/Backend.js"
import { PostgresBackend } from "../../src/backends/postgres.js"
import { Serializer } from "../../src/Serializer.js"
import { TaskQueue } from "../../src/TaskQueue.js"
import { client, dropOnClose, freshSchema, url } from "./helpers.js"

const fixture = fileURLToPath(new URL("../fixtures/postgres-worker.ts", import.meta.url))

export interface Store {
  readonly schema: string
  readonly pg: PgClient.PgClient
  readonly backend: B.Backend
  readonly queue: TaskQueue["Type"]
}

/** A migrated store on a fresh schema (dropped with the scope), its `runs` table, a client. */
export const store = Effect.gen(function*() {
  const schema = freshSchema()
  const pg = yield* client()
  yield* dropOnClose(pg, schema)
  const backend = yield* PostgresBackend.make({ schema }).pipe(Effect.provideService(PgClient.PgClient, pg))
  yield* pg.unsafe(`CREATE TABLE "${schema}".runs (
    task_id text NOT NULL, attempt int NOT NULL, worker text NOT NULL,
    started_at bigint NOT NULL, enqueued_at bigint NOT NULL, PRIMARY KEY (task_id, attempt, worker, started_at))`).raw.pipe(Effect.orDie)
  yield* pg.unsafe(`CREATE TABLE "${schema}".interrupts (task_id text NOT NULL, worker text NOT NULL, at bigint NOT NULL)`)
    .raw.pipe(Effect.orDie)
  const ctx = yield* Layer.build(
    TaskQueue.layerWith({ resultPollInterval: "5 seconds" }).pipe(
      Layer.provide(Layer.succeed(Backend, backend)),
      Layer.provide(Serializer.json)
    )
  )
  const queue = yield* Effect.provide(TaskQueue, ctx)
  return { schema, pg, backend, queue } satisfies Store
})

export interface Child {
  readonly process: ChildProcess
  readonly output: () => string
  readonly appName: string
}

/** Starts a worker process; SIGKILLs it when the scope closes. Waits for its `ready` line. */
export const worker = (schema: string, appName: string, env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    let output = ""
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const p = spawn(process.execPath, ["--import", "tsx", fixture], {
          env: { ...process.env, SITQ_PG_URL: url, SITQ_PG_SCHEMA: schema, SITQ_APP_NAME: appName, ...env },
          stdio: ["ignore", "pipe", "pipe"]
        })
        p.stdout?.on("data", (d: Buffer) => (output += d.toString()))
        p.stderr?.on("data", (d: Buffer) => (output += d.toString()))
        return p
      }),
      (p) => Effect.sync(() => p.exitCode === null && p.signalCode === null && p.kill("SIGKILL"))
    )
    const c: Child = { process: child, output: () => output, appName }
    yield* waitUntil(`worker ${appName} ready`, Effect.sync(() => output.includes("ready")), "30 seconds").pipe(
      Effect.tapError(() => Effect.sync(() => console.error(output)))
    )
    return c
  })

/** Polls `check` every 50 ms until it holds; fails after `timeout`. */
export const waitUntil = <E, R>(what: string, check: Effect.Effect<boolean, E, R>, timeout: Duration.DurationInput) =>
  check.pipe(
    Effect.filterOrFail((ok) => ok, () => "not yet" as const),
    Effect.retry(Schedule.spaced("50 millis")),
    Effect.timeoutFail({ duration: timeout, onTimeout: () => new Error(`timed out waiting for ${what}`) }),
    Effect.asVoid
  )

/** Counts of the `runs` table: rows, distinct tasks. */
export const runCounts = (pg: PgClient.PgClient, schema: string) =>
  Effect.map(
    pg.unsafe<{ rows: number; tasks: number }>(
      `SELECT count(*)::int4 AS rows, count(DISTINCT task_id)::int4 AS tasks FROM "${schema}".runs`
    ).withoutTransform,
    (r) => r[0]
  ).pipe(Effect.orDie)

/**
 * The `runs` counts once the workers' recorders (20 ms batches) have caught up with `expected`
 * rows, plus a pause in which any extra (duplicate) run would show up too.
 */
export const settledRunCounts = (pg: PgClient.PgClient, schema: string, expected: number) =>
  waitUntil("the runs to be recorded", Effect.map(runCounts(pg, schema), (r) => r.rows >= expected), "10 seconds").pipe(
    Effect.zipRight(Effect.sleep("300 millis")),
    Effect.zipRight(runCounts(pg, schema))
  )
