/**
 * 03 — Bounded concurrency: a worker runs at most `concurrency` tasks at once.
 *
 * Nine tasks that each take 400 ms, one worker with `concurrency: 3`: never more than three run
 * at the same time, so the batch takes about 3 × 400 ms instead of 9 × 400 ms, and the rest wait
 * their turn in the queue.
 *
 * Run: node --conditions=sitq-source --import tsx examples/basic/03_bounded_concurrency.ts
 */
import { FileSystem } from "@effect/platform"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Clock, Effect, Layer, Ref, Schema } from "effect"
import { Serializer, Task, TaskQueue, Worker } from "sitq"
import { SqliteBackend } from "sitq/sqlite"
import * as path from "node:path"

const Work = Task.make("work", { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Number })

const main = Effect.gen(function*() {
  const running = yield* Ref.make(0)
  const peak = yield* Ref.make(0)
  const t0 = yield* Clock.currentTimeMillis
  const elapsed = Effect.map(Clock.currentTimeMillis, (t) => `${String(t - t0).padStart(5)} ms`)

  const WorkLive = Task.handler(Work, ({ n }) =>
    Effect.gen(function*() {
      const now = yield* Ref.updateAndGet(running, (r) => r + 1)
      yield* Ref.update(peak, (p) => Math.max(p, now))
      console.log(`${yield* elapsed}  start task ${n}   (running: ${now})`)
      yield* Effect.sleep("400 millis")
      yield* Ref.update(running, (r) => r - 1)
      console.log(`${yield* elapsed}  done  task ${n}`)
      return n * n
    }))

  const program = Effect.gen(function*() {
    const queue = yield* TaskQueue
    const ids = yield* queue.enqueueMany(Work, Array.from({ length: 9 }, (_, n) => ({ n })))
    console.log(`Enqueued ${ids.length} tasks; the worker runs at most 3 at a time`)
    const results = yield* Effect.forEach(ids, (id) => queue.join(Work, id, { timeout: "20 seconds" }))
    const took = (yield* Clock.currentTimeMillis) - t0
    console.log(`Results: ${results.join(", ")}`)
    console.log(`Peak concurrency: ${yield* Ref.get(peak)} (limit 3); total ${took} ms for 9 × 400 ms of work`)
  })

  const TempSqlite = Layer.unwrapScoped(Effect.map(
    Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped()),
    (dir) => SqliteBackend.layer({ filename: path.join(dir, "tasks.db") })
  ))
  yield* program.pipe(Effect.provide(
    Worker.layer({ handlers: [WorkLive], concurrency: 3 }).pipe(
      Layer.provideMerge(TaskQueue.layer),
      Layer.provideMerge(TempSqlite),
      Layer.provide(Serializer.json),
      Layer.provide(NodeContext.layer)
    )
  ))
})

main.pipe(NodeRuntime.runMain)
