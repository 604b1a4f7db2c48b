/**
 * 07 — Blocking synchronous code on a thread pool.
 *
 * Some libraries only offer synchronous calls that block (a synchronous SDK or driver, a password
 * hash). Run in the worker's event loop, each call stops everything else for its duration. On a
 * thread pool (`worker_threads`) they block a pool thread instead: six 300 ms lookups on three
 * threads take about 600 ms, and the worker's loop goes on meanwhile. A call that hangs is cut by
 * the task's timeout: its thread is terminated (the blocking call cannot be interrupted any other
 * way) and the pool starts a new one.
 *
 * The functions live in `executors/legacy.ts`, a module of plain functions, named by URL.
 *
 * Run: node --import tsx examples/basic/07_thread_pool.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Clock, Effect, Layer, Schema } from "effect"
import { MemoryBackend, Serializer, Task, TaskFailed, TaskQueue, Worker } from "sitq"
import { ThreadPool } from "sitq/executors"

const Lookup = Task.make("lookup", {
  payload: Schema.Struct({ key: Schema.String, millis: Schema.Number }),
  success: Schema.String,
  timeout: "1 second"
})
const Hash = Task.make("hash", { payload: Schema.Struct({ password: Schema.String }), success: Schema.String })

const module = new URL("./executors/legacy.ts", import.meta.url)

const program = Effect.gen(function*() {
  const queue = yield* TaskQueue
  const pool = yield* ThreadPool
  const threads = yield* pool.members

  const t0 = yield* Clock.currentTimeMillis
  const keys = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
  const ids = yield* queue.enqueueMany(Lookup, keys.map((key) => ({ key, millis: 300 })))
  const values = yield* Effect.forEach(ids, (id) => queue.join(Lookup, id))
  const took = (yield* Clock.currentTimeMillis) - t0
  console.log(`Six blocking 300 ms lookups on ${pool.size} threads: ${values.join(" ")}`)
  console.log(`  took ${took} ms (about 600 ms: three at a time), not 1800 ms`)

  const hashed = yield* queue.join(Hash, yield* queue.enqueue(Hash, { password: "correct horse" }))
  console.log(`scrypt hash on a pool thread: ${hashed}`)

  // A call that would block for a minute: the timeout terminates its thread.
  const hung = yield* queue.enqueue(Lookup, { key: "hung", millis: 60_000 })
  const error = yield* Effect.flip(queue.join(Lookup, hung))
  const failure = error instanceof TaskFailed ? error.failure : error
  console.log(`A hung call: ${(failure as { _tag: string })._tag} (${(failure as { message: string }).message})`)
  let now = yield* pool.members
  while (now.length < threads.length) now = yield* Effect.zipRight(Effect.sleep("50 millis"), pool.members)
  console.log(`Pool threads before: ${threads.length}, after: ${now.length}; ${now.filter((t) => !threads.includes(t)).length} of them new`)
})

const Live = Worker.layer({
  handlers: [
    ThreadPool.handler(Lookup, { module, export: "lookup" }),
    ThreadPool.handler(Hash, { module, export: "hash" })
  ],
  concurrency: 8
}).pipe(
  Layer.provideMerge(TaskQueue.layer),
  Layer.provideMerge(MemoryBackend.layer),
  Layer.provideMerge(ThreadPool.layer({ size: 3, preload: [module] })),
  Layer.provide(Serializer.json)
)

program.pipe(Effect.provide(Live), NodeRuntime.runMain)
