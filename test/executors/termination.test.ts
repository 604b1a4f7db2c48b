/**
 * A timeout or a cancellation stops the work itself, not just the wait for it: the thread is
 * terminated or the child killed (its pid is gone), the busy loop stops writing its ticks, and the
 * pool starts a new member in its place.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { join } from "node:path"
import { Executor } from "../../src/executors.js"
import { Task, TaskCancelled, TaskFailed, TaskQueue, TaskTimeout, Worker } from "../../src/index.js"
import { alive, awaitTicks, BurnPayload, cases, eventually, stopped, tempDir, TestPool, work } from "./helpers.js"

const Burn = Task.make("stop_burn", { payload: BurnPayload, success: Schema.Number, timeout: "1 second" })
const Endless = Task.make("stop_endless", { payload: BurnPayload, success: Schema.Number })


describe("executors: timeouts and cancellations stop the work", () => {
  for (const { backend, kind, make, name } of cases) {
    it.scopedLive(`${name}: a timeout terminates the member and a cancellation too`, () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const queue = yield* TaskQueue
        const pool = yield* make({ size: 1, preload: [work] })
        const first = yield* pool.members
        yield* Worker.make({
          handlers: [
            Executor.handler(TestPool, Burn, { module: work, export: "burn" }),
            Executor.handler(TestPool, Endless, { module: work, export: "burn" })
          ],
          pollInterval: "100 millis"
        }).pipe(Effect.provideService(TestPool, pool))

        // A timeout: the attempt ends with TaskTimeout once the member is gone.
        const timedFile = join(dir, "timed.json")
        const timed = yield* queue.enqueue(Burn, { millis: 60_000, file: timedFile })
        const failed = yield* Effect.flip(queue.join(Burn, timed, { timeout: "30 seconds" }))
        assert.instanceOf(failed, TaskFailed)
        assert.instanceOf((failed as TaskFailed).failure, TaskTimeout)
        const runner = (yield* readRunner(timedFile))
        assert.isTrue(yield* stopped(timedFile), "the busy loop still runs after the timeout")
        if (kind === "process") assert.isFalse(alive(runner.pid), `child ${runner.pid} is still running`)
        else assert.notInclude(yield* pool.members, runner.threadId)
        assert.notInclude(yield* pool.members, first[0])

        // The pool replaced it: the next task runs, and a cancellation stops it the same way.
        const cancelledFile = join(dir, "cancelled.json")
        const cancelled = yield* queue.enqueue(Endless, { millis: 60_000, file: cancelledFile })
        const busy = yield* awaitTicks(cancelledFile)
        assert.isTrue(yield* queue.cancel(cancelled))
        const error = yield* Effect.flip(queue.join(Endless, cancelled, { timeout: "30 seconds" }))
        assert.instanceOf(error, TaskCancelled)
        assert.isTrue(yield* stopped(cancelledFile), "the busy loop still runs after the cancellation")
        if (kind === "process") {
          assert.notStrictEqual(busy.pid, runner.pid)
          assert.isTrue(yield* eventually(Effect.sync(() => !alive(busy.pid))), `child ${busy.pid} is still running`)
        }
        assert.isTrue(yield* eventually(Effect.map(pool.members, (m) => m.length === 1)))
        assert.strictEqual(yield* pool.started, 3)
      }).pipe(Effect.provide(backend)), 90_000)
  }
})

const readRunner = (file: string) => awaitTicks(file, 1)
