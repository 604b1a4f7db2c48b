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
 *   (for tests, scripts and batch jobs); it fails with the `BackendError` when claims keep failing.
 *
 * Inside, an executor turns each claimed record into an outcome (`internal/executor.ts`), a lease
 * keeper heartbeats every lease until its outcome is recorded (`internal/leases.ts`), and the claim
 * loop claims while slots are free (`internal/claimLoop.ts`); this module holds the options, the
 * wiring and the shutdown.
 *
 * An idle worker waits for a push from the backend (a task was enqueued, retried or released), for
 * the next known due time, or for `pollInterval`, whichever comes first; it never spins.
 *
 * @since 0.1.0
 */
import type { Duration, LogLevel, Scope } from "effect"
import { Cause, Clock, Context, Duration as D, Effect, Exit, Fiber, FiberMap, Layer, Metric, Option, Queue, Schedule } from "effect"
import type * as B from "./Backend.js"
import { Backend } from "./Backend.js"
import type { BackendError, InvalidOptions } from "./Errors.js"
import * as Batcher from "./internal/batcher.js"
import * as ClaimLoop from "./internal/claimLoop.js"
import * as Executor from "./internal/executor.js"
import * as EffectVersion from "./internal/effectVersion.js"
import { uuidv7FromMillis } from "./internal/id.js"
import * as Leases from "./internal/leases.js"
import * as Validate from "./internal/validate.js"
import { Serializer } from "./Serializer.js"
import type { Handler } from "./Task.js"
import { defaultQueue } from "./Task.js"

/**
 * Worker options. Only `handlers` is required. They are checked when the worker starts: a count
 * that is not a positive integer, a duration that is negative, NaN or zero, a heartbeat not shorter
 * than the lease, two handlers for one task name, or a handler's task with an invalid priority or
 * timeout fail `Worker.make` / `Worker.layer` with `InvalidOptions`.
 *
 * @since 0.1.0
 * @category models
 */
