/**
 * The conformance suite: every behaviour a sitq backend must show, run against a backend layer.
 * Each test builds the layer once, so the layer must give a fresh, isolated, empty store each time
 * it is built. A new backend is one file under `src/backends/` plus one test file that calls
 * `conformance(name, layer)`.
 *
 * Time is driven by `TestClock`. Backends that do real I/O get real (live) milliseconds between
 * clock steps, through `settle` and `drive` below.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import type { Layer } from "effect"
import {
  Clock,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer as L,
  Option,
  Ref,
  Schedule,
  Schema,
  Scope,
  TestClock,
  TestServices
} from "effect"
import {
  Backend,
  Priority,
  ResultTimeout,
  type RetryInput,
  SerializationError,
  Serializer,
  Task,
  TaskCancelled,
  TaskFailed,
  TaskNotFound,
  TaskQueue,
  TaskTimeout,
  Worker
} from "../../src/index.js"

// ---------------------------------------------------------------------------------------------
// Tasks used by the suite

class Boom extends Schema.TaggedError<Boom>()("Boom", { retryable: Schema.Boolean, message: Schema.String }) {}

const Echo = Task.make("echo", {
  payload: Schema.Struct({ n: Schema.Number }),
  success: Schema.Number
})

const Sleep = Task.make("sleep", {
  payload: Schema.Struct({ ms: Schema.Number, tag: Schema.String }),
  success: Schema.String
})

// ---------------------------------------------------------------------------------------------
// Helpers

/** Lets real I/O progress (a live millisecond), without moving the test clock. */
const settle = (ms = 1) => TestServices.provideLive(Effect.sleep(Duration.millis(ms)))

/** Moves the test clock in steps until the fiber is done, giving real I/O time between steps. */
const drive = <A, E>(fiber: Fiber.RuntimeFiber<A, E>, step: Duration.DurationInput = "100 millis", maxSteps = 20_000) =>
  Effect.gen(function*() {
    for (let i = 0; i < maxSteps; i++) {
      if (fiber.unsafePoll() !== null) break
      yield* TestClock.adjust(step)
      yield* settle()
    }
    return yield* Fiber.join(fiber)
  })

/** Waits (live) until the predicate holds, checking every few milliseconds, for up to `ms`. */
const eventually = <E, R>(check: Effect.Effect<boolean, E, R>, ms = 10_000) =>
  Effect.gen(function*() {
    for (let waited = 0; waited < ms; waited += 5) {
      if (yield* check) return
      yield* settle(5)
    }
    assert.fail(`condition not met within ${ms} ms`)
  })

/** Like `eventually`, but each check also moves the test clock by `step`. */
const eventuallyDriving = <E, R>(check: Effect.Effect<boolean, E, R>, step: Duration.DurationInput = "1 second") =>
  Effect.gen(function*() {
    for (let i = 0; i < 2_000; i++) {
      if (yield* check) return
      yield* TestClock.adjust(step)
      yield* settle(2)
    }
    assert.fail("condition not met")
  })

const statusOf = (id: string) => Effect.flatMap(TaskQueue, (q) => Effect.map(q.get(id), (t) => t.status))

