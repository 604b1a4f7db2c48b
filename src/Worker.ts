/**
 * The worker: claims due tasks from the backend in batches, runs their handlers under a
 * concurrency bound, keeps their leases alive, applies each task's timeout and retry schedule,
 * records outcomes in batches, interrupts tasks that are cancelled, and shuts down gracefully.
 *
 * - `Worker.layer(options)`: a worker that runs for the layer's lifetime; closing the layer's scope
 *   stops claiming, lets running tasks finish within `shutdownTimeout`, then interrupts the rest
 *   and releases their leases so another worker takes them at once.
 * - `Worker.run(options)`: the same as an effect that runs until interrupted.
 * - `Worker.drain(options)`: runs until no task is due and none is running, then returns counts
 *   (for tests, scripts and batch jobs).
 *
 * An idle worker waits for a push from the backend (a task was enqueued, retried or released), for
 * the next known due time, or for `pollInterval`, whichever comes first; it never spins.
 *
 * @since 0.1.0
 */
import type { Duration, Scope } from "effect"
import {
  Cause,
  Clock,
  Context,
  Duration as D,
  Effect,
  Exit,
  Fiber,
  FiberMap,
  Layer,
  Metric,
  Option,
  Queue,
  Schedule
} from "effect"
import type * as B from "./Backend.js"
import { Backend } from "./Backend.js"
import type { BackendError } from "./Errors.js"
import { TaskDefect, TaskTimeout, UnknownTask } from "./Errors.js"
import * as Batcher from "./internal/batcher.js"
import * as Codec from "./internal/codec.js"
import { uuidv7FromMillis } from "./internal/id.js"
import { nextRunAt } from "./internal/retry.js"
import { Serializer } from "./Serializer.js"
import type { Handler, TaskContext } from "./Task.js"
import { defaultQueue } from "./Task.js"

/**
 * Worker options. Only `handlers` is required.
 *
 * @since 0.1.0
 * @category models
 */
export interface WorkerOptions<H extends ReadonlyArray<Handler.Any>> {
  /** The handlers this worker runs. A claimed task whose name none knows fails with `UnknownTask`. */
  readonly handlers: H
  /** How many tasks run at once (default 10). */
  readonly concurrency?: number | undefined
  /** The queues to claim from (default: the queues of the handlers' tasks). */
  readonly queues?: ReadonlyArray<string> | undefined
  /** How long an idle worker waits before looking again when nothing is pushed (default 1 second). */
  readonly pollInterval?: Duration.DurationInput | undefined
  /** How long a claim holds a task before another worker may take it (default 30 seconds). */
  readonly leaseDuration?: Duration.DurationInput | undefined
  /** How often running tasks' leases are extended (default a third of `leaseDuration`). */
  readonly heartbeatInterval?: Duration.DurationInput | undefined
  /** How long shutdown waits for running tasks before interrupting them (default 10 seconds). */
  readonly shutdownTimeout?: Duration.DurationInput | undefined
  /** Most tasks claimed in one round trip (default `concurrency`). */
  readonly batchSize?: number | undefined
  /** This worker's lease owner id (default a new UUIDv7). */
  readonly workerId?: string | undefined
}

/**
 * Counts of what a worker did.
 *
 * @since 0.1.0
 * @category models
 */
export interface WorkerStats {
  readonly claimed: number
  readonly succeeded: number
  readonly failed: number
  readonly retried: number
  readonly released: number
  /** Outcomes the backend refused: the lease was lost (cancelled, expired and taken). */
  readonly refused: number
}

/**
 * The running worker.
 *
 * @since 0.1.0
 * @category models
 */
export interface WorkerService {
  /** The lease owner id of this worker. */
  readonly id: string
  /** How many tasks are running now. */
  readonly running: Effect.Effect<number>
  /** What this worker has done so far. */
  readonly stats: Effect.Effect<WorkerStats>
}

