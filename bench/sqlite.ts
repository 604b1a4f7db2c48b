/**
 * `npm run bench -- sqlite`: sitq's SQLite backend on a database FILE, side by side with the SQLite
 * job queues Node users have today (plainjob, liteque) and Effect's own `SqlPersistedQueue`, each
 * on its own fresh file in a temp directory that is removed at the end.
 */
import { Duration, Effect, Fiber, Layer, ManagedRuntime, Schema } from "effect"
import * as PersistedQueue from "@effect/experimental/PersistedQueue"
import * as SqlPersistedQueue from "@effect/sql/SqlPersistedQueue"
import { SqliteClient } from "@effect/sql-sqlite-node"
import Database from "better-sqlite3"
import { buildDBClient, Runner, SqliteQueue } from "liteque"
import { better, defineQueue, defineWorker } from "plainjob"
import { SqliteBackend } from "../src/backends/sqlite.js"
import type { SystemResult, Workload } from "./lib/harness.js"
import {
  attempt,
  bestOwn,
  bestPeer,
  crossProcess,
  latencySamples,
  newResult,
  atLeast,
  below,
  printFloors,
  timesFloor,
  printTable,
  Probe,
  processWithCap,
  record,
  tempDir,
  valueOf,
  wallNow
} from "./lib/harness.js"
import { sitqColumn, sitqPrefetchColumn } from "./lib/ping.js"

export const sqliteWorkload: Workload = {
  enqueueOne: 5_000,
  tasks: 20_000,
  concurrencies: [1, 50],
  sameSamples: 200,
  crossSamples: 100,
  pollMs: 50,
  capSeconds: 30
}

const latencyOpts = { timeoutMs: 10_000, gapMs: 5 }
const silent = { error() {}, warn() {}, info() {}, debug() {} }
const chunks = <A>(xs: ReadonlyArray<A>, size: number) =>
  Array.from({ length: Math.ceil(xs.length / size) }, (_, b) => xs.slice(b * size, (b + 1) * size))
const timeRate = async (n: number, f: () => Promise<unknown> | unknown) => {
  const t0 = performance.now()
  await f()
  return n / ((performance.now() - t0) / 1000)
}

type Tmp = ReturnType<typeof tempDir>

const sitq = async (w: Workload, tmp: Tmp): Promise<SystemResult> => {
  const r = await sitqColumn(
    w,
    Layer.unwrapEffect(Effect.sync(() => SqliteBackend.layer({ filename: tmp.file("sitq") }))),
    () => {
      const filename = tmp.file("sitq-cross")
      return { backend: SqliteBackend.layer({ filename }), spec: { kind: "sitq-sqlite", filename, pollMs: w.pollMs } }
    }
  )
  r.notes.push(`cross-process: SQLite cannot push across processes, so the child's worker polls every ${w.pollMs} ms (pollInterval)`)
  return r
}

const plainjob = async (w: Workload, tmp: Tmp): Promise<SystemResult> => {
  const r = newResult("plainjob")
  const open = (label: string) => {
    const filename = tmp.file(label)
    return { filename, queue: defineQueue({ connection: better(new Database(filename)), logger: silent }) }
  }
  await attempt(r, "enqueue one", async () => {
    const { queue } = open("plainjob")
    r.values.enqueueOne = await timeRate(w.enqueueOne, () => {
      for (let i = 0; i < w.enqueueOne; i++) queue.add("noop", { i })
    })
    queue.close()
  })
  await attempt(r, "enqueue many", async () => {
    const { queue } = open("plainjob")
    const payloads = Array.from({ length: w.tasks }, (_, i) => ({ i }))
    r.values.enqueueMany = await timeRate(w.tasks, () => {
      for (const chunk of chunks(payloads, 1000)) queue.addMany("noop", chunk)
    })
    queue.close()
  })
  for (const [id, c] of [["c1", w.concurrencies[0]], ["c50", w.concurrencies[1]]] as const) {
    await attempt(r, `processing c${c}`, async () => {
      const { queue } = open("plainjob")
      const payloads = Array.from({ length: w.tasks }, (_, i) => ({ i }))
      for (const chunk of chunks(payloads, 1000)) queue.addMany("noop", chunk)
      const workers: Array<ReturnType<typeof defineWorker>> = []
      r.values[id] = await processWithCap(r, `processing c${c}`, w.tasks, w.capSeconds, async (done) => {
        for (let k = 0; k < c; k++) {
          const worker = defineWorker("noop", () => {}, { queue, pollIntervall: w.pollMs, logger: silent, onCompleted: done })
          workers.push(worker)
          void worker.start()
        }
      }, () => Promise.all(workers.map((x) => x.stop())))
      queue.close()
    })
  }
  r.notes.push(`no concurrency option: a worker runs one job at a time, so concurrency N is N workers on one queue`)
  await attempt(r, "same-process latency", async () => {
    const { queue } = open("plainjob")
    const probe = new Probe()
    const worker = defineWorker("ping", (job) => probe.hit((JSON.parse(job.data) as { i: number }).i, wallNow()), {
      queue,
      pollIntervall: w.pollMs,
      logger: silent
    })
    void worker.start()
    record(r, "same", await latencySamples(w.sameSamples, probe, async (i) => queue.add("ping", { i }), latencyOpts))
    await worker.stop()
    queue.close()
  })
  await attempt(r, "cross-process latency", async () => {
    const { filename, queue } = open("plainjob")
    record(r, "cross", await crossProcess({ kind: "plainjob", filename, pollMs: w.pollMs }, w.crossSamples, async (i) => queue.add("ping", { i }), latencyOpts))
    queue.close()
  })
  r.notes.push(`workers poll every ${w.pollMs} ms (pollIntervall), also within one process`)
  return r
}

