/**
 * A pool of child processes for CPU-bound handlers: each child is a separate Node process with
 * its own heap and event loop, started with the layer, running one call at a time, reused across
 * tasks, and stopped when the layer's scope closes. An interrupted call (timeout, cancellation,
 * shutdown) kills its child with `SIGKILL`; a child that exits or is killed is replaced. A child
 * whose parent dies without closing the pool exits as soon as it is not busy.
 *
 * @example
 * ```ts
 * import { Layer, Schema } from "effect"
 * import { Task, Worker } from "sitq"
 * import { ProcessPool } from "sitq/executors"
 *
 * const Fib = Task.make("fib", { payload: Schema.Number, success: Schema.Number, timeout: "1 minute" })
 * // fib.js: export const fib = (n) => (n < 2 ? n : fib(n - 1) + fib(n - 2))
 * const FibLive = ProcessPool.handler(Fib, { module: new URL("./fib.js", import.meta.url), export: "fib" })
 *
 * const Live = Worker.layer({ handlers: [FibLive], concurrency: 4 }).pipe(Layer.provide(ProcessPool.layer({ size: 2 })))
 * ```
 *
 * @since 0.1.0
 */
import type { Effect, Scope } from "effect"
import { Context, Layer } from "effect"
import { type ChildProcess, spawn as spawnChild } from "node:child_process"
import type { ExecutorError, ExecutorPool, PoolOptions, Target } from "./Executor.js"
import * as Executor from "./Executor.js"
import * as Internal from "./internal/pool.js"
import type * as Task from "../Task.js"

/**
 * Process pool options.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProcessPoolOptions extends PoolOptions {}

const spawn = (options: ProcessPoolOptions) => (args: ReadonlyArray<string>): ChildProcess =>
  spawnChild(process.execPath, [...(options.execArgv ?? process.execArgv), "--eval", Internal.bootstrap, ...args], {
    // stdin closed; the child's output is this process's; messages by structured clone.
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    serialization: "advanced",
    env: options.env === undefined ? process.env : { ...options.env }
  })

/**
 * Starts a process pool for the scope's lifetime.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: ProcessPoolOptions = {}): Effect.Effect<ExecutorPool, ExecutorError, Scope.Scope> =>
  Internal.make("process", options, spawn(options))

/**
 * The process pool service: `ProcessPool.layer(options)` provides it, `ProcessPool.handler(task,
 * target)` runs a task on it.
 *
 * @since 0.1.0
 * @category tags
 */
export class ProcessPool extends Context.Tag("sitq/executors/ProcessPool")<ProcessPool, ExecutorPool>() {
  /**
   * A process pool for the layer's lifetime.
   *
   * @since 0.1.0
   */
  static layer(options: ProcessPoolOptions = {}): Layer.Layer<ProcessPool, ExecutorError> {
    return Layer.scoped(ProcessPool, make(options))
  }

  /**
   * A handler that runs `target` (a module URL and an export) in a child of the process pool. Its
   * requirement is `ProcessPool`, so the worker layer that runs it needs `ProcessPool.layer`.
   *
   * @since 0.1.0
   */
  static handler<T extends Task.Any>(task: T, target: Target): Task.Handler<ProcessPool> {
    return Executor.handler(ProcessPool, task, target)
  }

  /**
   * Starts a process pool for the current scope's lifetime (the effect behind `ProcessPool.layer`).
   *
   * @since 0.1.0
   */
  static make(options: ProcessPoolOptions = {}): Effect.Effect<ExecutorPool, ExecutorError, Scope.Scope> {
    return make(options)
  }
}