/** One whole suite against one backend layer. */
export const conformance = (name: string, backend: Layer.Layer<Backend.Backend, unknown>) => {
  const Env = TaskQueue.layer.pipe(L.provideMerge(backend), L.provideMerge(Serializer.json))
  const EnvStructured = TaskQueue.layer.pipe(L.provideMerge(backend), L.provideMerge(Serializer.structured))
  const test = <A, E>(
    title: string,
    body: () => Effect.Effect<A, E, TaskQueue | Backend.Backend | Serializer | Scope.Scope>,
    timeout = 60_000
  ) => it.scoped(title, () => Effect.provide(body(), Env), timeout)

  describe(`conformance: ${name}`, () => {
    describe("scheduling", () => {
      test("a task delayed by 1 hour does not start before the clock reaches it, and starts after", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const started = yield* Ref.make<Array<number>>([])
          const handler = Task.handler(Echo, ({ n }) =>
            Effect.zipRight(Effect.flatMap(Clock.currentTimeMillis, (t) => Ref.update(started, (a) => [...a, t])), Effect.succeed(n)))
          const t0 = yield* Clock.currentTimeMillis
          const id = yield* queue.enqueue(Echo, { n: 1 }, { delay: "1 hour" })
          yield* Worker.drain({ handlers: [handler] })
          assert.deepStrictEqual(yield* Ref.get(started), [])
          yield* TestClock.adjust("59 minutes")
          yield* Worker.drain({ handlers: [handler] })
          assert.strictEqual(yield* statusOf(id), "pending")
          yield* TestClock.adjust("1 minute")
          yield* Worker.drain({ handlers: [handler] })
          assert.deepStrictEqual(yield* Ref.get(started), [t0 + 3_600_000])
          assert.strictEqual(yield* queue.join(Echo, id), 1)
        }))

      test("a task with an eta runs at that time, not before", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const t0 = yield* Clock.currentTimeMillis
          const eta = new Date(t0 + 90_000)
          const id = yield* queue.enqueue(Echo, { n: 2 }, { eta })
          const handler = Task.handler(Echo, ({ n }) => Effect.succeed(n))
          yield* TestClock.adjust("89 seconds")
          yield* Worker.drain({ handlers: [handler] })
          assert.strictEqual(yield* statusOf(id), "pending")
          yield* TestClock.adjust("1 second")
          yield* Worker.drain({ handlers: [handler] })
          const info = yield* queue.get(id)
          assert.strictEqual(info.status, "success")
          assert.strictEqual(info.startedAt, t0 + 90_000)
        }))

      test("tasks of mixed priority run highest first, first-in-first-out within a priority", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const order = yield* Ref.make<Array<number>>([])
          const priorities = [Priority.LOW, Priority.HIGH, Priority.NORMAL, Priority.CRITICAL, Priority.HIGH, Priority.LOW,
            Priority.NORMAL, Priority.CRITICAL, Priority.HIGH, Priority.NORMAL]
          for (let i = 0; i < priorities.length; i++) {
            yield* queue.enqueue(Echo, { n: i }, { priority: priorities[i]! })
            yield* TestClock.adjust("1 millis")
          }
          const handler = Task.handler(Echo, ({ n }) => Effect.as(Ref.update(order, (a) => [...a, n]), n))
          yield* Worker.drain({ handlers: [handler], concurrency: 1 })
          const expected = priorities
            .map((p, i) => ({ p, i }))
            .sort((a, b) => b.p - a.p || a.i - b.i)
            .map((x) => x.i)
          assert.deepStrictEqual(yield* Ref.get(order), expected)
        }))

      test("enqueue order breaks ties between tasks enqueued in the same millisecond", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const order = yield* Ref.make<Array<number>>([])
          const ids = yield* queue.enqueueMany(Echo, Array.from({ length: 20 }, (_, n) => ({ n })))
          assert.strictEqual(ids.length, 20)
          const handler = Task.handler(Echo, ({ n }) => Effect.as(Ref.update(order, (a) => [...a, n]), n))
          yield* Worker.drain({ handlers: [handler], concurrency: 1, batchSize: 3 })
          assert.deepStrictEqual(yield* Ref.get(order), Array.from({ length: 20 }, (_, n) => n))
        }))
    })

    describe("concurrency", () => {
      test("with concurrency 3, never more than 3 run at once and all ten finish", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const current = yield* Ref.make(0)
          const peak = yield* Ref.make(0)
          const handler = Task.handler(Sleep, ({ ms, tag }) =>
            Effect.gen(function*() {
              const now = yield* Ref.updateAndGet(current, (n) => n + 1)
              yield* Ref.update(peak, (p) => Math.max(p, now))
              yield* Effect.sleep(Duration.millis(ms))
              yield* Ref.update(current, (n) => n - 1)
              return tag
            }))
          const ids = yield* queue.enqueueMany(Sleep, Array.from({ length: 10 }, (_, i) => ({ ms: 1000, tag: `t${i}` })))
          const fiber = yield* Effect.fork(Worker.drain({ handlers: [handler], concurrency: 3 }))
          const stats = yield* drive(fiber, "250 millis")
          assert.strictEqual(stats.succeeded, 10)
          assert.strictEqual(yield* Ref.get(peak), 3)
          for (const id of ids) assert.strictEqual(yield* statusOf(id), "success")
        }))

      test("an idle worker starts a newly enqueued task at once, without waiting for its poll", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const started = yield* Deferred.make<void>()
          const handler = Task.handler(Echo, ({ n }) => Effect.as(Deferred.succeed(started, undefined), n))
          yield* Worker.make({ handlers: [handler], pollInterval: "1 hour" })
          yield* settle(20)
          const id = yield* queue.enqueue(Echo, { n: 7 })
          yield* eventually(Deferred.isDone(started), 5_000)
          yield* eventually(Effect.map(statusOf(id), (s) => s === "success"), 5_000)
        }))
    })

    describe("retries", () => {
      test("a task with retry recurs(2) that always fails runs 3 times and ends failed with its error", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const Flaky = Task.make("flaky", { failure: Boom, retry: Schedule.recurs(2) })
          const runs = yield* Ref.make(0)
          const handler = Task.handler(Flaky, () =>
            Effect.zipRight(Ref.update(runs, (n) => n + 1), Effect.fail(new Boom({ retryable: true, message: "it broke" }))))
          const id = yield* queue.enqueue(Flaky)
          const stats = yield* Worker.drain({ handlers: [handler] })
          assert.strictEqual(yield* Ref.get(runs), 3)
          assert.strictEqual(stats.retried, 2)
          assert.strictEqual(stats.failed, 1)
          const info = yield* queue.get(id)
          assert.strictEqual(info.status, "failed")
          assert.strictEqual(info.attempts, 3)
          assert.deepStrictEqual(info.error, { tag: "Boom", message: "it broke" })
          assert.include(info.traceback ?? "", "it broke")
          const error = yield* Effect.flip(queue.join(Flaky, id))
          assert.instanceOf(error, TaskFailed)
          assert.instanceOf(error.failure, Boom)
          assert.strictEqual((error.failure as Boom).retryable, true)
          assert.strictEqual(error.attempts, 3)
        }))

      test("with an exponential schedule the gaps between attempts follow the schedule", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const Flaky = Task.make("flaky_exp", {
            failure: Boom,
            retry: Schedule.exponential("1 second").pipe(Schedule.intersect(Schedule.recurs(3)))
          })
          const times = yield* Ref.make<Array<number>>([])
          const handler = Task.handler(Flaky, () =>
            Effect.zipRight(
              Effect.flatMap(Clock.currentTimeMillis, (t) => Ref.update(times, (a) => [...a, t])),
              Effect.fail(new Boom({ retryable: true, message: "again" }))
            ))
          const t0 = yield* Clock.currentTimeMillis
          const id = yield* queue.enqueue(Flaky)
          const drainAfter = (ms: number) =>
            Effect.zipRight(TestClock.adjust(Duration.millis(ms)), Worker.drain({ handlers: [handler] }))
          yield* drainAfter(0)
          yield* drainAfter(999)
          assert.strictEqual((yield* Ref.get(times)).length, 1)
          yield* drainAfter(1)
          yield* drainAfter(1999)
          assert.strictEqual((yield* Ref.get(times)).length, 2)
          yield* drainAfter(1)
          yield* drainAfter(4000)
          assert.deepStrictEqual(yield* Ref.get(times), [t0, t0 + 1000, t0 + 3000, t0 + 7000])
          const info = yield* queue.get(id)
          assert.strictEqual(info.status, "failed")
          assert.strictEqual(info.attempts, 4)
        }))

      // A durable retry decides as Effect.retry would with the same schedule, given the same failure
      // times: schedules bounded by elapsed time (upTo) end.
      const boundedByTime: ReadonlyArray<readonly [string, Schedule.Schedule<unknown, unknown>]> = [
        ["exponential 1s up to 10s", Schedule.exponential("1 second").pipe(Schedule.upTo("10 seconds"))],
        ["spaced 1s up to 5s", Schedule.spaced("1 second").pipe(Schedule.upTo("5 seconds"))]
      ]
      for (const [label, schedule] of boundedByTime) {
        test(`a retry schedule bounded by elapsed time ends as Effect.retry does (${label})`, () =>
          Effect.gen(function*() {
            const queue = yield* TaskQueue
            // What Effect.retry does with the schedule: the times of the attempts, from the first.
            const reference: Array<number> = []
            const start = yield* Clock.currentTimeMillis
            const retried = yield* Effect.fork(Effect.retry(
              Effect.flatMap(Clock.currentTimeMillis, (t) => {
                reference.push(t - start)
                return Effect.fail(new Boom({ retryable: true, message: "again" }))
              }),
              schedule
            ))
            for (let i = 0; i < 200 && retried.unsafePoll() === null; i++) yield* TestClock.adjust("1 second")
            assert.isTrue(Exit.isFailure(yield* Fiber.await(retried)), "Effect.retry gave up")

            const Bounded = Task.make(`bounded_${label.replace(/\W+/g, "_")}`, { failure: Boom, retry: schedule })
            const times: Array<number> = []
            const handler = Task.handler(Bounded, () =>
              Effect.flatMap(Clock.currentTimeMillis, (t) => {
                times.push(t)
                return Effect.fail(new Boom({ retryable: true, message: "again" }))
              }))
            const id = yield* queue.enqueue(Bounded)
            const t0 = yield* Clock.currentTimeMillis
            for (let i = 0; i < 50; i++) {
              yield* Worker.drain({ handlers: [handler] })
              const info = yield* queue.get(id)
              if (info.status !== "pending") break
              yield* TestClock.setTime(info.runAt)
            }
            const info = yield* queue.get(id)
            assert.strictEqual(info.status, "failed")
            assert.deepStrictEqual(times.map((t) => t - t0), reference)
            assert.strictEqual(info.attempts, reference.length)
          }))
      }

      test("Schedule.whileInput on the typed error stops retrying a non-retryable error at once", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const Picky = Task.make("picky", {
            payload: Schema.Struct({ retryable: Schema.Boolean }),
            failure: Boom,
            retry: Schedule.recurs(5).pipe(Schedule.whileInput((e: RetryInput<Boom>) =>
              e._tag === "Boom" && e.retryable
            ))
          })
          const runs = yield* Ref.make<Record<string, number>>({})
          const handler = Task.handler(Picky, ({ retryable }) =>
            Effect.zipRight(
              Ref.update(runs, (r) => ({ ...r, [String(retryable)]: (r[String(retryable)] ?? 0) + 1 })),
              Effect.fail(new Boom({ retryable, message: retryable ? "try again" : "give up" }))
            ))
          const fatal = yield* queue.enqueue(Picky, { retryable: false })
          const transient = yield* queue.enqueue(Picky, { retryable: true })
          yield* Worker.drain({ handlers: [handler] })
          assert.deepStrictEqual(yield* Ref.get(runs), { false: 1, true: 6 })
          assert.strictEqual((yield* queue.get(fatal)).attempts, 1)
          assert.strictEqual((yield* queue.get(transient)).attempts, 6)
        }))

      test("a retry that is due survives a worker restart", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const Flaky = Task.make("flaky_restart", { failure: Boom, retry: Schedule.spaced("1 minute") })
          const runs = yield* Ref.make(0)
          const handler = Task.handler(Flaky, () =>
            Effect.flatMap(Ref.updateAndGet(runs, (n) => n + 1), (n) =>
              n < 2 ? Effect.fail(new Boom({ retryable: true, message: "first" })) : Effect.void))
          const id = yield* queue.enqueue(Flaky)
          // The first worker runs the first attempt and stops.
          yield* Scope.make().pipe(
            Effect.flatMap((scope) =>
              Effect.gen(function*() {
                yield* Worker.make({ handlers: [handler] }).pipe(Scope.extend(scope))
                yield* eventuallyDriving(Effect.map(Ref.get(runs), (n) => n === 1), "10 millis")
                yield* eventually(Effect.map(queue.get(id), (t) => t.status === "pending" && t.attempts === 1))
                yield* Scope.close(scope, Exit.void)
              })
            )
          )
          const pending = yield* queue.get(id)
          assert.strictEqual(pending.error?.message, "first")
          // A new worker picks the retry up when it is due.
          yield* TestClock.adjust("1 minute")
          yield* Worker.drain({ handlers: [handler] })
          const info = yield* queue.get(id)
          assert.strictEqual(info.status, "success")
          assert.strictEqual(info.attempts, 2)
          assert.strictEqual(yield* Ref.get(runs), 2)
        }))
    })

    describe("timeouts", () => {
      test("a handler that outruns its timeout is interrupted, recorded as TaskTimeout and retried", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const Slow = Task.make("slow", { timeout: "1 second", retry: Schedule.recurs(1) })
          const finalized = yield* Ref.make(0)
          const handler = Task.handler(Slow, () =>
            Effect.sleep("1 hour").pipe(Effect.onInterrupt(() => Ref.update(finalized, (n) => n + 1))))
          const id = yield* queue.enqueue(Slow)
          const fiber = yield* Effect.fork(Worker.drain({ handlers: [handler] }))
          const stats = yield* drive(fiber, "200 millis")
          assert.strictEqual(stats.retried, 1)
          assert.strictEqual(stats.failed, 1)
          assert.strictEqual(yield* Ref.get(finalized), 2)
          const info = yield* queue.get(id)
          assert.strictEqual(info.status, "failed")
          assert.strictEqual(info.attempts, 2)
          assert.strictEqual(info.error?.tag, "TaskTimeout")
          const error = yield* Effect.flip(queue.join(Slow, id))
          assert.instanceOf(error, TaskFailed)
          assert.instanceOf(error.failure, TaskTimeout)
        }))
    })

    describe("cancellation", () => {
      test("cancelling a pending task means it never runs", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const runs = yield* Ref.make(0)
          const handler = Task.handler(Echo, ({ n }) => Effect.as(Ref.update(runs, (x) => x + 1), n))
          const id = yield* queue.enqueue(Echo, { n: 1 }, { delay: "1 hour" })
          assert.isTrue(yield* queue.cancel(id))
          assert.strictEqual(yield* statusOf(id), "cancelled")
          yield* TestClock.adjust("2 hours")
          yield* Worker.drain({ handlers: [handler] })
          assert.strictEqual(yield* Ref.get(runs), 0)
          assert.strictEqual(yield* statusOf(id), "cancelled")
          assert.isFalse(yield* queue.cancel(id))
          const error = yield* Effect.flip(queue.join(Echo, id))
          assert.instanceOf(error, TaskCancelled)
        }))

      test("cancelling a running task interrupts its fiber, runs its finalizer, and leaves it cancelled", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const started = yield* Deferred.make<void>()
          const finalized = yield* Deferred.make<void>()
          const Forever = Task.make("forever")
          const handler = Task.handler(Forever, () =>
            Effect.zipRight(Deferred.succeed(started, undefined), Effect.never).pipe(
              Effect.onInterrupt(() => Deferred.succeed(finalized, undefined))
            ))
          yield* Worker.make({ handlers: [handler], leaseDuration: "30 seconds" })
          const id = yield* queue.enqueue(Forever)
          yield* eventuallyDriving(Deferred.isDone(started), "10 millis")
          assert.strictEqual(yield* statusOf(id), "in_progress")
          assert.isTrue(yield* queue.cancel(id))
          // Pushed where the backend pushes; otherwise the next heartbeat finds the lease gone.
          yield* eventuallyDriving(Deferred.isDone(finalized), "1 second")
          yield* settle(20)
          const info = yield* queue.get(id)
          assert.strictEqual(info.status, "cancelled")
          assert.strictEqual(info.attempts, 1)
        }))
    })

    describe("leases", () => {
      test("a task whose worker died is claimed again after the lease expires; the late completion is refused", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const backend = yield* Backend.Backend
          const id = yield* queue.enqueue(Echo, { n: 5 })
          // A worker claims it and dies without releasing it.
          const [claimed] = yield* backend.claim({ owner: "dead-worker", queues: ["default"], limit: 10, leaseMillis: 30_000 })
          assert.strictEqual(claimed?.id, id)
          assert.strictEqual(claimed?.attempts, 1)
          const handler = Task.handler(Echo, ({ n }) => Effect.succeed(n * 2))
          const before = yield* Worker.drain({ handlers: [handler] })
          assert.strictEqual(before.claimed, 0)
          assert.strictEqual(yield* statusOf(id), "in_progress")
          yield* TestClock.adjust("30 seconds")
          const after = yield* Worker.drain({ handlers: [handler] })
          assert.strictEqual(after.claimed, 1)
          const info = yield* queue.get(id)
          assert.strictEqual(info.status, "success")
          assert.strictEqual(info.attempts, 2)
          assert.strictEqual(yield* queue.join(Echo, id), 10)
          const lease = { id, owner: "dead-worker", attempt: 1 }
          const late = yield* backend.settle([{ _tag: "Succeeded", lease, result: new Uint8Array([49]) }])
          assert.deepStrictEqual(late, [false])
          assert.deepStrictEqual(yield* backend.heartbeat([lease], 30_000), [id])
          assert.strictEqual(yield* queue.join(Echo, id), 10)
        }))

      test("settle is fenced by owner and attempt; heartbeat extends only held leases", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const backend = yield* Backend.Backend
          const id = yield* queue.enqueue(Echo, { n: 1 })
          const [a] = yield* backend.claim({ owner: "A", queues: ["default"], limit: 1, leaseMillis: 1_000 })
          assert.strictEqual(a?.leaseOwner, "A")
          yield* TestClock.adjust("500 millis")
          assert.deepStrictEqual(yield* backend.heartbeat([{ id, owner: "A", attempt: 1 }], 1_000), [])
          yield* TestClock.adjust("800 millis")
          // Still held thanks to the heartbeat: nobody else can claim it.
          assert.strictEqual((yield* backend.claim({ owner: "B", queues: ["default"], limit: 1, leaseMillis: 1_000 })).length, 0)
          yield* TestClock.adjust("300 millis")
          const [b] = yield* backend.claim({ owner: "B", queues: ["default"], limit: 1, leaseMillis: 1_000 })
          assert.strictEqual(b?.attempts, 2)
          assert.strictEqual(b?.leaseOwner, "B")
          const results = yield* backend.settle([
            { _tag: "Succeeded", lease: { id, owner: "A", attempt: 1 }, result: new Uint8Array() },
            { _tag: "Succeeded", lease: { id, owner: "B", attempt: 1 }, result: new Uint8Array() },
            { _tag: "Succeeded", lease: { id, owner: "B", attempt: 2 }, result: new Uint8Array([50]) }
          ])
          assert.deepStrictEqual(results, [false, false, true])
          assert.strictEqual(yield* queue.join(Echo, id), 2)
        }))

      test("a long task keeps its lease through heartbeats and is not run twice", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const runs = yield* Ref.make(0)
          const handler = Task.handler(Sleep, ({ ms, tag }) =>
            Effect.as(Effect.zipRight(Ref.update(runs, (n) => n + 1), Effect.sleep(Duration.millis(ms))), tag))
          const id = yield* queue.enqueue(Sleep, { ms: 10_000, tag: "long" })
          const first = yield* Effect.fork(Worker.drain({ handlers: [handler], leaseDuration: "3 seconds" }))
          const second = yield* Effect.fork(Worker.drain({ handlers: [handler], leaseDuration: "3 seconds" }))
          yield* drive(first, "250 millis")
          yield* drive(second, "250 millis")
          assert.strictEqual(yield* Ref.get(runs), 1)
          assert.strictEqual(yield* queue.join(Sleep, id), "long")
          assert.strictEqual((yield* queue.get(id)).attempts, 1)
        }))
    })

    describe("shutdown", () => {
      test("closing a worker's scope claims nothing new, lets running tasks finish, then releases the rest", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const started = yield* Ref.make<Array<string>>([])
          const interrupted = yield* Ref.make<Array<string>>([])
          const handler = Task.handler(Sleep, ({ ms, tag }) =>
            Effect.gen(function*() {
              yield* Ref.update(started, (a) => [...a, tag])
              yield* Effect.sleep(Duration.millis(ms))
              return tag
            }).pipe(Effect.onInterrupt(() => Ref.update(interrupted, (a) => [...a, tag]))))
          const quick = yield* queue.enqueue(Sleep, { ms: 2_000, tag: "quick" })
          const slow = yield* queue.enqueue(Sleep, { ms: 3_600_000, tag: "slow" })
          const scope = yield* Scope.make()
          yield* Worker.make({ handlers: [handler], shutdownTimeout: "5 seconds" }).pipe(Scope.extend(scope))
          yield* eventuallyDriving(Effect.map(Ref.get(started), (a) => a.length === 2), "10 millis")
          const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
          yield* settle(20)
          const late = yield* queue.enqueue(Sleep, { ms: 1, tag: "late" })
          yield* drive(closing, "500 millis")
          assert.deepStrictEqual((yield* Ref.get(started)).sort(), ["quick", "slow"])
          assert.deepStrictEqual(yield* Ref.get(interrupted), ["slow"])
          assert.strictEqual(yield* statusOf(quick), "success")
          const released = yield* queue.get(slow)
          assert.strictEqual(released.status, "pending")
          assert.strictEqual(released.attempts, 0)
          assert.strictEqual(released.leaseOwner, null)
          assert.strictEqual(yield* statusOf(late), "pending")
          // Another worker takes the released task at once, without waiting for a lease to expire.
          const next = yield* Worker.drain({
            handlers: [Task.handler(Sleep, ({ tag }) => Effect.succeed(tag))]
          })
          assert.strictEqual(next.succeeded, 2)
          assert.strictEqual(yield* queue.join(Sleep, slow), "slow")
          assert.strictEqual((yield* queue.get(slow)).attempts, 1)
        }))
    })

    describe("results", () => {
      test("join returns the typed success; getResult returns the stored value", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const Greet = Task.make("greet", {
            payload: Schema.Struct({ name: Schema.String, at: Schema.Date }),
            success: Schema.Struct({ text: Schema.String, at: Schema.Date, big: Schema.BigInt })
          })
          const handler = Task.handler(Greet, ({ at, name }) =>
            Effect.succeed({ text: `hello ${name}`, at, big: 2n ** 70n }))
          const at = new Date(1_700_000_000_000)
          const id = yield* queue.enqueue(Greet, { name: "Ada", at })
          const joined = yield* Effect.fork(queue.join(Greet, id, { timeout: "1 minute" }))
          yield* Worker.drain({ handlers: [handler] })
          const result = yield* Fiber.join(joined)
          assert.deepStrictEqual(result, { text: "hello Ada", at, big: 2n ** 70n })
          const raw = yield* queue.getResult(id)
          assert.strictEqual(raw.status, "success")
          assert.deepStrictEqual(raw.value, { text: "hello Ada", at: at.toISOString(), big: (2n ** 70n).toString() })
        }))

      test("a typed failure comes back decoded inside TaskFailed", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const Fails = Task.make("fails", { failure: Boom })
          const handler = Task.handler(Fails, () => Effect.fail(new Boom({ retryable: false, message: "nope" })))
          const id = yield* queue.enqueue(Fails)
          yield* Worker.drain({ handlers: [handler] })
          const error = yield* Effect.flip(queue.join(Fails, id))
          assert.instanceOf(error, TaskFailed)
          assert.instanceOf(error.failure, Boom)
          assert.deepStrictEqual({ ...(error.failure as Boom) }, { ...new Boom({ retryable: false, message: "nope" }) })
          const raw = yield* queue.getResult(id)
          assert.strictEqual(raw.status, "failed")
          assert.deepStrictEqual(raw.error, { tag: "Boom", message: "nope" })
        }))

      test("a handler that dies is recorded as a defect with its traceback", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const Dies = Task.make("dies")
          const handler = Task.handler(Dies, () => Effect.die(new Error("kaboom")))
          const id = yield* queue.enqueue(Dies)
          yield* Worker.drain({ handlers: [handler] })
          const info = yield* queue.get(id)
          assert.strictEqual(info.status, "failed")
          assert.strictEqual(info.error?.tag, "TaskDefect")
          assert.include(info.error?.message ?? "", "kaboom")
          assert.include(info.traceback ?? "", "kaboom")
        }))

      test("getResult of an unknown id fails with TaskNotFound", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const error = yield* Effect.flip(queue.getResult("00000000-0000-7000-8000-000000000000"))
          assert.instanceOf(error, TaskNotFound)
          assert.instanceOf(yield* Effect.flip(queue.get("nope")), TaskNotFound)
          assert.instanceOf(yield* Effect.flip(queue.cancel("nope")), TaskNotFound)
        }))

      test("waiting past the timeout fails with ResultTimeout", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const id = yield* queue.enqueue(Echo, { n: 1 })
          const waiting = yield* Effect.fork(Effect.flip(queue.join(Echo, id, { timeout: "5 seconds" })))
          const error = yield* drive(waiting, "500 millis")
          assert.instanceOf(error, ResultTimeout)
          assert.strictEqual(yield* statusOf(id), "pending")
        }))

      test("a result waiter is woken when the task finishes", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const handler = Task.handler(Echo, ({ n }) => Effect.succeed(n + 1))
          const id = yield* queue.enqueue(Echo, { n: 41 })
          const waiting = yield* Effect.fork(queue.join(Echo, id))
          yield* settle(5)
          yield* Worker.make({ handlers: [handler] })
          // Either pushed or found by polling: the clock moves in small steps.
          const value = yield* drive(waiting, "50 millis")
          assert.strictEqual(value, 42)
        }))
    })

    describe("bad input", () => {
      test("a payload that fails its schema at enqueue fails with SerializationError and stores nothing", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const Strict = Task.make("strict", {
            payload: Schema.Struct({ email: Schema.String.pipe(Schema.pattern(/@/)) })
          })
          const error = yield* Effect.flip(queue.enqueue(Strict, { email: "not-an-email" }))
          assert.instanceOf(error, SerializationError)
          assert.include(error.message, "strict")
          const manyError = yield* Effect.flip(queue.enqueueMany(Strict, [{ email: "a@b" }, { email: "bad" }]))
          assert.instanceOf(manyError, SerializationError)
          const stats = yield* queue.stats()
          assert.deepStrictEqual(stats, { pending: 0, in_progress: 0, success: 0, failed: 0, cancelled: 0 })
        }))

      test("a task whose name no handler knows ends failed with UnknownTask naming it; the worker goes on", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const Ghost = Task.make("ghost_task")
          const ghost = yield* queue.enqueue(Ghost)
          const ok = yield* queue.enqueue(Echo, { n: 3 })
          const stats = yield* Worker.drain({ handlers: [Task.handler(Echo, ({ n }) => Effect.succeed(n))] })
          assert.strictEqual(stats.failed, 1)
          assert.strictEqual(stats.succeeded, 1)
          const info = yield* queue.get(ghost)
          assert.strictEqual(info.status, "failed")
          assert.strictEqual(info.error?.tag, "UnknownTask")
          assert.include(info.error?.message ?? "", "ghost_task")
          assert.strictEqual(yield* queue.join(Echo, ok), 3)
        }))

      test("a stored payload that no longer decodes fails that task, not the worker", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const V1 = Task.make("versioned", { payload: Schema.Struct({ n: Schema.Number }) })
          const V2 = Task.make("versioned", { payload: Schema.Struct({ n: Schema.String }) })
          const old = yield* queue.enqueue(V1, { n: 1 })
          const fresh = yield* queue.enqueue(V2, { n: "one" })
          const seen = yield* Ref.make<Array<string>>([])
          const handler = Task.handler(V2, ({ n }) => Ref.update(seen, (a) => [...a, n]))
          const stats = yield* Worker.drain({ handlers: [handler] })
          assert.strictEqual(stats.failed, 1)
          assert.strictEqual(stats.succeeded, 1)
          assert.deepStrictEqual(yield* Ref.get(seen), ["one"])
          const info = yield* queue.get(old)
          assert.strictEqual(info.status, "failed")
          assert.strictEqual(info.error?.tag, "SerializationError")
          assert.include(info.error?.message ?? "", "versioned")
          assert.strictEqual(yield* statusOf(fresh), "success")
        }))
    })

    describe("dedup, batches and queries", () => {
      test("enqueue with a key while a task with that key is pending or running returns the existing id", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const backend = yield* Backend.Backend
          const first = yield* queue.enqueue(Echo, { n: 1 }, { key: "report-42" })
          const again = yield* queue.enqueue(Echo, { n: 2 }, { key: "report-42" })
          assert.strictEqual(again, first)
          yield* backend.claim({ owner: "w", queues: ["default"], limit: 1, leaseMillis: 60_000 })
          assert.strictEqual(yield* statusOf(first), "in_progress")
          assert.strictEqual(yield* queue.enqueue(Echo, { n: 3 }, { key: "report-42" }), first)
          const other = yield* queue.enqueue(Echo, { n: 4 }, { key: "report-43" })
          assert.notStrictEqual(other, first)
          yield* backend.settle([{ _tag: "Succeeded", lease: { id: first, owner: "w", attempt: 1 }, result: new Uint8Array([49]) }])
          const after = yield* queue.enqueue(Echo, { n: 5 }, { key: "report-42" })
          assert.notStrictEqual(after, first)
          const stats = yield* queue.stats()
          assert.strictEqual(stats.pending, 2)
          assert.strictEqual(stats.success, 1)
          const dup = yield* backend.enqueue([
            { id: "00000000-0000-7000-8000-00000000000a", queue: "default", name: "echo", payload: new Uint8Array(), priority: 2, runAt: 0, key: "batch-key" },
            { id: "00000000-0000-7000-8000-00000000000b", queue: "default", name: "echo", payload: new Uint8Array(), priority: 2, runAt: 0, key: "batch-key" }
          ])
          assert.deepStrictEqual(dup, [
            { id: "00000000-0000-7000-8000-00000000000a", inserted: true },
            { id: "00000000-0000-7000-8000-00000000000a", inserted: false }
          ])
        }))

      test("enqueueMany stores all tasks and a worker runs them all", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const ids = yield* queue.enqueueMany(Echo, Array.from({ length: 500 }, (_, n) => ({ n })))
          assert.strictEqual(new Set(ids).size, 500)
          assert.strictEqual((yield* queue.stats()).pending, 500)
          const sum = yield* Ref.make(0)
          const handler = Task.handler(Echo, ({ n }) => Effect.as(Ref.update(sum, (s) => s + n), n))
          const stats = yield* Worker.drain({ handlers: [handler], concurrency: 20 })
          assert.strictEqual(stats.succeeded, 500)
          assert.strictEqual(yield* Ref.get(sum), (499 * 500) / 2)
          assert.strictEqual((yield* queue.stats()).success, 500)
        }))

      test("queues are separate: a worker claims only from its queues", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const a = yield* queue.enqueue(Echo, { n: 1 }, { queue: "emails" })
          const b = yield* queue.enqueue(Echo, { n: 2 }, { queue: "reports" })
          const handler = Task.handler(Echo, ({ n }) => Effect.succeed(n))
          yield* Worker.drain({ handlers: [handler], queues: ["emails"] })
          assert.strictEqual(yield* statusOf(a), "success")
          assert.strictEqual(yield* statusOf(b), "pending")
          assert.deepStrictEqual((yield* queue.stats("reports")).pending, 1)
          assert.deepStrictEqual((yield* queue.stats("emails")).success, 1)
        }))

      test("list filters by status, name and queue; retry requeues a failed task; purge removes finished ones", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const Fails = Task.make("fails_once", { failure: Boom })
          const runs = yield* Ref.make(0)
          const failing = Task.handler(Fails, () =>
            Effect.flatMap(Ref.updateAndGet(runs, (n) => n + 1), (n) =>
              n === 1 ? Effect.fail(new Boom({ retryable: false, message: "first" })) : Effect.void))
          const echo = Task.handler(Echo, ({ n }) => Effect.succeed(n))
          const f = yield* queue.enqueue(Fails)
          const e1 = yield* queue.enqueue(Echo, { n: 1 })
          yield* TestClock.adjust("1 millis")
          const e2 = yield* queue.enqueue(Echo, { n: 2 })
          const pending = yield* queue.enqueue(Echo, { n: 3 }, { delay: "1 day" })
          yield* Worker.drain({ handlers: [failing, echo] })
          assert.deepStrictEqual((yield* queue.list({ status: "success" })).map((t) => t.id), [e1, e2])
          assert.deepStrictEqual((yield* queue.list({ status: "success", newestFirst: true, limit: 1 })).map((t) => t.id), [e2])
          assert.deepStrictEqual((yield* queue.list({ name: "fails_once" })).map((t) => t.id), [f])
          assert.deepStrictEqual((yield* queue.list({ status: "pending" })).map((t) => t.id), [pending])
          assert.strictEqual((yield* queue.list()).length, 4)
          assert.isFalse(yield* queue.retry(pending))
          assert.isTrue(yield* queue.retry(f))
          const requeued = yield* queue.get(f)
          assert.strictEqual(requeued.status, "pending")
          assert.strictEqual(requeued.attempts, 0)
          yield* Worker.drain({ handlers: [failing, echo] })
          assert.strictEqual(yield* statusOf(f), "success")
          yield* TestClock.adjust("1 hour")
          assert.strictEqual(yield* queue.purge({ olderThan: "2 hours" }), 0)
          assert.strictEqual(yield* queue.purge({ olderThan: "30 minutes", statuses: ["failed"] }), 0)
          assert.strictEqual(yield* queue.purge({ olderThan: "30 minutes" }), 3)
          const left = yield* queue.list()
          assert.deepStrictEqual(left.map((t) => t.id), [pending])
          assert.instanceOf(yield* Effect.flip(queue.get(e1)), TaskNotFound)
        }))

      test("nextWakeAt reports the earliest due time of pending tasks and leases", () =>
        Effect.gen(function*() {
          const queue = yield* TaskQueue
          const backend = yield* Backend.Backend
          const t0 = yield* Clock.currentTimeMillis
          assert.isTrue(Option.isNone(yield* backend.nextWakeAt(["default"])))
          yield* queue.enqueue(Echo, { n: 1 }, { delay: "10 minutes" })
          yield* queue.enqueue(Echo, { n: 2 }, { delay: "5 minutes", queue: "other" })
          assert.deepStrictEqual(yield* backend.nextWakeAt(["default"]), Option.some(t0 + 600_000))
          assert.deepStrictEqual(yield* backend.nextWakeAt(["default", "other"]), Option.some(t0 + 300_000))
          yield* queue.enqueue(Echo, { n: 3 })
          yield* backend.claim({ owner: "w", queues: ["default"], limit: 1, leaseMillis: 60_000 })
          assert.deepStrictEqual(yield* backend.nextWakeAt(["default"]), Option.some(t0 + 60_000))
        }))
    })
  })

  describe(`conformance: ${name} (structured serializer)`, () => {
    it.scoped("Date, Map, Set, BigInt, typed arrays and Error survive a round trip through the store", () =>
      Effect.gen(function*() {
        const queue = yield* TaskQueue
        const Rich = Task.make("rich", { payload: Schema.Unknown, success: Schema.Unknown })
        const handler = Task.handler(Rich, (payload) => Effect.succeed(payload))
        const value = {
          date: new Date(1_700_000_000_000),
          map: new Map<string, bigint>([["a", 1n], ["b", 2n ** 80n]]),
          set: new Set([1, 2, 3]),
          bytes: new Uint8Array([0, 255, 128, 7]),
          floats: new Float64Array([1.5, -0]),
          error: new RangeError("out of range")
        }
        const id = yield* queue.enqueue(Rich, value)
        yield* Worker.drain({ handlers: [handler] })
        const back = (yield* queue.join(Rich, id)) as typeof value
        expect(back.date).toEqual(value.date)
        expect(back.map).toEqual(value.map)
        expect(back.set).toEqual(value.set)
        expect(back.bytes).toEqual(value.bytes)
        expect(back.floats).toEqual(value.floats)
        assert.instanceOf(back.error, RangeError)
        assert.strictEqual(back.error.message, "out of range")
      }).pipe(Effect.provide(EnvStructured)))
  })
}