const liteque = async (w: Workload, tmp: Tmp): Promise<SystemResult> => {
  const r = newResult("liteque")
  const open = (label: string, name: string) => {
    const filename = tmp.file(label)
    const db = buildDBClient(filename, { runMigrations: true })
    const queue = new SqliteQueue<{ i: number }>(name, db, { defaultJobArgs: { numRetries: 0 }, keepFailedJobs: false })
    return { filename, db, queue, close: () => (db as unknown as { $client?: { close(): void } }).$client?.close() }
  }
  await attempt(r, "enqueue one", async () => {
    const { close, queue } = open("liteque", "noop")
    r.values.enqueueOne = await timeRate(w.enqueueOne, async () => {
      for (let i = 0; i < w.enqueueOne; i++) await queue.enqueue({ i })
    })
    close()
  })
  r.notes.push("no bulk enqueue API")
  for (const [id, c] of [["c1", w.concurrencies[0]], ["c50", w.concurrencies[1]]] as const) {
    await attempt(r, `processing c${c}`, async () => {
      const { close, queue } = open("liteque", "noop")
      for (let i = 0; i < w.tasks; i++) await queue.enqueue({ i })
      let running: Promise<void> | undefined
      let runner: Runner<{ i: number }> | undefined
      r.values[id] = await processWithCap(r, `processing c${c}`, w.tasks, w.capSeconds, async (done) => {
        runner = new Runner<{ i: number }>(queue, { run: async () => {}, onComplete: async () => done() }, {
          pollIntervalMs: w.pollMs,
          timeoutSecs: 60,
          concurrency: c
        })
        running = runner.run().catch((error) => void r.notes.push(`processing c${c}: runner failed (${String(error)})`))
      }, async () => {
        runner?.stop()
        await running
      })
      close()
    })
  }
  await attempt(r, "same-process latency", async () => {
    const { close, queue } = open("liteque", "ping")
    const probe = new Probe()
    const runner = new Runner<{ i: number }>(queue, {
      run: async (job) => probe.hit((job as unknown as { data: { i: number } }).data.i, wallNow())
    }, { pollIntervalMs: w.pollMs, timeoutSecs: 60, concurrency: 1 })
    const running = runner.run().catch(() => {})
    record(r, "same", await latencySamples(w.sameSamples, probe, (i) => queue.enqueue({ i }), latencyOpts))
    runner.stop()
    await running
    close()
  })
  await attempt(r, "cross-process latency", async () => {
    const { close, filename, queue } = open("liteque", "ping")
    record(r, "cross", await crossProcess({ kind: "liteque", filename, pollMs: w.pollMs }, w.crossSamples, (i) => queue.enqueue({ i }), latencyOpts))
    close()
  })
  r.notes.push(`runners poll every ${w.pollMs} ms (pollIntervalMs), also within one process`)
  return r
}

