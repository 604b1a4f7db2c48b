/**
 * 06 — CPU-bound tasks on a process pool.
 *
 * Four tasks compute fibonacci(36), first in the worker's own event loop, then on a process pool
 * of two children. In the loop the tasks run one after another however high the worker's
 * concurrency is (JavaScript runs one thing at a time), and while they run the loop can do
 * nothing else: no lease heartbeats, no wake-ups, no other task. On the pool the children compute
 * in parallel (on a machine with two free cores, about twice as fast) and the loop stays free:
 * the ticker below keeps ticking.
 *
 * The handler's code lives in `executors/fibonacci.ts`, a module of plain functions; the handler
 * names it by URL. Its requirement (`ProcessPool`) shows in the worker layer's type, and
 * `ProcessPool.layer` provides it.
 *
 * Run: node --import tsx examples/basic/06_cpu_bound_process.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Clock, Effect, Fiber, Layer, Ref, Schedule, Schema } from "effect"
import type { Handler } from "sitq"
import { MemoryBackend, Serializer, Task, TaskQueue, Worker } from "sitq"
import { ProcessPool } from "sitq/executors"
import { fibonacci } from "./executors/fibonacci.js"

const Fibonacci = Task.make("fibonacci", {
  payload: Schema.Struct({ n: Schema.Number }),
  success: Schema.Number,
  timeout: "1 minute"
})

const module = new URL("./executors/fibonacci.ts", import.meta.url)

/** The same function, called in the worker's event loop. */
const InLoop = Task.handler(Fibonacci, (payload) => Effect.sync(() => fibonacci(payload)))
/** The same function, called in a child of the process pool. */
const OnPool = ProcessPool.handler(Fibonacci, { module, export: "fibonacci" })

/** Runs four fibonacci(36) with `handler`, and counts how often a 50 ms ticker ticked meanwhile. */
const race = <R>(handler: Handler<R>) =>
  Effect.gen(function*() {
    const queue = yield* TaskQueue
    const ticks = yield* Ref.make(0)
    const ticker = yield* Effect.fork(Effect.repeat(Ref.update(ticks, (n) => n + 1), Schedule.spaced("50 millis")))
    const t0 = yield* Clock.currentTimeMillis
    const ids = yield* queue.enqueueMany(Fibonacci, Array.from({ length: 4 }, () => ({ n: 36 })))
    const results = yield* Effect.forEach(ids, (id) => queue.join(Fibonacci, id, { timeout: "1 minute" }))
    const millis = (yield* Clock.currentTimeMillis) - t0
    yield* Fiber.interrupt(ticker)
    return { results, millis, ticks: yield* Ref.get(ticks) }
  }).pipe(
    Effect.provide(
      Worker.layer({ handlers: [handler], concurrency: 4 }).pipe(
        Layer.provideMerge(TaskQueue.layer),
        Layer.provideMerge(MemoryBackend.layer),
        Layer.provide(Serializer.json)
      )
    )
  )

const main = Effect.gen(function*() {
  const loop = yield* race(InLoop)
  console.log(`In the event loop:       ${loop.millis} ms, results ${loop.results.join(", ")}`)
  console.log(`  the main loop ticked ${loop.ticks} times in that time (it was blocked)`)

  const pool = yield* race(OnPool).pipe(Effect.provide(ProcessPool.layer({ size: 2, preload: [module] })))
  console.log(`On a process pool of 2:  ${pool.millis} ms, results ${pool.results.join(", ")}`)
  console.log(`  the main loop ticked ${pool.ticks} times in that time (it stayed free)`)
  console.log(`Speed-up: ${(loop.millis / pool.millis).toFixed(2)}x (about 2x with two free cores)`)
})

main.pipe(NodeRuntime.runMain)