export interface WorkerOptions<H extends ReadonlyArray<Handler.Any>> {
  /**
   * The handlers this worker runs, one per task name. The worker claims only tasks of these names:
   * a task of another name stays pending for a worker that knows it (a rolling deploy with mixed
   * versions loses no task), and is visible in `stats` and `list` meanwhile.
   */
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
  /** Most tasks claimed in one round trip (default `concurrency + prefetch`). */
  readonly batchSize?: number | undefined
  /**
   * How many tasks a worker may hold beyond its running ones (default 0). Prefetched tasks are
   * claimed, leased and heartbeated like running ones and start the moment a slot frees, so a busy
   * worker does not wait a round trip between a finished batch and the next. The trade-off: while
   * held they are not available to other workers, and a task of higher priority enqueued meanwhile
   * starts after them, so priorities order claims but no longer strictly order starts. Shutdown
   * releases them at once; a cancelled one is dropped. Raise it for many short tasks (at
   * concurrency 1 it multiplies throughput: one claim round trip feeds many tasks).
   */
  readonly prefetch?: number | undefined
  /** This worker's lease owner id (default a new UUIDv7). */
  readonly workerId?: string | undefined
  /**
   * The level at which each failed attempt is logged, with its task id and name, attempt and next
   * run time (default `LogLevel.Warning`; `LogLevel.Debug` to quiet them).
   */
  readonly failureLogLevel?: LogLevel.LogLevel | undefined
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

/** The options after checking, with their defaults. */
interface Resolved {
  readonly handlers: ReadonlyMap<string, Handler.Any>
  readonly concurrency: number
  readonly prefetch: number
  readonly batchSize: number
  readonly queues: ReadonlyArray<string>
  readonly pollInterval: D.Duration
  readonly leaseMillis: number
  readonly heartbeatInterval: D.Duration
  readonly shutdownTimeout: D.Duration
}

/** Checks a task definition that a handler brings (what `Task.make` cannot refuse with a typed error). */
const checkTask = (task: Handler.Any["task"]) =>
  Effect.all([
    Validate.name(`task name`, task.name),
    Validate.name(`queue of task '${task.name}'`, task.queue),
    Validate.priority(`priority of task '${task.name}'`, task.priority),
    task.timeout === undefined || D.toMillis(task.timeout) > 0
      ? Effect.void
      : Validate.invalid(`timeout of task '${task.name}'`, "must be greater than zero")
  ], { discard: true })

/** One handler per task name, and one task definition per name. */
const handlerMap = (handlers: ReadonlyArray<Handler.Any>) =>
  Effect.gen(function*() {
    const byName = new Map<string, Handler.Any>()
    for (const h of handlers) {
      yield* checkTask(h.task)
      const seen = byName.get(h.task.name)
      if (seen !== undefined) {
        return yield* Validate.invalid(
          "handlers",
          seen.task === h.task
            ? `two handlers for task '${h.task.name}'; a worker runs one handler per task`
            : `two different tasks are named '${h.task.name}'; task names must be unique`
        )
      }
      byName.set(h.task.name, h)
    }
    return byName
  })

const resolve = <H extends ReadonlyArray<Handler.Any>>(options: WorkerOptions<H>) =>
  Effect.gen(function*() {
    const handlers = yield* handlerMap(options.handlers)
    const concurrency = yield* Validate.positiveInt("concurrency", options.concurrency ?? 10)
    const prefetch = yield* Validate.nonNegativeInt("prefetch", options.prefetch ?? 0)
    const batchSize = yield* Validate.positiveInt("batchSize", options.batchSize ?? concurrency + prefetch)
    const queues = options.queues ??
      (options.handlers.length === 0 ? [defaultQueue] : Array.from(new Set(options.handlers.map((h) => h.task.queue))))
    if (queues.length === 0) return yield* Validate.invalid("queues", "must name at least one queue")
    yield* Effect.forEach(queues, (q) => Validate.name("queues", q), { discard: true })
    const pollInterval = yield* Validate.duration("pollInterval", options.pollInterval ?? "1 second", { positive: true })
    const lease = yield* Validate.duration("leaseDuration", options.leaseDuration ?? "30 seconds", { positive: true })
    const leaseMillis = Math.ceil(D.toMillis(lease))
    const heartbeatInterval = options.heartbeatInterval === undefined
      ? D.millis(Math.max(1, Math.floor(leaseMillis / 3)))
      : yield* Validate.duration("heartbeatInterval", options.heartbeatInterval, { positive: true })
    if (options.heartbeatInterval !== undefined && D.toMillis(heartbeatInterval) >= leaseMillis) {
      return yield* Validate.invalid(
        "heartbeatInterval",
        `${D.format(heartbeatInterval)} must be shorter than leaseDuration (${D.format(lease)})`
      )
    }
    const shutdownTimeout = yield* Validate.duration("shutdownTimeout", options.shutdownTimeout ?? "10 seconds")
    return {
      handlers,
      concurrency,
      prefetch,
      batchSize,
      queues,
      pollInterval,
      leaseMillis,
      heartbeatInterval,
      shutdownTimeout
    } satisfies Resolved
  })

interface Internal {
  readonly service: WorkerService
  readonly loop: Fiber.RuntimeFiber<void, BackendError>
  /** Waits until every outcome submitted so far is recorded. */
  readonly idle: Effect.Effect<void>
}

const makeInternal = <H extends ReadonlyArray<Handler.Any>>(
  options: WorkerOptions<H>,
  mode: ClaimLoop.Mode
): Effect.Effect<Internal, InvalidOptions, Backend | Serializer | Scope.Scope | Handler.Context<H[number]>> =>
  Effect.gen(function*() {
    yield* EffectVersion.check
    const config = yield* resolve(options)
    const backend = yield* Backend
    const serializer = yield* Serializer
    const { concurrency, queues } = config
    const owner = options.workerId === undefined
      ? uuidv7FromMillis(yield* Clock.currentTimeMillis)
      : yield* Validate.name("workerId", options.workerId)
    const queueSet = new Set(queues)
    const executor = Executor.make<Handler.Context<H[number]>>({
      handlers: config.handlers,
      serializer,
      owner,
      failureLogLevel: options.failureLogLevel
    })

    const counts = { claimed: 0, succeeded: 0, failed: 0, retried: 0, released: 0, refused: 0 }
    /** How many task fibers run now: the slots taken. */
    let active = 0
    /** Claimed records waiting for a slot (at most `prefetch`), in claim order. */
    const prefetched: Array<B.TaskRecord> = []
    /** Set at shutdown: no prefetched record starts any more. */
    let stopping = false

    const running = yield* FiberMap.make<string>()
    const interruptTask = (id: string) =>
      dropPrefetched(id) ? Effect.void : Option.match(FiberMap.unsafeGet(running, id), {
        onNone: () => Effect.void,
        onSome: (fiber) => Effect.asVoid(Fiber.interruptFork(fiber))
      })

    // Created before the outcome batcher, so its heartbeat goes on while the last outcomes are
    // written at shutdown. A lease is held until its outcome is recorded or refused.
    const leases = yield* Leases.make({
      backend,
      leaseMillis: config.leaseMillis,
      interval: config.heartbeatInterval,
      onLost: (ids) => Effect.forEach(ids, interruptTask, { discard: true })
    })

    // Its finalizer flushes what is left; it runs after the shutdown finalizer below has
    // interrupted the task fibers, so the outcomes of interrupted tasks are still recorded.
    const outcomes = yield* Batcher.make({
      flush: (batch: ReadonlyArray<B.Outcome>) =>
        backend.settle(batch).pipe(
          Effect.retry(Schedule.exponential("50 millis").pipe(Schedule.intersect(Schedule.recurs(5)))),
          Effect.tap((accepted) => recordMetrics(batch, accepted))
        ),
      onResult: (outcome, exit: Exit.Exit<boolean, BackendError>) => {
        const held = leases.drop(outcome.lease)
        if (Exit.isFailure(exit)) {
          return Effect.logError("sitq: could not record a task outcome; its lease will expire and it will run again")
            .pipe(Effect.annotateLogs({ task: outcome.lease.id, outcome: outcome._tag, cause: Cause.pretty(exit.cause) }))
        }
        if (!exit.value) {
          counts.refused++
          return Effect.void
        }
        counts[outcomeCount[outcome._tag]]++
        return outcome._tag === "Released"
          ? Effect.logInfo(`sitq: released task '${held?.name ?? "?"}' ${outcome.lease.id}; another worker will take it`)
            .pipe(Effect.annotateLogs({
              worker: owner,
              task: outcome.lease.id,
              name: held?.name ?? "?",
              attempt: outcome.lease.attempt
            }))
          : Effect.void
      },
      maxBatch: Math.max(64, concurrency)
    })
    // The runtime is captured once: every task fiber runs with the worker's context, which holds
    // the handlers' requirements.
    const fork = yield* FiberMap.runtime(running)<Handler.Context<H[number]>>()

    const claims: ClaimLoop.ClaimLoop = yield* ClaimLoop.make({
      backend,
      mode,
      owner,
      queues,
      names: Array.from(config.handlers.keys()),
      capacity: concurrency + config.prefetch,
      batchSize: config.batchSize,
      leaseMillis: config.leaseMillis,
      pollInterval: config.pollInterval,
      running: () => active + prefetched.length,
      start: (rec) => start(rec),
      outcomesRecorded: outcomes.idle
    })

    const process = (rec: B.TaskRecord) => {
      const lease = Executor.leaseOf(rec, owner)
      let submitted = false
      const submit = (outcome: B.Outcome) =>
        Effect.sync(() => {
          if (submitted) return
          submitted = true
          outcomes.submit(outcome)
        })
      return executor.execute(rec).pipe(
        Effect.flatMap(submit),
        // Interrupted by shutdown, cancellation or a lost lease: give the task back. The backend
        // refuses this when the lease is no longer ours (cancelled, re-claimed).
        Effect.onInterrupt(() => submit({ _tag: "Released", lease })),
        Effect.ensuring(Effect.sync(() => {
          active--
          const next = stopping ? undefined : prefetched.shift()
          if (next !== undefined) run(next)
          claims.slotFreed()
        }))
      )
    }

    const run = (rec: B.TaskRecord) => {
      active++
      fork(rec.id, process(rec))
    }

    /** Takes a claimed record: runs it if a slot is free, else holds it (prefetched, leased). */
    const start = (rec: B.TaskRecord) => {
      counts.claimed++
      leases.hold(Executor.leaseOf(rec, owner), rec.name)
      if (active < concurrency) run(rec)
      else prefetched.push(rec)
    }

    /** Drops a prefetched record whose lease is gone (cancelled, lost); true if it was held. */
    const dropPrefetched = (id: string): boolean => {
      const i = prefetched.findIndex((rec) => rec.id === id)
      if (i < 0) return false
      const [rec] = prefetched.splice(i, 1)
      leases.drop(Executor.leaseOf(rec!, owner))
      return true
    }

    // Pushes: new work wakes the loop, a cancellation interrupts the task wherever it runs.
    const events = yield* backend.subscribe
    yield* Queue.take(events).pipe(
      Effect.flatMap((event) => {
        switch (event._tag) {
          case "Ready":
            if (queueSet.has(event.queue)) claims.wake()
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

    // A running worker outlives a defect in its loop (a backend bug, a driver throwing): it logs
    // it and starts the loop again after `pollInterval`. Draining surfaces it instead.
    const supervised: Effect.Effect<void, BackendError> = mode === "drain" ? claims.loop : claims.loop.pipe(
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : Effect.logError("sitq: worker loop failed; restarting").pipe(
          Effect.annotateLogs({ worker: owner, cause: Cause.pretty(cause) }),
          Effect.zipRight(Effect.sleep(config.pollInterval))
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
        // Prefetched tasks never started: give them back at once.
        stopping = true
        for (const rec of prefetched.splice(0)) outcomes.submit({ _tag: "Released", lease: Executor.leaseOf(rec, owner) })
        if (active > 0) {
          yield* Effect.logInfo("sitq: worker stopping; waiting for running tasks").pipe(
            Effect.annotateLogs({ worker: owner, running: active })
          )
          // Finalizers run uninterruptibly: the wait itself must be interruptible for the timeout to cut it.
          yield* FiberMap.awaitEmpty(running).pipe(
            Effect.interruptible,
            Effect.timeout(config.shutdownTimeout),
            Effect.ignore
          )
          yield* FiberMap.clear(running)
        }
      })
    )

    yield* Effect.logDebug("sitq: worker started").pipe(
      Effect.annotateLogs({ worker: owner, queues: queues.join(","), concurrency })
    )

    const service: WorkerService = {
      id: owner,
      running: Effect.sync(() => active),
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
): Effect.Effect<WorkerService, InvalidOptions, Backend | Serializer | Scope.Scope | Handler.Context<H[number]>> =>
  Effect.map(makeInternal(options, "run"), (internal) => internal.service)

/**
 * The `Worker` service: `Worker.layer(options)` runs a worker for the layer's lifetime.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Schema } from "effect"
 * import { MemoryBackend, Serializer, Task, TaskQueue, Worker } from "sitq"
 *
 * const SendEmail = Task.make("send_email", { payload: Schema.Struct({ to: Schema.String }) })
 * const SendEmailLive = Task.handler(SendEmail, ({ to }) => Effect.log(`sending an email to ${to}`))
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
  ): Effect.Effect<WorkerService, InvalidOptions, Backend | Serializer | Scope.Scope | Handler.Context<H[number]>> {
    return make(options)
  }

  /**
   * A worker for the layer's lifetime. Its handlers' requirements are the layer's requirements.
   *
   * @since 0.1.0
   */
  static layer<const H extends ReadonlyArray<Handler.Any>>(
    options: WorkerOptions<H>
  ): Layer.Layer<Worker, InvalidOptions, Backend | Serializer | Handler.Context<H[number]>> {
    return Layer.scoped(Worker, make(options))
  }

  /**
   * Runs a worker until interrupted (graceful shutdown on interruption).
   *
   * @since 0.1.0
   */
  static run<const H extends ReadonlyArray<Handler.Any>>(
    options: WorkerOptions<H>
  ): Effect.Effect<never, InvalidOptions, Backend | Serializer | Handler.Context<H[number]>> {
    return Effect.scoped(Effect.zipRight(make(options), Effect.never))
  }

  /**
   * Runs a worker until no task is due and none is running, then returns what it did. A claim that
   * fails transiently is retried a few times (about 3 seconds in all); when the backend keeps
   * failing, the drain fails with its `BackendError` instead of reporting done.
   *
   * @since 0.1.0
   */
  static drain<const H extends ReadonlyArray<Handler.Any>>(
    options: WorkerOptions<H>
  ): Effect.Effect<WorkerStats, InvalidOptions | BackendError, Backend | Serializer | Handler.Context<H[number]>> {
    return Effect.scoped(
      Effect.flatMap(makeInternal(options, "drain"), (internal) =>
        Effect.zipRight(Effect.zipRight(Fiber.join(internal.loop), internal.idle), internal.service.stats))
    )
  }
}