/**
 * The counter of finished task attempts, tagged `outcome` = `Succeeded` | `Failed` | `Retrying` |
 * `Released`. Read it with `Metric.value(Metric.tagged(taskOutcomes, "outcome", "Failed"))`, or
 * export it with `@effect/opentelemetry`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const taskOutcomes: Metric.Metric.Counter<number> = Metric.counter("sitq_worker_tasks", {
  description: "Task attempts finished by sitq workers, by outcome",
  incremental: true
})
/** Counts accepted outcomes per kind, one metric update per kind and batch. */
const recordMetrics = (batch: ReadonlyArray<B.Outcome>, accepted: ReadonlyArray<boolean>) => {
  const byTag = { Succeeded: 0, Failed: 0, Retrying: 0, Released: 0 }
  batch.forEach((outcome, i) => {
    if (accepted[i]) byTag[outcome._tag]++
  })
  return Effect.forEach(
    Object.entries(byTag) as Array<[B.Outcome["_tag"], number]>,
    ([tag, n]) => n === 0 ? Effect.void : Metric.incrementBy(outcomeCounters[tag], n),
    { discard: true }
  )
}

const outcomeCount = {
  Succeeded: "succeeded",
  Failed: "failed",
  Retrying: "retried",
  Released: "released"
} as const
const outcomeCounters: Record<B.Outcome["_tag"], Metric.Metric.Counter<number>> = {
  Succeeded: Metric.tagged(taskOutcomes, "outcome", "Succeeded"),
  Failed: Metric.tagged(taskOutcomes, "outcome", "Failed"),
  Retrying: Metric.tagged(taskOutcomes, "outcome", "Retrying"),
  Released: Metric.tagged(taskOutcomes, "outcome", "Released")
}

type Mode = "run" | "drain"

interface Internal {
  readonly service: WorkerService
  readonly loop: Fiber.RuntimeFiber<void>
  /** Waits until every outcome submitted so far is recorded. */
  readonly idle: Effect.Effect<void>
}

