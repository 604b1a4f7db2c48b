/**
 * The child process of the cross-process latency rows (run as compiled JS, forked by
 * `harness.crossProcess`): starts one idle worker (concurrency 1) of the system named in argv[2]
 * and, in its handler, sends the wall time at which the task started to the parent. Stops on the
 * parent's "stop" message.
 */
import { performance } from "node:perf_hooks"
import type { ChildMessage, ChildSpec } from "./harness.js"

const spec = JSON.parse(process.argv[2]!) as ChildSpec
const send = (m: ChildMessage): void => {
  process.send!(m)
}
const started = (i: number): void => {
  send({ type: "started", i, t: performance.timeOrigin + performance.now() })
}
const silent = { error() {}, warn() {}, info() {}, debug() {} }

const start = async (): Promise<() => Promise<unknown>> => {
  switch (spec.kind) {
    case "sitq-sqlite":
    case "sitq-postgres":
    case "sitq-redis":
    case "sitq-nats": {
      const { pingWorker } = await import("./ping.js")
      const backend = spec.kind === "sitq-sqlite"
        ? (await import("../../src/backends/sqlite.js")).SqliteBackend.layer({ filename: spec.filename })
        : spec.kind === "sitq-postgres"
        ? (await import("../../src/backends/postgres.js")).PostgresBackend.layer({ url: spec.url, schema: spec.schema })
        : spec.kind === "sitq-redis"
        ? (await import("../../src/backends/redis.js")).RedisBackend.layer({ url: spec.url, prefix: spec.prefix })
        : (await import("../../src/backends/nats.js")).NatsBackend.layer({ servers: spec.url, prefix: spec.prefix })
      const runtime = pingWorker(backend, spec.pollMs, started)
      await runtime.runtime()
      return () => runtime.dispose()
    }
    case "plainjob": {
      const { better, defineQueue, defineWorker } = await import("plainjob")
      const Database = (await import("better-sqlite3")).default
      const queue = defineQueue({ connection: better(new Database(spec.filename)), logger: silent })
      const worker = defineWorker("ping", (job) => started((JSON.parse(job.data) as { i: number }).i), {
        queue,
        pollIntervall: spec.pollMs,
        logger: silent
      })
      void worker.start()
      return async () => {
        await worker.stop()
        queue.close()
      }
    }
    case "liteque": {
      const { buildDBClient, Runner, SqliteQueue } = await import("liteque")
      const db = buildDBClient(spec.filename, { runMigrations: true })
      const queue = new SqliteQueue<{ i: number }>("ping", db, { defaultJobArgs: { numRetries: 0 }, keepFailedJobs: false })
      const runner = new Runner<{ i: number }>(queue, {
        run: async (job) => started((job as unknown as { data: { i: number } }).data.i)
      }, { pollIntervalMs: spec.pollMs, timeoutSecs: 60, concurrency: 1 })
      const running = runner.run()
      return async () => {
        runner.stop()
        await running
      }
    }
    case "sqlpq": {
      const { Duration, Effect, Layer, ManagedRuntime, Schema } = await import("effect")
      const PersistedQueue = await import("@effect/experimental/PersistedQueue")
      const SqlPersistedQueue = await import("@effect/sql/SqlPersistedQueue")
      const { SqliteClient } = await import("@effect/sql-sqlite-node")
      const runtime = ManagedRuntime.make(PersistedQueue.layer.pipe(
        Layer.provide(SqlPersistedQueue.layerStore({ pollInterval: Duration.millis(spec.pollMs) })),
        Layer.provide(SqliteClient.layer({ filename: spec.filename }))
      ))
      const fiber = runtime.runFork(Effect.gen(function*() {
        const q = yield* PersistedQueue.make({ name: "ping", schema: Schema.Struct({ i: Schema.Number }) })
        return yield* Effect.forever(q.take(({ i }) => Effect.sync(() => started(i))))
      }))
      await runtime.runPromise(Effect.sleep("100 millis"))
      return async () => {
        await runtime.runPromise(fiber.interruptAsFork(fiber.id()))
        await runtime.dispose()
      }
    }
    case "graphile": {
      const { Logger, run } = await import("graphile-worker")
      const runner = await run({
        connectionString: spec.url,
        schema: spec.schema,
        concurrency: 1,
        pollInterval: spec.pollMs,
        noHandleSignals: true,
        logger: new Logger(() => () => {}),
        taskList: { ping: async (payload) => started((payload as { i: number }).i) }
      })
      return () => runner.stop()
    }
    case "pgboss": {
      const PgBoss = (await import("pg-boss")).default
      const boss = new PgBoss({ connectionString: spec.url, schema: spec.schema, supervise: false, schedule: false })
      boss.on("error", () => {})
      await boss.start()
      await boss.work<{ i: number }>("ping", { pollingIntervalSeconds: spec.pollMs / 1000, batchSize: 1 }, async ([job]) => {
        started(job!.data.i)
      })
      return () => boss.stop({ graceful: false, wait: true })
    }
    case "bullmq": {
      const { Worker } = await import("bullmq")
      const url = new URL(spec.url)
      const worker = new Worker("ping", async (job) => started((job.data as { i: number }).i), {
        connection: { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null },
        prefix: spec.prefix,
        concurrency: 1
      })
      await worker.waitUntilReady()
      return () => worker.close()
    }
  }
}

try {
  const stop = await start()
  process.on("message", async (m) => {
    if (m === "stop") {
      await Promise.race([stop(), new Promise((resolve) => setTimeout(resolve, 5_000))])
      process.exit(0)
    }
  })
  process.on("disconnect", () => process.exit(0))
  send({ type: "ready" })
} catch (error) {
  send({ type: "error", message: error instanceof Error ? error.message : String(error) })
  process.exit(1)
}
