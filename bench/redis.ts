/**
 * `npm run bench -- redis`: sitq's Redis backend side by side with BullMQ on the same server. Every
 * run gets a key prefix of its own; its keys are deleted afterwards.
 * Server: `SITQ_BENCH_REDIS_URL` (default redis://127.0.0.1:6379).
 */
import { Queue, Worker as BullWorker } from "bullmq"
import { Effect, Layer } from "effect"
import { Redis } from "ioredis"
import { RedisBackend } from "../src/backends/redis.js"
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

export const redisWorkload: Workload = {
  enqueueOne: 5_000,
  tasks: 20_000,
  concurrencies: [1, 50],
  sameSamples: 200,
  crossSamples: 100,
  pollMs: 1000,
  capSeconds: 30
}

const url = process.env["SITQ_BENCH_REDIS_URL"] ?? process.env["SITQ_TEST_REDIS_URL"] ?? "redis://127.0.0.1:6379"
const latencyOpts = { timeoutMs: 10_000, gapMs: 5 }
let prefixCount = 0
/** Every key pattern this suite created, deleted at the end of each run and again at the end. */
const patterns = new Set<string>()
const newPrefix = (label: string) => `bench-${label}-${process.pid}-${prefixCount++}`

const deleteKeys = async (pattern: string) => {
  const redis = new Redis(url)
  try {
    let cursor = "0"
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000)
      cursor = next
      if (keys.length > 0) await redis.unlink(...keys)
    } while (cursor !== "0")
    patterns.delete(pattern)
  } finally {
    redis.disconnect()
  }
}
/** sitq's keys are `sitq:{prefix}:…`; match on the unique prefix alone. */
const sitqPattern = (prefix: string) => `sitq:*${prefix}*`
const bullPattern = (prefix: string) => `${prefix}:*`

const range = (n: number) => Array.from({ length: n }, (_, i) => i)
const chunks = <A>(xs: ReadonlyArray<A>, size: number) =>
  Array.from({ length: Math.ceil(xs.length / size) }, (_, b) => xs.slice(b * size, (b + 1) * size))
const timeRate = async (n: number, f: () => Promise<unknown>) => {
  const t0 = performance.now()
  await f()
  return n / ((performance.now() - t0) / 1000)
}

/** A sitq store on a fresh key prefix, deleted when the layer is released. */
const freshSitq = () =>
  Layer.unwrapScoped(
    Effect.acquireRelease(
      Effect.sync(() => {
        const prefix = newPrefix("sitq")
        patterns.add(sitqPattern(prefix))
        return prefix
      }),
      (prefix) => Effect.promise(() => deleteKeys(sitqPattern(prefix)))
    ).pipe(Effect.map((prefix) => RedisBackend.layer({ url, prefix })))
  )

/** sitq's Redis column (also shown next to the NATS backend by `bench/nats.ts`). */
export const sitqRedis = (w: Workload): Promise<SystemResult> => {
  const fresh = freshSitq()
  let crossPrefix = ""
  return sitqColumn(w, fresh, () => {
    crossPrefix = newPrefix("sitq")
    patterns.add(sitqPattern(crossPrefix))
    return {
      backend: RedisBackend.layer({ url, prefix: crossPrefix }),
      spec: { kind: "sitq-redis", url, prefix: crossPrefix, pollMs: w.pollMs }
    }
  }).finally(() => (crossPrefix === "" ? undefined : deleteKeys(sitqPattern(crossPrefix))))
}

