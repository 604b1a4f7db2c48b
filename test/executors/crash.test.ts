/**
 * A crash inside a pool (a throw, `process.exit`, a thread out of memory through
 * `resourceLimits`, an endless loop past the timeout) becomes `TaskDefect` or `TaskTimeout`, the
 * task's schedule retries it, the pool replaces the member that died, and the retry succeeds.
 * A thrown value that matches the failure schema is the typed failure.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Ref, Schedule, Schema } from "effect"
import { Executor, ProcessPool, ThreadPool } from "../../src/executors.js"
import type { RetryInput } from "../../src/index.js"
import { Task, TaskDefect, TaskFailed, TaskQueue, Worker } from "../../src/index.js"
import { backends, TestPool, work } from "./helpers.js"

class Rejected extends Schema.TaggedError<Rejected>()("Rejected", { reason: Schema.String }) {}

/** A task that fails its first attempt by `how`; `seen` collects the errors the schedule got. */
const crashing = (how: string, seen: Ref.Ref<ReadonlyArray<string>>) =>
  Task.make(`crash_${how}`, {
    payload: Schema.Struct({ how: Schema.String }),
    success: Schema.Number,
    timeout: "2 seconds",
    retry: Schedule.recurs(1).pipe(
      Schedule.tapInput((error: RetryInput<never>) => Ref.update(seen, (errors) => [...errors, `${error._tag}: ${error.message}`]))
    )
  })

const Reject = Task.make("crash_reject", {
  payload: Schema.Struct({ typed: Schema.Boolean }),
  failure: Rejected,
  retry: Schedule.recurs(1).pipe(Schedule.whileInput((error: RetryInput<Rejected>) => error._tag !== "Rejected"))
})

/** The same task, run by a module that throws an instance of the failure class. */
const RejectClass = Task.make("crash_reject_class", { payload: Reject.payload, failure: Rejected })
const rejectModule = new URL("../fixtures/executors/reject.ts", import.meta.url)

const cases = [
  {
    name: "thread pool, memory",
    make: () => ThreadPool.make({ size: 1, preload: [work], resourceLimits: { maxOldGenerationSizeMb: 32 } }),
    backend: backends.memory,
    crashes: [
      ["throw", "TaskDefect: task 'crash_throw' died: ", "boom on the first attempt", false],
      ["exit", "TaskDefect: task 'crash_exit' died: ", "exited with code 3", true],
      ["oom", "TaskDefect: task 'crash_oom' died: ", "out of memory", true],
      ["loop", "TaskTimeout: task 'crash_loop'", "timed out after 2s", true]
    ]
  },
  {
    name: "process pool, SQLite",
    make: () => ProcessPool.make({ size: 1, preload: [work] }),
    backend: backends.sqlite,
    crashes: [
      ["throw", "TaskDefect: task 'crash_throw' died: ", "boom on the first attempt", false],
      ["exit", "TaskDefect: task 'crash_exit' died: ", "exited with code 3", true],
      ["loop", "TaskTimeout: task 'crash_loop'", "timed out after 2s", true]
    ]
  }
] as const

describe("executors: crashes", () => {
  for (const { backend, crashes, make, name } of cases) {
    it.scopedLive(`${name}: each crash is a defect or a timeout, retried on a new member`, () =>
      Effect.gen(function*() {
        const queue = yield* TaskQueue
        const pool = yield* make()
        const seen = yield* Ref.make<ReadonlyArray<string>>([])
        const tasks = crashes.map(([how]) => crashing(how, seen))
        yield* Worker.make({
          handlers: [
            ...tasks.map((task) => Executor.handler(TestPool, task, { module: work, export: "crashOnce" })),
            Executor.handler(TestPool, Reject, { module: work, export: "reject" }),
            Executor.handler(TestPool, RejectClass, { module: rejectModule, export: "reject" })
          ],
          pollInterval: "100 millis"
        }).pipe(Effect.provideService(TestPool, pool))

        for (const [i, [how, prefix, detail, replaced]] of crashes.entries()) {
          yield* Ref.set(seen, [])
          const before = yield* pool.started
          const id = yield* queue.enqueue(tasks[i], { how })
          assert.strictEqual(yield* queue.join(tasks[i], id, { timeout: "60 seconds" }), 2, `${how}: the retry`)
          assert.strictEqual((yield* queue.get(id)).attempts, 2)
          const errors = Array.from(new Set(yield* Ref.get(seen)))
          assert.strictEqual(errors.length, 1, `${how}: ${errors.join(" | ")}`)
          assert.isTrue(errors[0].startsWith(prefix), `${how}: ${errors[0]}`)
          assert.include(errors[0], detail)
          assert.strictEqual((yield* pool.started) - before, replaced ? 1 : 0, `${how}: members started`)
        }

        const typedId = yield* queue.enqueue(Reject, { typed: true })
        const typed = yield* Effect.flip(queue.join(Reject, typedId))
        assert.instanceOf(typed, TaskFailed)
        assert.strictEqual((yield* queue.get(typedId)).attempts, 1, "the schedule stops on a Rejected")
        const failure = (typed as TaskFailed).failure
        assert.instanceOf(failure, Rejected)
        assert.strictEqual((failure as Rejected).reason, "not today")

        const instance = yield* Effect.flip(queue.join(RejectClass, yield* queue.enqueue(RejectClass, { typed: true })))
        assert.instanceOf((instance as TaskFailed).failure, Rejected)
        assert.strictEqual(((instance as TaskFailed).failure as Rejected).reason, "not today either")

        const untypedId = yield* queue.enqueue(Reject, { typed: false })
        const untyped = yield* Effect.flip(queue.join(Reject, untypedId))
        assert.strictEqual((yield* queue.get(untypedId)).attempts, 2, "a defect is retried")
        const defect = (untyped as TaskFailed).failure
        assert.instanceOf(defect, TaskDefect)
        assert.include((defect as TaskDefect).message, "a plain string")
      }).pipe(Effect.provide(backend)), 120_000)
  }
})
