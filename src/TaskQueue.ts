/**
 * The client: enqueue tasks (now, after a delay, at a time; one or many), read them back, wait for
 * their results, cancel and retry them, list them and count them. It needs a `Backend` and a
 * `Serializer`; payloads are checked against the task's schema before anything is stored.
 *
 * Result waiting is pushed where the backend pushes (`Finished` events) and falls back to polling
 * every `resultPollInterval`, so `join` works across processes on every backend: every 250 ms by
 * default, or every 5 seconds (a safety net) where the backend pushes every change across
 * processes (`Backend.capabilities.pushesAcrossProcesses`).
 *
 * @since 0.1.0
 */
import type { Duration, Scope } from "effect"
import { Clock, Context, Deferred, Duration as D, Effect, Exit, Layer, Option, Queue } from "effect"
import type * as B from "./Backend.js"
import { Backend, isFinished } from "./Backend.js"
import type { InvalidOptions, SerializationError, TaskDefect, TaskTimeout, UnknownTask } from "./Errors.js"
import { BackendError, ResultTimeout, TaskCancelled, TaskFailed, TaskMismatch, TaskNotFound } from "./Errors.js"
import * as Codec from "./internal/codec.js"
import * as Validate from "./internal/validate.js"
import * as EffectVersion from "./internal/effectVersion.js"
import { uuidv7FromMillis } from "./internal/id.js"
import { Serializer } from "./Serializer.js"
import type { Task } from "./Task.js"

/**
 * When a task is due: after `delay` (a non-negative duration), at `eta` (a valid `Date` or epoch
 * milliseconds), or, with neither, at once. `delay` and `eta` together do not compile.
 *
 * @since 0.1.0
 * @category models
 */
export type EnqueueTiming =
  | { readonly delay?: Duration.DurationInput | undefined; readonly eta?: undefined }
  | { readonly eta?: Date | number | undefined; readonly delay?: undefined }

/**
 * When and how to run an enqueued task. `delay` and `eta` are exclusive ({@link EnqueueTiming});
 * without either the task is due at once. `priority` (an integer) and `queue` override the task
 * definition's defaults. With `key`, an enqueue while a task with that key is pending or running
 * returns that task's id instead. Out-of-range values fail the enqueue with `InvalidOptions`
 * before anything is stored.
 *
 * @since 0.1.0
 * @category models
 */
export type EnqueueOptions = EnqueueTiming & {
  readonly priority?: number | undefined
  readonly queue?: string | undefined
  readonly key?: string | undefined
}

/**
 * Options shared by every task of an `enqueueMany`: like {@link EnqueueOptions}, without a dedup
 * key (give per-item options for keys).
 *
 * @since 0.1.0
 * @category models
 */
export type EnqueueManyOptions = EnqueueTiming & {
  readonly priority?: number | undefined
  readonly queue?: string | undefined
}

/**
 * Per-item options for `enqueueMany`: a function from each payload (and its index) to that task's
 * {@link EnqueueOptions}, dedup key included.
 *
 * @since 0.1.0
 * @category models
 */
export type EnqueueItemOptions<T extends Task.Any> = (payload: Task.Payload<T>, index: number) => EnqueueOptions

/**
 * How long to wait for a result; without a timeout the wait is unbounded.
 *
 * @since 0.1.0
 * @category models
 */
export interface WaitOptions {
  readonly timeout?: Duration.DurationInput | undefined
}

/**
 * What is known of a task, without its payload and result bytes.
 *
 * @since 0.1.0
 * @category models
 */
export interface TaskInfo {
  readonly id: string
  readonly queue: string
  readonly name: string
  readonly priority: number
  readonly status: B.TaskStatus
  readonly runAt: number
  readonly attempts: number
  readonly enqueuedAt: number
  readonly startedAt: number | null
  readonly finishedAt: number | null
  readonly leaseOwner: string | null
  readonly leaseUntil: number | null
  readonly error: { readonly tag: string; readonly message: string } | null
  readonly traceback: string | null
  readonly key: string | null
}

/**
 * A finished task's outcome, untyped (the `value` is what the serializer read back, in the success
 * schema's encoded form). Use `join` for the typed value.
 *
 * @since 0.1.0
 * @category models
 */
export interface TaskResult {
  readonly id: string
  readonly name: string
  readonly status: "success" | "failed" | "cancelled"
  readonly value: unknown
  readonly error: { readonly tag: string; readonly message: string } | null
  readonly traceback: string | null
  readonly attempts: number
  readonly finishedAt: number | null
}