const makeInternal = <H extends ReadonlyArray<Handler.Any>>(
  options: WorkerOptions<H>,
  mode: Mode
): Effect.Effect<Internal, never, Backend | Serializer | Scope.Scope | Handler.Context<H[number]>> =>
  Effect.gen(function*() {
    const backend = yield* Backend
    const serializer = yield* Serializer
    const concurrency = Math.max(1, options.concurrency ?? 10)
    const batchSize = Math.max(1, options.batchSize ?? concurrency)
    const refill = Math.max(1, Math.floor(concurrency / 4))
    const pollInterval = D.decode(options.pollInterval ?? "1 second")
    const leaseMillis = D.toMillis(D.decode(options.leaseDuration ?? "30 seconds"))
    const heartbeatInterval = options.heartbeatInterval === undefined
      ? D.millis(Math.max(1, Math.floor(leaseMillis / 3)))
      : D.decode(options.heartbeatInterval)
    const shutdownTimeout = D.decode(options.shutdownTimeout ?? "10 seconds")
    const owner = options.workerId ?? uuidv7FromMillis(yield* Clock.currentTimeMillis)
    const handlers = new Map<string, Handler.Any>(options.handlers.map((h) => [h.task.name, h]))
    const codecs = Codec.cache(serializer)
    const queues: ReadonlyArray<string> = options.queues ??
      (options.handlers.length === 0 ? [defaultQueue] : Array.from(new Set(options.handlers.map((h) => h.task.queue))))
    const queueSet = new Set(queues)

    const counts = { claimed: 0, succeeded: 0, failed: 0, retried: 0, released: 0, refused: 0 }
    /** Leases of the tasks running now: the source of truth for how many slots are taken. */
    const active = new Map<string, B.Lease>()
    const wake = yield* Effect.makeLatch(false)

    let backlog = false

    // Created first, so closed last: outcomes of interrupted tasks are still recorded on shutdown.
    const outcomes = yield* Batcher.make({
      flush: (batch: ReadonlyArray<B.Outcome>) =>
        backend.settle(batch).pipe(
          Effect.retry(Schedule.exponential("50 millis").pipe(Schedule.intersect(Schedule.recurs(5)))),
          Effect.tap((accepted) => recordMetrics(batch, accepted))
        ),
      onResult: (outcome, exit: Exit.Exit<boolean, BackendError>) => {
        if (Exit.isFailure(exit)) {
          return Effect.logError("sitq: could not record a task outcome; its lease will expire and it will run again")
            .pipe(Effect.annotateLogs({ task: outcome.lease.id, outcome: outcome._tag, cause: Cause.pretty(exit.cause) }))
        }
        if (!exit.value) {
          counts.refused++
          return Effect.void
        }
        counts[outcomeCount[outcome._tag]]++
        return Effect.void
      },
      maxBatch: Math.max(64, concurrency)
    })
    const running = yield* FiberMap.make<string>()
    // The runtime is captured once: every task fiber runs with the worker's context, which holds
    // the handlers' requirements.
    const fork = yield* FiberMap.runtime(running)<Handler.Context<H[number]>>()

    /** The outcome of a failed attempt: retry by the task's schedule, or fail for good. */
    const failure = (
      rec: B.TaskRecord,
      lease: B.Lease,
      error: unknown,
      traceback: string | null,
      retry: Handler.Any["task"]["retry"]
    ) =>
      Effect.gen(function*() {
        const handler = handlers.get(rec.name)
        const stored = yield* Codec.storeError(error, handler?.task.failure ?? UnknownTask, serializer)
        const failureTimes = [...rec.failureTimes, yield* Clock.currentTimeMillis]
        if (retry !== undefined) {
          // The schedule was typed by the task's definer to accept exactly the errors fed here.
          const next = yield* nextRunAt(retry as unknown as Schedule.Schedule<unknown, unknown>, failureTimes, error)
          if (Option.isSome(next)) {
            yield* Effect.logDebug("sitq: task attempt failed; retrying").pipe(
              Effect.annotateLogs({ task: rec.id, name: rec.name, attempt: rec.attempts, runAt: next.value })
            )
            return { _tag: "Retrying", lease, runAt: next.value, error: stored, traceback, failureTimes } satisfies B.Outcome
          }
        }
        yield* Effect.logWarning("sitq: task failed").pipe(
          Effect.annotateLogs({ task: rec.id, name: rec.name, attempts: rec.attempts, error: stored.message })
        )
        return { _tag: "Failed", lease, error: stored, traceback, failureTimes } satisfies B.Outcome
      })

    const attempt = (rec: B.TaskRecord, lease: B.Lease): Effect.Effect<B.Outcome, never, Handler.Context<H[number]>> => {
      const handler = handlers.get(rec.name)
      if (handler === undefined) {
        const error = new UnknownTask({
          taskName: rec.name,
          message: `no handler for task '${rec.name}' on worker ${owner} (it knows: ${
            Array.from(handlers.keys()).join(", ") || "none"
          })`
        })
        return failure(rec, lease, error, null, undefined)
      }
      const task = handler.task
      const taskContext: TaskContext = {
        id: rec.id,
        name: rec.name,
        queue: rec.queue,
        attempt: rec.attempts,
        enqueuedAt: rec.enqueuedAt
      }
      const codec = codecs(task)
      return codec.payload.decode(rec.payload)
        .pipe(
          Effect.matchEffect({
            // A payload that no longer decodes will not decode on a retry either.
            onFailure: (error) => failure(rec, lease, error, null, undefined),
            onSuccess: (payload) => {
              // `handlers` lost each handler's own requirements; the task fiber's runtime has them all.
              const run = handler.run(payload, taskContext) as Effect.Effect<
                unknown,
                unknown,
                Handler.Context<H[number]>
              >
              const timed = task.timeout === undefined ? run : Effect.timeoutFail(run, {
                duration: task.timeout,
                onTimeout: () =>
                  new TaskTimeout({
                    taskName: rec.name,
                    timeoutMillis: D.toMillis(task.timeout!),
                    message: `task '${rec.name}' (${rec.id}) timed out after ${D.format(task.timeout!)}`
                  })
              })
              return Effect.flatMap(Effect.exit(timed), (exit) => {
                if (Exit.isSuccess(exit)) {
                  return codec.success.encode(exit.value).pipe(
                    Effect.matchEffect({
                      onFailure: (error) => failure(rec, lease, error, null, undefined),
                      onSuccess: (result) => Effect.succeed<B.Outcome>({ _tag: "Succeeded", lease, result })
                    })
                  )
                }
                const cause = exit.cause
                const typed = Cause.failureOption(cause)
                const error = Option.isSome(typed) ? typed.value : new TaskDefect({
                  taskName: rec.name,
                  message: Cause.isInterruptedOnly(cause)
                    ? `task '${rec.name}' interrupted itself`
                    : `task '${rec.name}' died: ${Cause.pretty(Cause.stripFailures(cause)).split("\n")[0]}`
                })
                return failure(rec, lease, error, Cause.pretty(cause), task.retry)
              })
            }
          })
        )
    }

    const process = (rec: B.TaskRecord) => {
      const lease: B.Lease = { id: rec.id, owner, attempt: rec.attempts }
      let submitted = false
      const submit = (outcome: B.Outcome) =>
        Effect.sync(() => {
          if (submitted) return
          submitted = true
          outcomes.submit(outcome)
        })
      return attempt(rec, lease).pipe(
        Effect.flatMap(submit),
        // Interrupted by shutdown, cancellation or a lost lease: give the task back. The backend
        // refuses this when the lease is no longer ours (cancelled, re-claimed).
        Effect.onInterrupt(() => submit({ _tag: "Released", lease })),
        Effect.ensuring(Effect.sync(() => {
          active.delete(rec.id)
          // Wake the claim loop when it has something to do: a refill's worth of free slots while
          // work is known to be waiting, or nothing left running (drain ends, an idle worker polls).
          if (active.size === 0 || (backlog && concurrency - active.size >= refill)) wake.unsafeOpen()
        }))
      )
    }

    const start = (rec: B.TaskRecord) => {
      active.set(rec.id, { id: rec.id, owner, attempt: rec.attempts })
      fork(rec.id, process(rec))
    }

    const interruptTask = (id: string) =>
      Option.match(FiberMap.unsafeGet(running, id), {
        onNone: () => Effect.void,
        onSome: (fiber) => Effect.asVoid(Fiber.interruptFork(fiber))
      })

    // Pushes: new work wakes the loop, a cancellation interrupts the task wherever it runs.
    const events = yield* backend.subscribe
    yield* Queue.take(events).pipe(
      Effect.flatMap((event) => {
        switch (event._tag) {
          case "Ready":
            if (queueSet.has(event.queue)) wake.unsafeOpen()
            return Effect.void
          case "Cancelled":
            return Effect.forEach(event.ids, interruptTask, { discard: true })
          case "Finished":
            return Effect.void
        }
      }),
      Effect.forever,
      Effect.forkScoped
    )

    // Heartbeat: extend the leases of running tasks; interrupt those whose lease is lost.
    yield* Effect.suspend(() => {
      const leases = Array.from(active.values())
      return leases.length === 0 ? Effect.void : Effect.flatMap(
        backend.heartbeat(leases, leaseMillis),
        (lost) => Effect.forEach(lost, interruptTask, { discard: true })
      )
    }).pipe(
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.failCause(cause)
          : Effect.logWarning("sitq: lease heartbeat failed; retrying").pipe(
            Effect.annotateLogs({ cause: Cause.pretty(cause) })
          )
      ),
      Effect.repeat(Schedule.spaced(heartbeatInterval)),
      Effect.forkScoped
    )

    const idleWait = Effect.gen(function*() {
      const next = yield* backend.nextWakeAt(queues).pipe(Effect.orElseSucceed(() => Option.none<number>()))
      const now = yield* Clock.currentTimeMillis
      const poll = D.toMillis(pollInterval)
      const wait = Option.match(next, {
        onNone: () => poll,
        onSome: (at) => Math.min(poll, Math.max(1, at - now))
      })
      yield* Effect.raceFirst(wake.await, Effect.sleep(D.millis(wait)))
    })

    const claimFailed = (error: BackendError) =>
      Effect.zipRight(
        Effect.logWarning("sitq: claim failed; retrying").pipe(Effect.annotateLogs({ error: error.message })),
        Effect.as(Effect.sleep(pollInterval), [] as ReadonlyArray<B.TaskRecord>)
      )

    const loop = Effect.gen(function*() {
      let confirming = false
      while (true) {
        yield* wake.close
        const free = concurrency - active.size
        if (free <= 0 || (backlog && free < refill)) {
          yield* wake.await
          continue
        }
        // Draining, after a claim found nothing: record every outcome before looking once more, so
        // a retry that is due now is seen.
        if (confirming) yield* outcomes.idle
        const limit = Math.min(free, batchSize)
        const claimed = yield* backend.claim({ owner, queues, limit, leaseMillis }).pipe(Effect.catchAll(claimFailed))
        counts.claimed += claimed.length
        if (claimed.length > 0) confirming = false
        for (const rec of claimed) start(rec)
        backlog = claimed.length === limit
        if (backlog) continue
        if (mode === "drain") {
          // Done when a claim made with every outcome recorded and nothing running finds nothing.
          // (Claimed tasks may already have finished: a task fiber runs synchronously until it
          // first waits.)
          if (claimed.length === 0 && active.size === 0) {
            if (confirming) return
            confirming = true
            continue
          }
          if (active.size > 0) yield* wake.await
          continue
        }
        yield* idleWait
      }
    })

    // A running worker outlives a defect in its loop (a backend bug, a driver throwing): it logs
    // it and starts the loop again after `pollInterval`. Draining surfaces it instead.
    const supervised = mode === "drain" ? loop : loop.pipe(
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : Effect.logError("sitq: worker loop failed; restarting").pipe(
          Effect.annotateLogs({ worker: owner, cause: Cause.pretty(cause) }),
          Effect.zipRight(Effect.sleep(pollInterval))
        )
      ),
      Effect.forever
    )
    const loopFiber = yield* Effect.forkScoped(supervised)

    // Graceful shutdown (runs before the fibers above are interrupted): stop claiming, give
    // running tasks `shutdownTimeout` to finish, then interrupt them (their leases are released).
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* Fiber.interrupt(loopFiber)
        if (active.size > 0) {
          yield* Effect.logInfo("sitq: worker stopping; waiting for running tasks").pipe(
            Effect.annotateLogs({ worker: owner, running: active.size })
          )
          // Finalizers run uninterruptibly: the wait itself must be interruptible for the timeout to cut it.
          yield* FiberMap.awaitEmpty(running).pipe(Effect.interruptible, Effect.timeout(shutdownTimeout), Effect.ignore)
          yield* FiberMap.clear(running)
        }
      })
    )

    yield* Effect.logDebug("sitq: worker started").pipe(
      Effect.annotateLogs({ worker: owner, queues: queues.join(","), concurrency })
    )

    const service: WorkerService = {
      id: owner,
      running: Effect.sync(() => active.size),
      stats: Effect.sync(() => ({ ...counts }))
    }
    return { service, loop: loopFiber, idle: outcomes.idle }
  })

