/**
 * Queue depth as an Effect `Metric`: a gauge `sitq_queue_depth` per queue and status, sampled
 * from the backend's `stats` on a schedule, for any metrics exporter the application installs
 * (e.g. `@effect/opentelemetry`). The worker's own counter of outcomes is `taskOutcomes`.
 *
 * @since 0.1.0
 */
import type { Duration } from "effect"
import { Effect, Layer, Metric, Schedule } from "effect"
import { Backend, statuses } from "./Backend.js"
import type { BackendError } from "./Errors.js"
import { overview } from "./dashboard/queries.js"

/**
 * The number of tasks per queue and status, tagged `queue` and `status`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const queueDepth: Metric.Metric.Gauge<number> = Metric.gauge("sitq_queue_depth", {
  description: "tasks per queue and status, sampled from the backend"
})

/**
 * Options of {@link sample} and {@link layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface QueueDepthOptions {
  /** The queues to sample (default: those seen among the newest 1000 tasks). */
  readonly queues?: ReadonlyArray<string> | undefined
  /** How often {@link layer} samples (default 15 seconds). */
  readonly every?: Duration.DurationInput | undefined
}

/**
 * Reads the counts once and sets the gauge for every queue and status.
 *
 * @since 0.1.0
 * @category sampling
 */
export const sample = (options: QueueDepthOptions = {}): Effect.Effect<void, BackendError, Backend> =>
  Effect.gen(function*() {
    const backend = yield* Backend
    const counts = options.queues === undefined
      ? (yield* overview()).queues
      : yield* Effect.forEach(options.queues, (queue) => Effect.map(backend.stats(queue), (c) => ({ queue, counts: c })))
    for (const { counts: c, queue } of counts) {
      for (const status of statuses) {
        yield* Metric.set(queueDepth.pipe(Metric.tagged("queue", queue), Metric.tagged("status", status)), c[status])
      }
    }
  })

/**
 * Samples the queue depth now and then every `every` for the layer's lifetime. A failed sample is
 * logged at warning and the next one runs on schedule.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: QueueDepthOptions = {}): Layer.Layer<never, never, Backend> =>
  Layer.scopedDiscard(
    sample(options).pipe(
      Effect.catchAll((e) => Effect.logWarning(`sitq: queue depth sample failed: ${e.message}`)),
      Effect.repeat(Schedule.spaced(options.every ?? "15 seconds")),
      Effect.forkScoped
    )
  )
