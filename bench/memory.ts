/** `npm run bench -- memory`: the memory backend, the queue's own overhead with no storage cost. */
import { Effect } from "effect"
import { MemoryBackend } from "../src/index.js"
import { fmt, runSitq } from "./lib/sitq.js"

export const benchMemory = Effect.gen(function*() {
  const f = yield* runSitq(MemoryBackend.layer, {
    enqueueOne: 20_000,
    tasks: 100_000,
    concurrencies: [1, 100],
    latencySamples: 500
  })
  console.log("\n## memory backend (100,000 no-op tasks)\n")
  console.log("| measure | sitq |")
  console.log("|---|---|")
  console.log(`| enqueue, one at a time (tasks/s) | ${fmt(f.enqueueOne)} |`)
  console.log(`| enqueueMany, batches of 1,000 (tasks/s) | ${fmt(f.enqueueMany)} |`)
  for (const [c, v] of Object.entries(f.processing)) console.log(`| processing at concurrency ${c} (tasks/s) | ${fmt(v)} |`)
  console.log(`| enqueue-to-start latency, idle worker, p50 (ms) | ${f.latency.p50.toFixed(3)} |`)
  console.log(`| enqueue-to-start latency, idle worker, p99 (ms) | ${f.latency.p99.toFixed(3)} |`)
  return f
})
