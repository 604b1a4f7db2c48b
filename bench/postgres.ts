/**
 * `npm run bench -- postgres`: sitq's PostgreSQL backend side by side with graphile-worker and
 * pg-boss on the same server. Every run gets a schema of its own, dropped afterwards.
 * Server: `SITQ_BENCH_PG_URL` (default postgres://postgres@127.0.0.1:5432/test).
 */
import { Effect, Layer } from "effect"
import { Logger, makeWorkerUtils, run as runGraphile } from "graphile-worker"
import type { Runner as GraphileRunner } from "graphile-worker"
import pg from "pg"
import PgBoss from "pg-boss"
import { PostgresBackend } from "../src/backends/postgres.js"
import type { SystemResult, Workload } from "./lib/harness.js"
import {
  atMostTimes,
  attempt,
  bestOwn,
  bestPeer,
  crossProcess,
  latencySamples,
  newResult,
  below,
  printFloors,
  timesFloor,
  printTable,
  Probe,
  processWithCap,
  record,
  valueOf,
  wallNow
} from "./lib/harness.js"
import { sitqColumn, sitqPrefetchColumn } from "./lib/ping.js"

export const postgresWorkload: Workload = {
  enqueueOne: 2_000,
  tasks: 20_000,
  concurrencies: [1, 50],
  sameSamples: 100,
  crossSamples: 100,
  pollMs: 500,
  capSeconds: 30
}

