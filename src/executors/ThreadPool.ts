/**
 * A pool of `worker_threads` for handlers that block or burn CPU: their code runs off the event
 * loop that claims tasks and keeps leases, so the worker stays responsive. Threads start with the
 * layer, each runs one call at a time, are reused across tasks, and are terminated when the layer's
 * scope closes; `resourceLimits` bounds each thread's heap (a thread that runs out of memory fails
 * its task with a defect and is replaced).
 *
 * @example
 * ```ts
 * import { Layer, Schema } from "effect"
 * import { Task, Worker } from "sitq"
 * import { ThreadPool } from "sitq/executors"
 *
 * const Hash = Task.make("hash", { payload: Schema.String, success: Schema.String, timeout: "10 seconds" })
 * // hash.js: export const hash = (text) => createHash("sha256").update(text).digest("hex")
 * const HashLive = ThreadPool.handler(Hash, { module: new URL("./hash.js", import.meta.url), export: "hash" })
 *
 * const Live = Worker.layer({ handlers: [HashLive] }).pipe(Layer.provide(ThreadPool.layer({ size: 4 })))
 * ```
 *
 * @since 0.1.0
 */
import type { Effect, Scope } from "effect"
import { Context, Layer } from "effect"
import { Worker as Thread } from "node:worker_threads"
import type { ResourceLimits } from "node:worker_threads"
import type { ExecutorError, ExecutorPool, PoolOptions, Target } from "./Executor.js"
import * as Executor from "./Executor.js"
import * as Internal from "./internal/pool.js"
import type * as Task from "../Task.js"

/**
 * Thread pool options.
 *
 * @since 0.1.0
 * @category models
 */
export interface ThreadPoolOptions extends PoolOptions {
  /** Heap and stack limits of each thread (`maxOldGenerationSizeMb` and the others). */
  readonly resourceLimits?: ResourceLimits | undefined
}

const spawn = (options: ThreadPoolOptions) => (args: ReadonlyArray<string>): Thread =>
  new Thread(Internal.bootstrap, {
    eval: true,
    argv: [...args],
    ...(options.env === undefined ? {} : { env: { ...options.env } }),
    ...(options.execArgv === undefined ? {} : { execArgv: [...options.execArgv] }),
    ...(options.resourceLimits === undefined ? {} : { resourceLimits: options.resourceLimits })
  })

/**
 * Starts a thread pool for the scope's lifetime.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: ThreadPoolOptions = {}): Effect.Effect<ExecutorPool, ExecutorError, Scope.Scope> =>
  Internal.make("thread", options, spawn(options))

/**
 * The thread pool service: `ThreadPool.layer(options)` provides it, `ThreadPool.handler(task,
 * target)` runs a task on it.
 *
 * @since 0.1.0
 * @category tags
 */
export class ThreadPool extends Context.Tag("sitq/executors/ThreadPool")<ThreadPool, ExecutorPool>() {
  /**
   * A thread pool for the layer's lifetime.
   *
   * @since 0.1.0
   */
  static layer(options: ThreadPoolOptions = {}): Layer.Layer<ThreadPool, ExecutorError> {
    return Layer.scoped(ThreadPool, make(options))
  }

  /**
   * A handler that runs `target` (a module URL and an export) on the thread pool. Its requirement
   * is `ThreadPool`, so the worker layer that runs it needs `ThreadPool.layer`.
   *
   * @since 0.1.0
   */
  static handler<T extends Task.Any>(task: T, target: Target): Task.Handler<ThreadPool> {
    return Executor.handler(ThreadPool, task, target)
  }

  /**
   * Starts a thread pool for the current scope's lifetime (the effect behind `ThreadPool.layer`).
   *
   * @since 0.1.0
   */
  static make(options: ThreadPoolOptions = {}): Effect.Effect<ExecutorPool, ExecutorError, Scope.Scope> {
    return make(options)
  }
}