const sqlPersistedQueue = async (w: Workload, tmp: Tmp): Promise<SystemResult> => {
  const r = newResult("SqlPersistedQueue")
  const open = (label: string) => {
    const filename = tmp.file(label)
    const runtime = ManagedRuntime.make(PersistedQueue.layer.pipe(
      Layer.provide(SqlPersistedQueue.layerStore({ pollInterval: Duration.millis(w.pollMs) })),
      Layer.provide(SqliteClient.layer({ filename }))
    ))
    const queue = (name: string) => runtime.runPromise(PersistedQueue.make({ name, schema: Schema.Struct({ i: Schema.Number }) }))
    return { filename, runtime, queue }
  }
  await attempt(r, "enqueue one", async () => {
    const { queue, runtime } = open("sqlpq")
    const q = await queue("noop")
    r.values.enqueueOne = await timeRate(w.enqueueOne, () =>
      runtime.runPromise(Effect.forEach(Array.from({ length: w.enqueueOne }, (_, i) => i), (i) => q.offer({ i }), { discard: true })))
    await runtime.dispose()
  })
  r.notes.push("no bulk offer API")
  for (const [id, c] of [["c1", w.concurrencies[0]], ["c50", w.concurrencies[1]]] as const) {
    await attempt(r, `processing c${c}`, async () => {
      const { queue, runtime } = open("sqlpq")
      const q = await queue("noop")
      await runtime.runPromise(Effect.forEach(Array.from({ length: w.tasks }, (_, i) => i), (i) => q.offer({ i }), { discard: true }))
      const fibers: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
      r.values[id] = await processWithCap(r, `processing c${c}`, w.tasks, w.capSeconds, async (done) => {
        for (let k = 0; k < c; k++) fibers.push(runtime.runFork(Effect.forever(q.take(() => Effect.sync(done)))))
      }, () => runtime.runPromise(Fiber.interruptAll(fibers)))
      await runtime.dispose()
    })
  }
  r.notes.push(`offer/take only: concurrency N is N fibers taking; takers poll every ${w.pollMs} ms when the queue is empty`)
  await attempt(r, "same-process latency", async () => {
    const { queue, runtime } = open("sqlpq")
    const q = await queue("ping")
    const probe = new Probe()
    const fiber = runtime.runFork(Effect.forever(q.take(({ i }) => Effect.sync(() => probe.hit(i, wallNow())))))
    record(r, "same", await latencySamples(w.sameSamples, probe, (i) => runtime.runPromise(q.offer({ i })), latencyOpts))
    await runtime.runPromise(Fiber.interrupt(fiber))
    await runtime.dispose()
  })
  await attempt(r, "cross-process latency", async () => {
    const { filename, queue, runtime } = open("sqlpq")
    const q = await queue("ping")
    record(r, "cross", await crossProcess({ kind: "sqlpq", filename, pollMs: w.pollMs }, w.crossSamples, (i) => runtime.runPromise(q.offer({ i })), latencyOpts))
    await runtime.dispose()
  })
  return r
}

export const benchSqlite = Effect.promise(async () => {
  const w = sqliteWorkload
  const tmp = tempDir("sqlite")
  // Also when a peer crashes the process (an uncaught error in its own loop).
  const onExit = () => tmp.dispose()
  process.once("exit", onExit)
  try {
    const results: Array<SystemResult> = []
    const runs = [
      sitq,
      (w: Workload, tmp: Tmp) =>
        sitqPrefetchColumn(w, Layer.unwrapEffect(Effect.sync(() => SqliteBackend.layer({ filename: tmp.file("sitq") }))), 64),
      plainjob,
      liteque,
      sqlPersistedQueue
    ]
    for (const run of runs) {
      const t0 = performance.now()
      const result = await run(w, tmp)
      console.error(`  (${result.name}: ${((performance.now() - t0) / 1000).toFixed(1)} s)`)
      results.push(result)
    }
    printTable(`SQLite, one database file per run (${w.tasks.toLocaleString("en-US")} no-op tasks)`, w, results)
    const s = results[0]!.values
    const best50 = bestPeer(results, "c50")
    const plain = (id: "c1" | "c50" | "enqueueOne" | "enqueueMany") => valueOf(results, "plainjob", id)
    printFloors([
      timesFloor("processing at concurrency 50 ≥ 2× the best peer", s.c50, best50, 2),
      timesFloor("processing c50 ≥ 3.0× plainjob", bestOwn(results, "c50"), plain("c50"), 3.0),
      timesFloor("processing c1 ≥ 1.0× plainjob", bestOwn(results, "c1"), plain("c1"), 1.0),
      timesFloor("enqueue one at a time ≥ 0.5× plainjob", s.enqueueOne, plain("enqueueOne"), 0.5),
      timesFloor("enqueueMany ≥ 0.75× plainjob addMany", s.enqueueMany, plain("enqueueMany"), 0.75),
      atLeast("enqueueMany ≥ 50,000 tasks/s", s.enqueueMany, 50_000),
      below("same-process latency p50 < 2 ms", s.sameP50, 2)
    ])
    return results
  } finally {
    process.off("exit", onExit)
    tmp.dispose()
  }
})