/**
 * Starts a worker for the scope's lifetime.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <const H extends ReadonlyArray<Handler.Any>>(
  options: WorkerOptions<H>
): Effect.Effect<WorkerService, never, Backend | Serializer | Scope.Scope | Handler.Context<H[number]>> =>
  Effect.map(makeInternal(options, "run"), (internal) => internal.service)

/**
 * The `Worker` service: `Worker.layer(options)` runs a worker for the layer's lifetime.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { MemoryBackend, Serializer, TaskQueue, Worker } from "sitq"
 *
 * const Live = Worker.layer({ handlers: [SendEmailLive], concurrency: 10 }).pipe(
 *   Layer.provideMerge(TaskQueue.layer),
 *   Layer.provideMerge(MemoryBackend.layer),
 *   Layer.provide(Serializer.json)
 * )
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export class Worker extends Context.Tag("sitq/Worker")<Worker, WorkerService>() {
  /**
   * Starts a worker for the current scope's lifetime (the effect behind `Worker.layer`).
   *
   * @since 0.1.0
   */
  static make<const H extends ReadonlyArray<Handler.Any>>(
    options: WorkerOptions<H>
  ): Effect.Effect<WorkerService, never, Backend | Serializer | Scope.Scope | Handler.Context<H[number]>> {
    return make(options)
  }

  /**
   * A worker for the layer's lifetime. Its handlers' requirements are the layer's requirements.
   *
   * @since 0.1.0
   */
  static layer<const H extends ReadonlyArray<Handler.Any>>(
    options: WorkerOptions<H>
  ): Layer.Layer<Worker, never, Backend | Serializer | Handler.Context<H[number]>> {
    return Layer.scoped(Worker, make(options))
  }

  /**
   * Runs a worker until interrupted (graceful shutdown on interruption).
   *
   * @since 0.1.0
   */
  static run<const H extends ReadonlyArray<Handler.Any>>(
    options: WorkerOptions<H>
  ): Effect.Effect<never, never, Backend | Serializer | Handler.Context<H[number]>> {
    return Effect.scoped(Effect.zipRight(make(options), Effect.never))
  }

  /**
   * Runs a worker until no task is due and none is running, then returns what it did.
   *
   * @since 0.1.0
   */
  static drain<const H extends ReadonlyArray<Handler.Any>>(
    options: WorkerOptions<H>
  ): Effect.Effect<WorkerStats, never, Backend | Serializer | Handler.Context<H[number]>> {
    return Effect.scoped(
      Effect.flatMap(makeInternal(options, "drain"), (internal) =>
        Effect.zipRight(Effect.zipRight(Fiber.join(internal.loop), internal.idle), internal.service.stats))
    )
  }
}
