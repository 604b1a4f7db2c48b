/**
 * `sitq/executors`: run handlers off the main thread. `ThreadPool` runs them in `worker_threads`,
 * `ProcessPool` in child processes; both are services provided by a layer, so a pool handler's
 * requirement shows in the worker layer's type.
 *
 * @module sitq/executors
 * @since 0.1.0
 */

/**
 * What both pools share: the pool service, the generic handler and the errors.
 *
 * @since 0.1.0
 */
export * as Executor from "./executors/Executor.js"

/**
 * @since 0.1.0
 */
export { ExecutorError, type ExecutorPool, type PoolOptions, type Target, Thrown } from "./executors/Executor.js"

/**
 * @since 0.1.0
 */
export { ProcessPool, type ProcessPoolOptions } from "./executors/ProcessPool.js"

/**
 * @since 0.1.0
 */
export { ThreadPool, type ThreadPoolOptions } from "./executors/ThreadPool.js"