/**
 * The errors `join` fails with for a task `T`.
 *
 * @since 0.1.0
 * @category models
 */
export type JoinError<T extends Task.Any> =
  | TaskFailed.Of<Task.Failure<T> | TaskTimeout | TaskDefect | UnknownTask | SerializationError>
  | TaskCancelled
  | TaskNotFound
  | TaskMismatch
  | ResultTimeout
  | SerializationError
  | BackendError

/**
 * The errors `joinUnwrapped` fails with for a task `T`: the error that ended the task itself (its
 * own typed failure, or `TaskTimeout`, `TaskDefect`, `UnknownTask`, `SerializationError`), a
 * `TaskFailed` only when that error can no longer be decoded, and the errors of waiting.
 *
 * @since 0.1.0
 * @category models
 */
export type UnwrappedJoinError<T extends Task.Any> =
  | Task.Failure<T>
  | TaskTimeout
  | TaskDefect
  | UnknownTask
  | SerializationError
  | TaskFailed
  | TaskCancelled
  | TaskNotFound
  | TaskMismatch
  | ResultTimeout
  | BackendError

/**
 * The arguments after the task: the payload (optional when the payload type is void) and options.
 *
 * @since 0.1.0
 * @category models
 */
export type EnqueueArgs<T extends Task.Any> = [Task.Payload<T>] extends [void]
  ? [payload?: Task.Payload<T>, options?: EnqueueOptions]
  : [payload: Task.Payload<T>, options?: EnqueueOptions]

/**
 * The client service.
 *
 * @since 0.1.0
 * @category models
 */
export interface TaskQueueService {
  /** Checks the payload against the task's schema and the options, stores the task, returns its id. */
  readonly enqueue: <T extends Task.Any>(
    task: T,
    ...args: EnqueueArgs<T>
  ) => Effect.Effect<string, SerializationError | InvalidOptions | BackendError>
  /**
   * Stores many tasks of one kind atomically (all or none); returns their ids in order. The
   * options are shared by all, or given per item by a function of each payload and its index.
   */
  readonly enqueueMany: <T extends Task.Any>(
    task: T,
    payloads: Iterable<Task.Payload<T>>,
    options?: EnqueueManyOptions | EnqueueItemOptions<T>
  ) => Effect.Effect<ReadonlyArray<string>, SerializationError | InvalidOptions | BackendError>
  /** Reads a task's state. */
  readonly get: (id: string) => Effect.Effect<TaskInfo, TaskNotFound | BackendError>
  /** Waits until the task is finished and returns its untyped outcome. */
  readonly getResult: (
    id: string,
    options?: WaitOptions
  ) => Effect.Effect<TaskResult, TaskNotFound | ResultTimeout | SerializationError | BackendError>
  /**
   * Waits until the task is finished: its typed success, or its typed failure in `TaskFailed`.
   * Fails with `TaskMismatch` when `id` is a task of another name.
   */
  readonly join: <T extends Task.Any>(
    task: T,
    id: string,
    options?: WaitOptions
  ) => Effect.Effect<Task.Success<T>, JoinError<T>>
  /**
   * Like `join`, but a failed task fails with the error that ended it, not a `TaskFailed` around
   * it, so `Effect.catchTag("Rejected", ...)` handles the task's own failure in one step.
   */
  readonly joinUnwrapped: <T extends Task.Any>(
    task: T,
    id: string,
    options?: WaitOptions
  ) => Effect.Effect<Task.Success<T>, UnwrappedJoinError<T>>
  /** Cancels a pending task, or interrupts a running one; false if it had already finished. */
  readonly cancel: (id: string) => Effect.Effect<boolean, TaskNotFound | BackendError>
  /**
   * Puts a failed or cancelled task back to pending; false if it had not finished, or if it has a
   * dedup key that another pending or running task holds now (at most one live task per key).
   */
  readonly retry: (id: string) => Effect.Effect<boolean, TaskNotFound | BackendError>
  /**
   * Lists tasks in enqueue order (newest first with `newestFirst`), filtered by status, name and
   * queue, up to `limit`. Pages by cursor: pass the last id of a page as `after` for the next page
   * oldest first, or as `before` newest first.
   */
  readonly list: (filter?: B.ListFilter) => Effect.Effect<ReadonlyArray<TaskInfo>, BackendError>
  /** Counts tasks per status. */
  readonly stats: (queue?: string) => Effect.Effect<B.Stats, BackendError>
  /** Deletes finished tasks (all finished ones, or those finished longer ago than `olderThan`). */
  readonly purge: (options?: {
    readonly olderThan?: Duration.DurationInput | undefined
    readonly statuses?: B.PurgeFilter["statuses"]
    readonly queue?: string | undefined
  }) => Effect.Effect<number, BackendError>
}