/** BullMQ on default job options (every row), or `tuned`: removeOnComplete (processing rows only). */
export const bullmq = async (w: Workload, options: { readonly removeOnComplete?: boolean } = {}): Promise<SystemResult> => {
  const tuned = options.removeOnComplete === true
  const r = newResult(tuned ? "BullMQ (removeOnComplete)" : "BullMQ")
  const defaultJobOptions = tuned ? { removeOnComplete: true } : {}
  const parsed = new URL(url)
  const connection = { host: parsed.hostname, port: Number(parsed.port || 6379), maxRetriesPerRequest: null }
  /** Runs `f` with a queue on a fresh prefix, then closes it and deletes the prefix's keys. */
  const withQueue = async <A>(name: string, f: (queue: Queue, prefix: string) => Promise<A>): Promise<A> => {
    const prefix = newPrefix("bull")
    patterns.add(bullPattern(prefix))
    const queue = new Queue(name, { connection, prefix, defaultJobOptions })
    try {
      await queue.waitUntilReady()
      return await f(queue, prefix)
    } finally {
      await queue.close()
      await deleteKeys(bullPattern(prefix))
    }
  }
  if (!tuned) {
  await attempt(r, "enqueue one", () =>
    withQueue("noop", async (queue) => {
      r.values.enqueueOne = await timeRate(w.enqueueOne, async () => {
        for (let i = 0; i < w.enqueueOne; i++) await queue.add("noop", { i })
      })
    }))
  await attempt(r, "enqueue many", () =>
    withQueue("noop", async (queue) => {
      r.values.enqueueMany = await timeRate(w.tasks, async () => {
        for (const chunk of chunks(range(w.tasks), 1000)) await queue.addBulk(chunk.map((i) => ({ name: "noop", data: { i } })))
      })
    }))
  }
  for (const [id, c] of [["c1", w.concurrencies[0]], ["c50", w.concurrencies[1]]] as const) {
    await attempt(r, `processing c${c}`, () =>
      withQueue("noop", async (queue, prefix) => {
        for (const chunk of chunks(range(w.tasks), 1000)) {
          await queue.addBulk(chunk.map((i) => ({ name: "noop", data: { i } })))
        }
        let worker: BullWorker | undefined
        r.values[id] = await processWithCap(r, `processing c${c}`, w.tasks, w.capSeconds, async (done) => {
          worker = new BullWorker("noop", async () => {}, { connection, prefix, concurrency: c })
          worker.on("completed", done)
        }, async () => worker?.close())
      }))
  }
  if (tuned) {
    r.notes.push("processing rows only: jobs added with removeOnComplete: true (its docs' advice for high volumes)")
    return r
  }
  await attempt(r, "same-process latency", () =>
    withQueue("ping", async (queue, prefix) => {
      const probe = new Probe()
      const worker = new BullWorker("ping", async (job) => probe.hit((job.data as { i: number }).i, wallNow()), {
        connection,
        prefix,
        concurrency: 1
      })
      try {
        await worker.waitUntilReady()
        record(r, "same", await latencySamples(w.sameSamples, probe, (i) => queue.add("ping", { i }), latencyOpts))
      } finally {
        await worker.close()
      }
    }))
  await attempt(r, "cross-process latency", () =>
    withQueue("ping", async (queue, prefix) => {
      record(r, "cross", await crossProcess({ kind: "bullmq", url, prefix }, w.crossSamples, (i) => queue.add("ping", { i }), latencyOpts))
    }))
  r.notes.push("Queue.add / addBulk, Worker with concurrency N, default job options (completed jobs kept)")
  return r
}

export const benchRedis = Effect.promise(async () => {
  const w = redisWorkload
  try {
    const results: Array<SystemResult> = []
    const runs = [
      sitqRedis,
      (w: Workload) => sitqPrefetchColumn(w, freshSitq(), 64),
      (w: Workload) => bullmq(w),
      (w: Workload) => bullmq(w, { removeOnComplete: true })
    ]
    for (const run of runs) {
      const t0 = performance.now()
      const result = await run(w)
      console.error(`  (${result.name}: ${((performance.now() - t0) / 1000).toFixed(1)} s)`)
      results.push(result)
    }
    printTable(`Redis, one key prefix per run (${w.tasks.toLocaleString("en-US")} no-op tasks)`, w, results)
    const s = results[0]!.values
    const tuned = "BullMQ (removeOnComplete)"
    printFloors([
      timesFloor("processing c50 ≥ 2.5× BullMQ with removeOnComplete", bestOwn(results, "c50"), valueOf(results, tuned, "c50"), 2.5),
      timesFloor("processing c1 ≥ 1.0× BullMQ with removeOnComplete", bestOwn(results, "c1"), valueOf(results, tuned, "c1"), 1.0),
      timesFloor("enqueue one at a time ≥ 1.0× BullMQ", s.enqueueOne, bestPeer(results, "enqueueOne"), 1.0),
      atMostTimes("cross-process latency p50 ≤ 1.2× BullMQ", s.crossP50, valueOf(results, "BullMQ", "crossP50"), 1.2),
      below("cross-process latency p50 < 5 ms", s.crossP50, 5)
    ])
    return results
  } finally {
    await redisCleanup()
  }
})

/** Deletes whatever keys a Redis run left (a crashed peer). */
export const redisCleanup = async () => {
  for (const pattern of [...patterns]) await deleteKeys(pattern).catch(() => {})
}
