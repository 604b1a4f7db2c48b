/**
 * `npm run bench -- nats`: sitq's NATS JetStream backend side by side, in one run, with sitq's
 * Redis backend and BullMQ on Redis with `removeOnComplete` (what a user would pick instead).
 * Every sitq NATS run gets a KV bucket of its own (`sitq_bench-*`), deleted afterwards.
 * Servers: `SITQ_BENCH_NATS_URL` (else `SITQ_TEST_NATS_URL`, else nats://127.0.0.1:4222) and the
 * Redis server of `bench/redis.ts`.
 */
import { Kvm } from "@nats-io/kv"
import { connect } from "@nats-io/transport-node"
import { Effect, Layer } from "effect"
import { NatsBackend } from "../src/backends/nats.js"
import { bucketOf } from "../src/backends/nats/NatsBackend.js"
import type { SystemResult } from "./lib/harness.js"
import { below, printFloors, printTable, timesFloor } from "./lib/harness.js"
import { sitqColumn } from "./lib/ping.js"
import { bullmq, redisCleanup, redisWorkload, sitqRedis } from "./redis.js"

const url = process.env["SITQ_BENCH_NATS_URL"] ?? process.env["SITQ_TEST_NATS_URL"] ?? "nats://127.0.0.1:4222"
let prefixCount = 0
/** Every prefix this suite created; their buckets are deleted after each run and again at the end. */
const prefixes = new Set<string>()
const newPrefix = () => {
  const prefix = `bench-${process.pid}-${prefixCount++}`
  prefixes.add(prefix)
  return prefix
}

const deleteStore = async (prefix: string) => {
  const nc = await connect({ servers: url })
  try {
    await new Kvm(nc).open(bucketOf(prefix)).then((kv) => kv.destroy()).catch(() => false)
    prefixes.delete(prefix)
  } finally {
    await nc.close()
  }
}

const sitqNats = (w: typeof redisWorkload): Promise<SystemResult> => {
  const fresh = Layer.unwrapScoped(
    Effect.acquireRelease(Effect.sync(newPrefix), (prefix) => Effect.promise(() => deleteStore(prefix))).pipe(
      Effect.map((prefix) => NatsBackend.layer({ servers: url, prefix }))
    )
  )
  let crossPrefix = ""
  return sitqColumn(w, fresh, () => {
    crossPrefix = newPrefix()
    return {
      backend: NatsBackend.layer({ servers: url, prefix: crossPrefix }),
      spec: { kind: "sitq-nats", url, prefix: crossPrefix, pollMs: w.pollMs }
    }
  }).finally(() => (crossPrefix === "" ? undefined : deleteStore(crossPrefix)))
}

const named = (name: string) => (r: SystemResult): SystemResult => ({ ...r, name })

export const benchNats = Effect.promise(async () => {
  const w = redisWorkload
  try {
    const results: Array<SystemResult> = []
    const runs: ReadonlyArray<() => Promise<SystemResult>> = [
      () => sitqNats(w).then(named("sitq (NATS)")),
      () => sitqRedis(w).then(named("sitq (Redis)")),
      () => bullmq(w, { removeOnComplete: true })
    ]
    for (const run of runs) {
      const t0 = performance.now()
      const result = await run()
      console.error(`  (${result.name}: ${((performance.now() - t0) / 1000).toFixed(1)} s)`)
      results.push(result)
    }
    printTable(
      `NATS JetStream next to Redis, one bucket / key prefix per run (${w.tasks.toLocaleString("en-US")} no-op tasks)`,
      w,
      results
    )
    const s = results[0]!.values
    printFloors([
      timesFloor("processing at concurrency 50 ≥ 1.0× BullMQ (removeOnComplete)", s.c50, results[2]!.values.c50, 1.0),
      below("cross-process latency p50 < 5 ms", s.crossP50, 5)
    ])
    return results
  } finally {
    for (const prefix of [...prefixes]) await deleteStore(prefix).catch(() => {})
    await redisCleanup()
  }
})
