/**
 * `npm run bench -- executors`: CPU-bound tasks on the thread and process pools against the same
 * function in the worker's event loop, and the raw dispatch rate of a pool of two.
 *
 * - 8 × fibonacci(32) through a worker (memory backend, concurrency 2): in the loop the tasks run
 *   one after another; on a pool of 2 they run two at a time, so on two free cores the pool is
 *   about 2× faster (floor 1.7×). Each variant runs once to warm up, then is timed (best of 3).
 * - No-op calls straight through `pool.run` on a pool of 2, four in flight (floor 10,000/s for the
 *   thread pool; the process pool is reported), and no-op tasks through a worker (concurrency 16)
 *   whose handler runs on the pool (the whole path: claim, dispatch, record).
 */
import { Context, Effect, Layer, Schema } from "effect"
import type { ExecutorPool } from "../src/executors.js"
import { Executor, ProcessPool, ThreadPool } from "../src/executors.js"
import type { Handler } from "../src/index.js"
import { MemoryBackend, Serializer, Task, TaskQueue, Worker } from "../src/index.js"
import { fibonacci } from "./lib/cpu.js"
import { atLeast, type Floor, printFloors } from "./lib/harness.js"
import { fmt, Noop } from "./lib/sitq.js"

const module = new URL("./lib/cpu.js", import.meta.url)
const Fibonacci = Task.make("fibonacci", { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Number })
const FIB_N = 32
const FIB_TASKS = 8
const DISPATCH_CALLS = 20_000
const WORKER_TASKS = 20_000

const context = { id: "bench", name: "noop", queue: "default", attempt: 1, enqueuedAt: 0 }

/** Seconds to enqueue `tasks` and drain them with `handler` on a fresh memory backend. */
const drain = <R>(handler: Handler<R>, payloads: ReadonlyArray<unknown>, task: Task.Any) =>
  Effect.gen(function*() {
    const queue = yield* TaskQueue
    for (let b = 0; b < payloads.length; b += 1000) {
      yield* queue.enqueueMany(task as typeof Fibonacci, payloads.slice(b, b + 1000) as Array<{ n: number }>)
    }
    const t0 = performance.now()
    const stats = yield* Worker.drain({ handlers: [handler], concurrency: task === Fibonacci ? 2 : 16 })
    if (stats.succeeded !== payloads.length) {
      return yield* Effect.dieMessage(`processed ${stats.succeeded} of ${payloads.length}`)
    }
    return (performance.now() - t0) / 1000
  }).pipe(
    Effect.scoped,
    Effect.provide(TaskQueue.layer.pipe(Layer.provideMerge(MemoryBackend.layer), Layer.provideMerge(Serializer.json)))
  )

const fibPayloads = Array.from({ length: FIB_TASKS }, () => ({ n: FIB_N }))

/** Best of three timed runs after one warm-up. */
const best = <E, R>(run: Effect.Effect<number, E, R>) =>
  Effect.gen(function*() {
    yield* run
    const times = [yield* run, yield* run, yield* run]
    return Math.min(...times)
  })

class BenchPool extends Context.Tag("bench/executors/Pool")<BenchPool, ExecutorPool>() {}

/** A floor "pool ≥ factor × faster than the loop". */
const speedUp = (what: string, loop: number, pool: number, factor: number): Floor => ({
  what,
  pass: loop / pool >= factor,
  detail: `${(loop * 1000).toFixed(0)} ms vs ${(pool * 1000).toFixed(0)} ms (${(loop / pool).toFixed(2)}×)`
})

export const benchExecutors = Effect.gen(function*() {
  const InLoop = Task.handler(Fibonacci, (payload) => Effect.sync(() => fibonacci(payload)))
  const loop = yield* best(drain(InLoop, fibPayloads, Fibonacci))

  const results: Array<{ kind: string; fib: number; dispatch: number; worker: number }> = []
  for (const [kind, make] of [["thread", ThreadPool.make], ["process", ProcessPool.make]] as const) {
    const figures = yield* Effect.scoped(Effect.gen(function*() {
      const pool: ExecutorPool = yield* make({ size: 2, preload: [module] })
      const OnPool = Executor.handler(BenchPool, Fibonacci, { module, export: "fibonacci" })
      const fib = yield* best(drain(OnPool, fibPayloads, Fibonacci).pipe(Effect.provideService(BenchPool, pool)))

      const call = pool.run({ module: module.href, export: "noop", payload: null, context })
      yield* Effect.forEach(Array.from({ length: 2000 }), () => call, { concurrency: 4, discard: true })
      const t0 = performance.now()
      yield* Effect.forEach(Array.from({ length: DISPATCH_CALLS }), () => call, { concurrency: 4, discard: true })
      const dispatch = DISPATCH_CALLS / ((performance.now() - t0) / 1000)

      const NoopOnPool = Executor.handler(BenchPool, Noop, { module, export: "noop" })
      const seconds = yield* drain(NoopOnPool, Array.from({ length: WORKER_TASKS }, (_, i) => ({ i })), Noop).pipe(
        Effect.provideService(BenchPool, pool)
      )
      return { kind, fib, dispatch, worker: WORKER_TASKS / seconds }
    }))
    results.push(figures)
  }

  console.log(`\n## executors (pool of 2; ${FIB_TASKS} × fibonacci(${FIB_N}); ${fmt(DISPATCH_CALLS)} no-op calls)\n`)
  console.log("| measure | in the loop | thread pool | process pool |")
  console.log("|---|---|---|---|")
  const [thread, child] = results as [typeof results[0], typeof results[0]]
  console.log(
    `| ${FIB_TASKS} × fibonacci(${FIB_N}), worker concurrency 2 (ms) | ${(loop * 1000).toFixed(0)} | ${(thread.fib * 1000).toFixed(0)} (${(loop / thread.fib).toFixed(2)}×) | ${(child.fib * 1000).toFixed(0)} (${(loop / child.fib).toFixed(2)}×) |`
  )
  console.log(`| no-op calls through \`pool.run\`, 4 in flight (calls/s) | — | ${fmt(thread.dispatch)} | ${fmt(child.dispatch)} |`)
  console.log(`| no-op tasks through a worker, handler on the pool, concurrency 16 (tasks/s) | — | ${fmt(thread.worker)} | ${fmt(child.worker)} |`)
  printFloors([
    speedUp(`process pool of 2 vs the loop, ${FIB_TASKS} × fibonacci(${FIB_N}) (≥ 1.7×)`, loop, child.fib, 1.7),
    speedUp(`thread pool of 2 vs the loop, ${FIB_TASKS} × fibonacci(${FIB_N}) (≥ 1.7×)`, loop, thread.fib, 1.7),
    atLeast("no-op dispatch through a thread pool of 2 (≥ 10,000/s)", thread.dispatch, 10_000)
  ])
  return results
})