/**
 * Options of the client.
 *
 * @since 0.1.0
 * @category models
 */
export interface TaskQueueOptions {
  /**
   * How often a result waiter re-reads the task when no push arrives. Default: 5 seconds (a safety
   * net) where the backend pushes every change across processes (`capabilities.pushesAcrossProcesses`:
   * memory, PostgreSQL, Redis), 250 millis where it does not (SQLite, whose other processes do not
   * tell this one).
   */
  readonly resultPollInterval?: Duration.DurationInput | undefined
}

const toInfo = (rec: B.TaskRecord): TaskInfo => ({
  id: rec.id,
  queue: rec.queue,
  name: rec.name,
  priority: rec.priority,
  status: rec.status,
  runAt: rec.runAt,
  attempts: rec.attempts,
  enqueuedAt: rec.enqueuedAt,
  startedAt: rec.startedAt,
  finishedAt: rec.finishedAt,
  leaseOwner: rec.leaseOwner,
  leaseUntil: rec.leaseUntil,
  error: rec.error === null ? null : { tag: rec.error.tag, message: rec.error.message },
  traceback: rec.traceback,
  key: rec.key
})

/** Where and when a task goes, from its definition and the enqueue's options, checked. */
const placement = (
  task: Task.Any,
  now: number,
  options: EnqueueOptions | undefined,
  prefix: string
): Effect.Effect<Omit<B.NewTask, "id" | "name" | "payload">, InvalidOptions> =>
  Effect.gen(function*() {
    const o = options ?? {}
    if (o.delay !== undefined && o.eta !== undefined) {
      return yield* Validate.invalid(`${prefix}delay`, "give delay or eta, not both")
    }
    const runAt = o.eta !== undefined
      ? yield* Validate.eta(`${prefix}eta`, o.eta)
      : o.delay !== undefined
      ? now + D.toMillis(yield* Validate.duration(`${prefix}delay`, o.delay))
      : now
    const priority = o.priority === undefined
      ? yield* Validate.priority(`priority of task '${task.name}'`, task.priority)
      : yield* Validate.priority(`${prefix}priority`, o.priority)
    const queue = yield* Validate.name(`${prefix}queue`, o.queue ?? task.queue)
    const key = o.key === undefined ? null : yield* Validate.name(`${prefix}key`, o.key)
    return { queue, priority, runAt, key }
  })

