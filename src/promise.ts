/**
 * The Promise client, for code that does not use Effect (the counterpart of the Python original's
 * `SyncTaskQueue`). `open` a queue on a backend layer, then `enqueue`, `getResult`, `join` and
 * `close`; `queue.worker(options)` gives a worker with `start` and `stop`. Every failure rejects
 * with the same tagged error the Effect API fails with (`TaskFailed`, `TaskNotFound`,
 * `ResultTimeout`, `SerializationError`, `BackendError`, ...), so `error._tag` tells them apart.
 *
 * Handlers can be written as async functions with `promiseHandler`: a returned value is the
 * task's success; a thrown value that matches the task's failure schema is its typed failure
 * (retried by its schedule); anything else thrown is a defect (`TaskDefect`).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Task } from "sitq"
 * import { open, promiseHandler } from "sitq/promise"
 * import { SqliteBackend } from "sitq/sqlite"
 *
 * const Add = Task.make("add", { payload: Schema.Struct({ a: Schema.Number, b: Schema.Number }), success: Schema.Number })
 *
 * const queue = await open({ backend: SqliteBackend.layer({ filename: "tasks.db" }) })
 * const worker = queue.worker({ handlers: [promiseHandler(Add, async ({ a, b }) => a + b)] })
 * await worker.start()
 * const id = await queue.enqueue(Add, { a: 1, b: 2 })
 * const sum = await queue.join(Add, id, { timeout: "10 seconds" }) // 3
 * await queue.close()
 * ```
 *
 * @since 0.1.0
 * @module sitq/promise
 */
import type { Layer } from "effect"
import { Cause, Effect, Exit, Layer as L, ManagedRuntime, Schema, Scope } from "effect"
import type * as B from "./Backend.js"
import type { Backend } from "./Backend.js"
import { BackendError } from "./Errors.js"
import { Serializer } from "./Serializer.js"
import type { Handler, Task, TaskContext } from "./Task.js"
import { handler } from "./Task.js"
import type {
  EnqueueArgs,
  EnqueueManyOptions,
  TaskInfo,
  TaskQueueOptions,
  TaskResult,
  WaitOptions
} from "./TaskQueue.js"
import { TaskQueue } from "./TaskQueue.js"
import type { WorkerOptions, WorkerStats } from "./Worker.js"
import { Worker } from "./Worker.js"

/**
 * Options of {@link open}.
 *
 * @since 0.1.0
 * @category models
 */
export interface OpenOptions {
  /** The backend layer, e.g. `SqliteBackend.layer({ filename })` or `MemoryBackend.layer`. */
  readonly backend: Layer.Layer<Backend, unknown>
  /** `"json"` (default) or `"structured"`. */
  readonly serializer?: "json" | "structured" | undefined
  /** Options of the client. */
  readonly queue?: TaskQueueOptions | undefined
}

/**
 * A worker started from the Promise client.
 *
 * @since 0.1.0
 * @category models
 */
export interface PromiseWorker {
  /**
   * Starts claiming and running tasks; resolves once the worker runs. Calling it again while the
   * worker runs (or is starting) does nothing more. Rejects with `InvalidOptions` for bad options.
   */
  readonly start: () => Promise<void>
  /** Stops claiming, lets running tasks finish within `shutdownTimeout`, releases the rest. */
  readonly stop: () => Promise<void>
  /** What the worker has done so far. */
  readonly stats: () => Promise<WorkerStats>
}

/**
 * A queue opened with {@link open}.
 *
 * @since 0.1.0
 * @category models
 */
export interface PromiseQueue {
  readonly enqueue: <T extends Task.Any>(task: T, ...args: EnqueueArgs<T>) => Promise<string>
  readonly enqueueMany: <T extends Task.Any>(
    task: T,
    payloads: Iterable<Task.Payload<T>>,
    options?: EnqueueManyOptions
  ) => Promise<ReadonlyArray<string>>
  readonly get: (id: string) => Promise<TaskInfo>
  readonly getResult: (id: string, options?: WaitOptions) => Promise<TaskResult>
  readonly join: <T extends Task.Any>(task: T, id: string, options?: WaitOptions) => Promise<Task.Success<T>>
  /**
   * Like `join`, but a failed task rejects with its own failure (e.g. the task's `Rejected`), not
   * with a `TaskFailed` around it.
   */
  readonly joinUnwrapped: <T extends Task.Any>(task: T, id: string, options?: WaitOptions) => Promise<Task.Success<T>>
  readonly cancel: (id: string) => Promise<boolean>
  readonly retry: (id: string) => Promise<boolean>
  readonly list: (filter?: B.ListFilter) => Promise<ReadonlyArray<TaskInfo>>
  readonly stats: (queue?: string) => Promise<B.Stats>
  /** A worker on this queue's backend. Its handlers must need no services. */
  readonly worker: (options: WorkerOptions<ReadonlyArray<Handler<never>>>) => PromiseWorker
  /** Runs a worker until no task is due and none is running. */
  readonly drain: (options: WorkerOptions<ReadonlyArray<Handler<never>>>) => Promise<WorkerStats>
  /**
   * Stops this queue's workers (gracefully), then closes the backend. Afterwards every call rejects
   * with a `BackendError` whose `reason` is `"Closed"`.
   */
  readonly close: () => Promise<void>
}

