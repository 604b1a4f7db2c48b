/**
 * Purging in batches, and retention (a scheduled purge of finished tasks), for every backend.
 *
 * @internal
 */
import type { Scope } from "effect"
import { Clock, Duration, Effect, Schedule } from "effect"
import type * as B from "../../Backend.js"

/**
 * Runs `batch` (which deletes at most `size` tasks and says how many) until a batch deletes fewer
 * than `size`; returns the total. Between batches other writers get the store.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const inBatches = <E>(batch: Effect.Effect<number, E>, size: number): Effect.Effect<number, E> => {
  const loop = (total: number): Effect.Effect<number, E> =>
    Effect.flatMap(batch, (n) => (n < size ? Effect.succeed(total + n) : loop(total + n)))
  return loop(0)
}

/**
 * How long finished tasks are kept: a duration (`"7 days"`), or the duration and how often the
 * purge runs (default every minute).
 *
 * @since 0.1.0
 * @category models
 */
export type Retention =
  | Duration.DurationInput
  | { readonly finishedOlderThan: Duration.DurationInput; readonly every?: Duration.DurationInput | undefined }

const isSpec = (
  r: Retention
): r is { readonly finishedOlderThan: Duration.DurationInput; readonly every?: Duration.DurationInput | undefined } =>
  typeof r === "object" && r !== null && !Duration.isDuration(r) && !Array.isArray(r) && "finishedOlderThan" in r

/**
 * The retention's keep duration and purge period.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const retentionOf = (r: Retention): { readonly keep: Duration.Duration; readonly every: Duration.Duration } =>
  isSpec(r)
    ? { keep: Duration.decode(r.finishedOlderThan), every: Duration.decode(r.every ?? "1 minute") }
    : { keep: Duration.decode(r), every: Duration.minutes(1) }

/**
 * Forks, for the scope's lifetime, the retention loop of a store: at once and then every period,
 * purges the tasks that finished longer ago than the keep duration. A failed purge is logged and
 * tried again at the next period. Nothing when the keep duration is infinite.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const retain = (
  backend: B.Backend,
  retention: Retention | undefined
): Effect.Effect<void, never, Scope.Scope> => {
  if (retention === undefined) return Effect.void
  const { every, keep } = retentionOf(retention)
  if (!Duration.isFinite(keep)) return Effect.void
  const keepMillis = Duration.toMillis(keep)
  return Clock.currentTimeMillis.pipe(
    Effect.flatMap((now) => backend.purge({ finishedBefore: now - keepMillis })),
    Effect.tap((n) =>
      n > 0 ? Effect.logDebug(`sitq ${backend.name} retention: purged ${n} finished tasks`) : Effect.void
    ),
    Effect.catchAll((error) => Effect.logWarning(`sitq ${backend.name} retention: purge failed`, error)),
    Effect.repeat(Schedule.spaced(every)),
    Effect.interruptible,
    Effect.forkScoped,
    Effect.asVoid
  )
}