const url = process.env["SITQ_BENCH_PG_URL"] ?? process.env["SITQ_TEST_POSTGRES_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"
const latencyOpts = { timeoutMs: 10_000, gapMs: 5 }
let schemaCount = 0
const created = new Set<string>()
const newSchema = (label: string) => {
  const name = `bench_${label}_${process.pid}_${schemaCount++}`
  created.add(name)
  return name
}
const dropSchema = async (name: string) => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`)
    created.delete(name)
  } finally {
    await client.end()
  }
}
const range = (n: number) => Array.from({ length: n }, (_, i) => i)
const chunks = <A>(xs: ReadonlyArray<A>, size: number) =>
  Array.from({ length: Math.ceil(xs.length / size) }, (_, b) => xs.slice(b * size, (b + 1) * size))
const timeRate = async (n: number, f: () => Promise<unknown>) => {
  const t0 = performance.now()
  await f()
  return n / ((performance.now() - t0) / 1000)
}
/** Runs `f` on a fresh schema and drops it afterwards, whatever happens. */
const inSchema = async <A>(label: string, f: (schema: string) => Promise<A>): Promise<A> => {
  const schema = newSchema(label)
  try {
    return await f(schema)
  } finally {
    await dropSchema(schema)
  }
}

/** A sitq store on a fresh schema, dropped when the layer is released. */
const freshSitq = () =>
  Layer.unwrapScoped(
    Effect.acquireRelease(
      Effect.sync(() => newSchema("sitq")),
      (schema) => Effect.promise(() => dropSchema(schema))
    ).pipe(Effect.map((schema) => PostgresBackend.layer({ url, schema })))
  )

const sitq = (w: Workload): Promise<SystemResult> => {
  const fresh = freshSitq()
  let crossSchema = ""
  return sitqColumn(w, fresh, () => {
    crossSchema = newSchema("sitq")
    return {
      backend: PostgresBackend.layer({ url, schema: crossSchema }),
      spec: { kind: "sitq-postgres", url, schema: crossSchema, pollMs: w.pollMs }
    }
  }).finally(() => (crossSchema === "" ? undefined : dropSchema(crossSchema)))
}

/**
 * graphile-worker's batching settings from its performance page: a local queue of 500 jobs per
 * pool and completions batched with no delay.
 */
const graphileTuned = { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0 } }

/** graphile-worker on its defaults (every row), or `tuned` (processing rows only). */
const graphile = async (w: Workload, tuned = false): Promise<SystemResult> => {
  const r = newResult(tuned ? "graphile-worker (localQueue 500)" : "graphile-worker")
  const logger = new Logger(() => () => {})
  const utilsFor = async (schema: string) => {
    const utils = await makeWorkerUtils({ connectionString: url, schema, logger })
    await utils.migrate()
    return utils
  }
  if (!tuned) {
  await attempt(r, "enqueue one", () =>
    inSchema("gw", async (schema) => {
      const utils = await utilsFor(schema)
      r.values.enqueueOne = await timeRate(w.enqueueOne, async () => {
        for (let i = 0; i < w.enqueueOne; i++) await utils.addJob("noop", { i })
      })
      await utils.release()
    }))
  await attempt(r, "enqueue many", () =>
    inSchema("gw", async (schema) => {
      const utils = await utilsFor(schema)
      r.values.enqueueMany = await timeRate(w.tasks, async () => {
        for (const chunk of chunks(range(w.tasks), 1000)) {
          await utils.addJobs(chunk.map((i) => ({ identifier: "noop", payload: { i } })))
        }
      })
      await utils.release()
    }))
  }
  for (const [id, c] of [["c1", w.concurrencies[0]], ["c50", w.concurrencies[1]]] as const) {
    await attempt(r, `processing c${c}`, () =>
      inSchema("gw", async (schema) => {
        const utils = await utilsFor(schema)
        for (const chunk of chunks(range(w.tasks), 1000)) {
          await utils.addJobs(chunk.map((i) => ({ identifier: "noop", payload: { i } })))
        }
        await utils.release()
        let runner: GraphileRunner | undefined
        r.values[id] = await processWithCap(r, `processing c${c}`, w.tasks, w.capSeconds, async (done) => {
          runner = await runGraphile({
            connectionString: url,
            schema,
            concurrency: c,
            pollInterval: w.pollMs,
            noHandleSignals: true,
            logger,
            ...(tuned ? { preset: graphileTuned } : {}),
            taskList: { noop: async () => done() }
          })
        }, async () => runner?.stop())
      }))
  }
  if (tuned) {
    r.notes.push("processing rows only: run() with preset.worker.localQueue.size 500 and completeJobBatchDelay 0 (its performance page's batching settings)")
    return r
  }
  await attempt(r, "same-process latency", () =>
    inSchema("gw", async (schema) => {
      const utils = await utilsFor(schema)
      const probe = new Probe()
      const runner = await runGraphile({
        connectionString: url,
        schema,
        concurrency: 1,
        pollInterval: w.pollMs,
        noHandleSignals: true,
        logger,
        taskList: { ping: async (payload) => probe.hit((payload as { i: number }).i, wallNow()) }
      })
      try {
        record(r, "same", await latencySamples(w.sameSamples, probe, (i) => utils.addJob("ping", { i }), latencyOpts))
      } finally {
        await runner.stop()
        await utils.release()
      }
    }))
  await attempt(r, "cross-process latency", () =>
    inSchema("gw", async (schema) => {
      const utils = await utilsFor(schema)
      try {
        record(r, "cross", await crossProcess({ kind: "graphile", url, schema, pollMs: w.pollMs }, w.crossSamples, (i) => utils.addJob("ping", { i }), latencyOpts))
      } finally {
        await utils.release()
      }
    }))
  r.notes.push(`run() with concurrency N and pollInterval ${w.pollMs} ms (new jobs also wake workers through LISTEN/NOTIFY)`)
  return r
}

const pgBoss = async (w: Workload): Promise<SystemResult> => {
  const r = newResult("pg-boss")
  const open = async (schema: string, queues: ReadonlyArray<string>) => {
    const boss = new PgBoss({ connectionString: url, schema, supervise: false, schedule: false })
    boss.on("error", () => {})
    await boss.start()
    for (const q of queues) await boss.createQueue(q)
    return boss
  }
  const close = (boss: PgBoss) => boss.stop({ graceful: false, wait: true, timeout: 5_000 })
  await attempt(r, "enqueue one", () =>
    inSchema("pgboss", async (schema) => {
      const boss = await open(schema, ["noop"])
      r.values.enqueueOne = await timeRate(w.enqueueOne, async () => {
        for (let i = 0; i < w.enqueueOne; i++) await boss.send("noop", { i })
      })
      await close(boss)
    }))
  await attempt(r, "enqueue many", () =>
    inSchema("pgboss", async (schema) => {
      const boss = await open(schema, ["noop"])
      r.values.enqueueMany = await timeRate(w.tasks, async () => {
        for (const chunk of chunks(range(w.tasks), 1000)) await boss.insert(chunk.map((i) => ({ name: "noop", data: { i } })))
      })
      await close(boss)
    }))
  for (const [id, c] of [["c1", w.concurrencies[0]], ["c50", w.concurrencies[1]]] as const) {
    await attempt(r, `processing c${c}`, () =>
      inSchema("pgboss", async (schema) => {
        const boss = await open(schema, ["noop"])
        for (const chunk of chunks(range(w.tasks), 1000)) await boss.insert(chunk.map((i) => ({ name: "noop", data: { i } })))
        r.values[id] = await processWithCap(r, `processing c${c}`, w.tasks, w.capSeconds, async (done) => {
          await boss.work("noop", { batchSize: c, pollingIntervalSeconds: w.pollMs / 1000 }, async (jobs) => {
            await Promise.all(jobs.map(async () => done()))
          })
        }, () => close(boss))
      }))
  }
  r.notes.push(
    `work() with batchSize N (pg-boss 10 has no other concurrency knob) and pollingIntervalSeconds ${w.pollMs / 1000} (its minimum); a worker waits out the interval after every fetch, so a worker takes at most N jobs per interval`
  )
  await attempt(r, "same-process latency", () =>
    inSchema("pgboss", async (schema) => {
      const boss = await open(schema, ["ping"])
      const probe = new Probe()
      await boss.work<{ i: number }>("ping", { batchSize: 1, pollingIntervalSeconds: w.pollMs / 1000 }, async ([job]) => {
        probe.hit(job!.data.i, wallNow())
      })
      try {
        record(r, "same", await latencySamples(w.sameSamples, probe, (i) => boss.send("ping", { i }), latencyOpts))
      } finally {
        await close(boss)
      }
    }))
  await attempt(r, "cross-process latency", () =>
    inSchema("pgboss", async (schema) => {
      const boss = await open(schema, ["ping"])
      try {
        record(r, "cross", await crossProcess({ kind: "pgboss", url, schema, pollMs: w.pollMs }, w.crossSamples, (i) => boss.send("ping", { i }), latencyOpts))
      } finally {
        await close(boss)
      }
    }))
  return r
}

export const benchPostgres = Effect.promise(async () => {
  const w = postgresWorkload
  try {
    const results: Array<SystemResult> = []
    const runs = [
      sitq,
      (w: Workload) => sitqPrefetchColumn(w, freshSitq(), 64),
      graphile,
      (w: Workload) => graphile(w, true),
      pgBoss
    ]
    for (const run of runs) {
      const t0 = performance.now()
      const result = await run(w)
      console.error(`  (${result.name}: ${((performance.now() - t0) / 1000).toFixed(1)} s)`)
      results.push(result)
    }
    printTable(`PostgreSQL, one schema per run (${w.tasks.toLocaleString("en-US")} no-op tasks)`, w, results)
    const s = results[0]!.values
    const tuned = "graphile-worker (localQueue 500)"
    printFloors([
      timesFloor("processing c50 ≥ 1.25× graphile-worker with localQueue 500", bestOwn(results, "c50"), valueOf(results, tuned, "c50"), 1.25),
      timesFloor("processing c1 ≥ 1.0× graphile-worker with localQueue 500", bestOwn(results, "c1"), valueOf(results, tuned, "c1"), 1.0),
      timesFloor("enqueue one at a time ≥ 1.0× the best peer", s.enqueueOne, bestPeer(results, "enqueueOne"), 1.0),
      atMostTimes("cross-process latency p50 ≤ 1.2× graphile-worker", s.crossP50, valueOf(results, "graphile-worker", "crossP50"), 1.2),
      below("cross-process latency p50 < 10 ms", s.crossP50, 10)
    ])
    return results
  } finally {
    for (const schema of [...created]) await dropSchema(schema).catch(() => {})
  }
})
