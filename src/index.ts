/**
 * sitq: a durable, typed task queue for TypeScript, built on Effect.
 *
 * Define tasks with `Task.make`, give them code with `Task.handler`, enqueue them through the
 * `TaskQueue` service, run them with a `Worker`, and store them in a backend: `MemoryBackend` here,
 * `SqliteBackend` from `sitq/sqlite`, `PostgresBackend` from `sitq/postgres`, `RedisBackend` from
 * `sitq/redis`. Code without Effect uses the Promise client from `sitq/promise`.
 *
 * @since 0.1.0
 * @module sitq
 */

/**
 * The storage port and the task record every backend shares.
 *
 * @since 0.1.0
 */
export * as Backend from "./Backend.js"

/**
 * The in-memory backend.
 *
 * @since 0.1.0
 */
export * as MemoryBackend from "./backends/memory.js"

/**
 * Queue depth as a `Metric` gauge, sampled from the backend's stats.
 *
 * @since 0.1.0
 */
export * as Metrics from "./Metrics.js"
/**
 * Task definitions and handlers.
 *
 * @since 0.1.0
 */
export * as Task from "./Task.js"

/**
 * @since 0.1.0
 */
export { Priority } from "./Task.js"

/**
 * @since 0.1.0
 */
export type { Handler, RetryInput, TaskContext } from "./Task.js"

/**
 * @since 0.1.0
 */
export { Serializer, type SerializerService } from "./Serializer.js"

/**
 * @since 0.1.0
 */
export {
  type EnqueueItemOptions,
  type EnqueueManyOptions,
  type EnqueueOptions,
  type EnqueueTiming,
  type JoinError,
  type TaskInfo,
  TaskQueue,
  type TaskQueueOptions,
  type TaskQueueService,
  type TaskResult,
  type UnwrappedJoinError,
  type WaitOptions
} from "./TaskQueue.js"

/**
 * @since 0.1.0
 */
export { taskOutcomes, Worker, type WorkerOptions, type WorkerService, type WorkerStats } from "./Worker.js"

/**
 * @since 0.1.0
 */
export * from "./Errors.js"