/**
 * Builds the client. It subscribes to the backend's events for the scope's lifetime, to wake
 * result waiters.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: TaskQueueOptions = {}
): Effect.Effect<TaskQueueService, never, Backend | Serializer | Scope.Scope> =>
  Effect.gen(function*() {
    yield* EffectVersion.check
    const backend = yield* Backend
    const serializer = yield* Serializer
    const pollInterval = D.decode(
      options.resultPollInterval ?? (backend.capabilities.pushesAcrossProcesses ? "5 seconds" : "250 millis")
    )
    const waiters = new Map<string, Set<Deferred.Deferred<void>>>()
    const codecs = Codec.cache(serializer)

    const events = yield* backend.subscribe
    yield* Queue.take(events).pipe(
      Effect.tap((event) =>
        Effect.sync(() => {
          if (event._tag !== "Finished") return
          for (const id of event.ids) {
            const set = waiters.get(id)
            if (set !== undefined) for (const d of set) Deferred.unsafeDone(d, Exit.void)
          }
        })
      ),
      Effect.forever,
      Effect.forkScoped
    )

    const register = (id: string, d: Deferred.Deferred<void>) =>
      Effect.sync(() => {
        let set = waiters.get(id)
        if (set === undefined) waiters.set(id, set = new Set())
        set.add(d)
      })
    const unregister = (id: string, d: Deferred.Deferred<void>) =>
      Effect.sync(() => {
        const set = waiters.get(id)
        if (set === undefined) return
        set.delete(d)
        if (set.size === 0) waiters.delete(id)
      })

    const getRecord = (id: string) =>
      Effect.flatMap(
        backend.get(id),
        Option.match({ onNone: () => Effect.fail(TaskNotFound.of(id)), onSome: Effect.succeed })
      )

    /** Registers for the push first, then reads, so a finish between the two is not missed. */
    const awaitFinished = (id: string, wait: WaitOptions | undefined) => {
      const once: Effect.Effect<Option.Option<B.TaskRecord>, TaskNotFound | BackendError> = Effect.gen(function*() {
        const d = yield* Deferred.make<void>()
        yield* register(id, d)
        return yield* getRecord(id).pipe(
          Effect.flatMap((rec) =>
            isFinished(rec.status)
              ? Effect.succeed(Option.some(rec))
              : Effect.as(Effect.raceFirst(Deferred.await(d), Effect.sleep(pollInterval)), Option.none())
          ),
          Effect.ensuring(unregister(id, d))
        )
      })
      const loop: Effect.Effect<B.TaskRecord, TaskNotFound | BackendError> = Effect.flatMap(
        once,
        Option.match({ onNone: () => loop, onSome: Effect.succeed })
      )
      if (wait?.timeout === undefined) return loop
      const timeout = D.decode(wait.timeout)
      return Effect.timeoutFail(loop, {
        duration: timeout,
        onTimeout: () =>
          new ResultTimeout({
            taskId: id,
            timeoutMillis: D.toMillis(timeout),
            message: `task ${id} did not finish within ${D.format(timeout)}`
          })
      })
    }

    const enqueueMany = <T extends Task.Any>(
      task: T,
      payloads: Iterable<Task.Payload<T>>,
      opts?: EnqueueManyOptions | EnqueueItemOptions<T>
    ) =>
      Effect.gen(function*() {
        const items = Array.from(payloads)
        const now = yield* Clock.currentTimeMillis
        const encode = codecs(task).payload.encode
        const rows: ReadonlyArray<B.NewTask> = typeof opts === "function"
          ? yield* Effect.forEach(items, (payload, i) =>
            Effect.flatMap(Effect.sync(() => opts(payload, i)), (itemOptions) =>
              Effect.zipWith(
                placement(task, now, itemOptions, `enqueueMany item ${i}: `),
                encode(payload),
                (place, bytes) => ({ id: uuidv7FromMillis(now), name: task.name, payload: bytes, ...place })
              )))
          : yield* Effect.flatMap(placement(task, now, opts, ""), (place) =>
            Effect.forEach(items, (payload) =>
              Effect.map(encode(payload), (bytes) => ({
                id: uuidv7FromMillis(now),
                name: task.name,
                payload: bytes,
                ...place
              }))))
        if (rows.length === 0) return []
        const result = yield* backend.enqueue(rows)
        return result.map((r) => r.id)
      })

    /** Waits for a finished record of this task; a record of another task is a `TaskMismatch`. */
    const finishedOf = (task: Task.Any, id: string, wait: WaitOptions | undefined) =>
      Effect.flatMap(awaitFinished(id, wait), (rec) =>
        rec.name === task.name ? Effect.succeed(rec) : Effect.fail(
          new TaskMismatch({
            taskId: id,
            expected: task.name,
            actual: rec.name,
            message: `task ${id} is a '${rec.name}' task, not '${task.name}'`
          })
        ))

    /** A finished record's typed success, or its failure handed to `onFailed`. */
    const outcomeOf = <T extends Task.Any, E>(
      task: T,
      rec: B.TaskRecord,
      onFailed: (failure: Option.Option<unknown>, error: TaskFailed) => Effect.Effect<never, E>
    ) =>
      Effect.gen(function*() {
        const id = rec.id
        if (rec.status === "success") {
          // Decoded by the task's success schema, so it is a `Task.Success<T>`.
          return (yield* codecs(task).success.decode(rec.result ?? new Uint8Array(0))) as Task.Success<T>
        }
        if (rec.status === "cancelled") {
          return yield* new TaskCancelled({ taskId: id, message: `task ${id} (${rec.name}) was cancelled` })
        }
        const decoded = rec.error === null ? Option.none() : yield* Codec.decodeError(rec.error, task.failure, serializer)
        const failure = rec.error === null
          ? undefined
          : Option.getOrElse(decoded, () => ({ _tag: rec.error!.tag, message: rec.error!.message }))
        return yield* onFailed(
          decoded,
          new TaskFailed({
            taskId: id,
            taskName: rec.name,
            attempts: rec.attempts,
            message: `task ${id} (${rec.name}) failed after ${rec.attempts} attempt(s): ${
              rec.error?.message ?? "unknown error"
            }`,
            traceback: rec.traceback,
            failure
          })
        )
      })

    const service: TaskQueueService = {
      enqueue: (task, ...args) => {
        const [payload, opts] = args
        return Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const place = yield* placement(task, now, opts, "")
          const bytes = yield* codecs(task).payload.encode(payload)
          const [result] = yield* backend.enqueue([{ id: uuidv7FromMillis(now), name: task.name, payload: bytes, ...place }])
          if (result === undefined) {
            return yield* new BackendError({ reason: "Query", message: "enqueue returned no id" })
          }
          return result.id
        }).pipe(Effect.withSpan("TaskQueue.enqueue", { attributes: { task: task.name }, captureStackTrace: false }))
      },
      enqueueMany: (task, payloads, opts) =>
        enqueueMany(task, payloads, opts).pipe(Effect.withSpan("TaskQueue.enqueueMany", {
            attributes: { task: task.name },
            captureStackTrace: false
          })),
      get: (id) => Effect.map(getRecord(id), toInfo),
      getResult: (id, wait) =>
        Effect.gen(function*() {
          const rec = yield* awaitFinished(id, wait)
          const value = rec.status === "success" && rec.result !== null
            ? yield* serializer.decode(rec.result)
            : undefined
          return {
            id: rec.id,
            name: rec.name,
            status: rec.status as TaskResult["status"],
            value,
            error: rec.error === null ? null : { tag: rec.error.tag, message: rec.error.message },
            traceback: rec.traceback,
            attempts: rec.attempts,
            finishedAt: rec.finishedAt
          }
        }),
      join: <T extends Task.Any>(task: T, id: string, wait?: WaitOptions) =>
        Effect.flatMap(finishedOf(task, id, wait), (rec) =>
          outcomeOf(task, rec, (_, error) =>
            Effect.fail(
              error as TaskFailed.Of<Task.Failure<T> | TaskTimeout | TaskDefect | UnknownTask | SerializationError>
            ))).pipe(Effect.withSpan("TaskQueue.join", { attributes: { task: task.name, id } })),
      joinUnwrapped: <T extends Task.Any>(task: T, id: string, wait?: WaitOptions) =>
        Effect.flatMap(finishedOf(task, id, wait), (rec) =>
          outcomeOf(task, rec, (failure, error) =>
            // Decoded by the task's failure schema or a builtin error's, so one of them.
            Effect.fail(Option.getOrElse(
              failure as Option.Option<Task.Failure<T> | TaskTimeout | TaskDefect | UnknownTask | SerializationError>,
              () => error
            )))).pipe(Effect.withSpan("TaskQueue.joinUnwrapped", { attributes: { task: task.name, id } })),
      cancel: (id) =>
        Effect.flatMap(backend.cancel(id), (r) =>
          r === "not_found" ? Effect.fail(TaskNotFound.of(id)) : Effect.succeed(r === "cancelled")),
      retry: (id) =>
        Effect.flatMap(backend.retry(id), (r) =>
          r === "not_found" ? Effect.fail(TaskNotFound.of(id)) : Effect.succeed(r === "requeued")),
      list: (filter) => Effect.map(backend.list(filter ?? {}), (recs) => recs.map(toInfo)),
      stats: (queue) => backend.stats(queue),
      purge: (opts) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          backend.purge({
            statuses: opts?.statuses,
            queue: opts?.queue,
            finishedBefore: opts?.olderThan === undefined ? undefined : now - D.toMillis(D.decode(opts.olderThan))
          }))
    }
    return service
  })