/**
 * Opens a queue on a backend layer. Rejects with the backend's `BackendError` when the backend
 * cannot be opened.
 *
 * @since 0.1.0
 * @category constructors
 */
export const open = async (options: OpenOptions): Promise<PromiseQueue> => {
  const serializer = options.serializer === "structured" ? Serializer.structured : Serializer.json
  const layer = TaskQueue.layerWith(options.queue ?? {}).pipe(
    L.provideMerge(options.backend),
    L.provideMerge(serializer)
  )
  const runtime = ManagedRuntime.make(layer)
  // Rejects with the error itself (a tagged error), not a wrapper.
  const exec = <A, E>(effect: Effect.Effect<A, E, TaskQueue | Backend | Serializer>): Promise<A> =>
    runtime.runPromiseExit(effect).then((exit) =>
      Exit.isSuccess(exit) ? exit.value : Promise.reject(Cause.squash(exit.cause))
    )
  let closing: Promise<void> | undefined
  const run = <A, E>(effect: Effect.Effect<A, E, TaskQueue | Backend | Serializer>): Promise<A> =>
    closing === undefined
      ? exec(effect)
      : Promise.reject(new BackendError({ reason: "Closed", message: "this queue is closed (close() was called)" }))
  // Build the layer now, so that a backend that cannot be opened rejects here.
  await exec(Effect.void).catch((error: unknown) => runtime.dispose().then(() => Promise.reject(error)))

  const workers = new Set<PromiseWorker>()
  const withQueue = <A, E>(f: (q: TaskQueue["Type"]) => Effect.Effect<A, E>) => run(Effect.flatMap(TaskQueue, f))

  const queue: PromiseQueue = {
    enqueue: (task, ...args) => withQueue((q) => q.enqueue(task, ...args)),
    enqueueMany: (task, payloads, opts) => withQueue((q) => q.enqueueMany(task, payloads, opts)),
    get: (id) => withQueue((q) => q.get(id)),
    getResult: (id, opts) => withQueue((q) => q.getResult(id, opts)),
    join: (task, id, opts) => withQueue((q) => q.join(task, id, opts)),
    joinUnwrapped: (task, id, opts) => withQueue((q) => q.joinUnwrapped(task, id, opts)),
    cancel: (id) => withQueue((q) => q.cancel(id)),
    retry: (id) => withQueue((q) => q.retry(id)),
    list: (filter) => withQueue((q) => q.list(filter)),
    stats: (name) => withQueue((q) => q.stats(name)),
    drain: (opts) => run(Worker.drain(opts)),
    worker: (opts) => {
      let started: { readonly scope: Scope.CloseableScope; readonly service: Worker["Type"] } | undefined
      // start and stop run one at a time, in call order: two concurrent starts start one worker,
      // and a stop during a start waits for it, then stops the worker it started.
      let last: Promise<unknown> = Promise.resolve()
      const serially = <A>(f: () => Promise<A>): Promise<A> => {
        const next = last.then(f, f)
        last = next.catch(() => undefined)
        return next
      }
      const worker: PromiseWorker = {
        start: () =>
          serially(async () => {
            if (started !== undefined) return
            const scope = await run(Scope.make())
            const service = await exec(Scope.extend(Worker.make(opts), scope)).catch((error: unknown) =>
              exec(Scope.close(scope, Exit.void)).then(() => Promise.reject(error))
            )
            started = { scope, service }
            workers.add(worker)
          }),
        stop: () =>
          serially(async () => {
            const s = started
            if (s === undefined) return
            started = undefined
            workers.delete(worker)
            await exec(Scope.close(s.scope, Exit.void))
          }),
        stats: async () =>
          started === undefined
            ? { claimed: 0, succeeded: 0, failed: 0, retried: 0, released: 0, refused: 0 }
            : run(started.service.stats)
      }
      return worker
    },
    close: () => {
      if (closing === undefined) {
        closing = (async () => {
          for (const w of Array.from(workers)) await w.stop()
          await runtime.dispose()
        })()
      }
      return closing
    }
  }
  return queue
}

/**
 * A handler written as an async function. A thrown value that matches the task's failure schema
 * is the task's typed failure; anything else thrown is a defect.
 *
 * @since 0.1.0
 * @category constructors
 */
export const promiseHandler = <T extends Task.Any>(
  task: T,
  run: (payload: Task.Payload<T>, context: TaskContext) => Promise<Task.Success<T>>
): Handler<never> => {
  const isFailure = Schema.is(task.failure as Schema.Schema<unknown, unknown>)
  return handler(task, (payload, context) =>
    Effect.tryPromise({
      try: () => run(payload, context),
      catch: (error) => error
    }).pipe(
      Effect.catchAll((error) =>
        isFailure(error) ? Effect.fail(error as Task.Failure<T>) : Effect.die(error)
      )
    ))
}