/**
 * The `TaskQueue` service: `yield* TaskQueue` in a program, `TaskQueue.layer` to provide it.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Task, TaskQueue } from "sitq"
 *
 * const SendEmail = Task.make("send_email", {
 *   payload: Schema.Struct({ to: Schema.String, subject: Schema.String }),
 *   success: Schema.Struct({ messageId: Schema.String })
 * })
 *
 * const program = Effect.gen(function* () {
 *   const queue = yield* TaskQueue
 *   const id = yield* queue.enqueue(SendEmail, { to: "a@b.c", subject: "Hi" }, { delay: "10 seconds" })
 *   return yield* queue.join(SendEmail, id, { timeout: "1 minute" })
 * })
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export class TaskQueue extends Context.Tag("sitq/TaskQueue")<TaskQueue, TaskQueueService>() {
  /**
   * The client with default options. Needs a `Backend` and a `Serializer`.
   *
   * @since 0.1.0
   */
  static readonly layer: Layer.Layer<TaskQueue, never, Backend | Serializer> = Layer.scoped(TaskQueue, make())
  /**
   * The client with options.
   *
   * @since 0.1.0
   */
  static layerWith(options: TaskQueueOptions): Layer.Layer<TaskQueue, never, Backend | Serializer> {
    return Layer.scoped(TaskQueue, make(options))
  }
}
