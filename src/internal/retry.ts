/**
 * Durable retries from a `Schedule`. A schedule's state lives in memory, so it cannot simply be
 * stored; instead the task stores the time of each failed attempt of its current run
 * (`TaskRecord.failureTimes`), and after a failure the schedule is replayed from its initial state,
 * one step per failure at that failure's time, exactly as `Effect.retry` steps it (its driver steps
 * the schedule with `Clock.currentTimeMillis` when the effect fails). The last step's decision
 * gives the next `runAt`. So schedules that depend on elapsed time (`Schedule.upTo`,
 * `Schedule.during`, `Schedule.elapsed`) end when `Effect.retry` would end them, a retry survives a
 * worker restart, and any worker computes the same next step.
 *
 * Every step is fed the failure at hand (earlier failures are not stored): `whileInput` decides on
 * the latest error. Randomness (`Schedule.jittered`) is drawn again on every replay: the earlier
 * steps' draws are thrown away (they changed only the delays, and the failure times that came of
 * them are stored), and the last step's draw is a fresh one from the same range, as
 * `Effect.retry`'s would be.
 *
 * @internal
 */
import { Effect, Option, ScheduleDecision, ScheduleIntervals } from "effect"
import type { Schedule } from "effect"

/**
 * The epoch millis of the next attempt after the failures at `failureTimes` (oldest first; the
 * last one is the failure at hand), or none when the schedule is done. @internal
 */
export const nextRunAt = (
  schedule: Schedule.Schedule<unknown, unknown>,
  failureTimes: ReadonlyArray<number>,
  input: unknown
): Effect.Effect<Option.Option<number>> =>
  Effect.gen(function*() {
    let state: unknown = schedule.initial
    let decision: ScheduleDecision.ScheduleDecision = ScheduleDecision.done
    for (const now of failureTimes) {
      const [next, , d] = yield* schedule.step(now, input, state)
      state = next
      decision = d
      if (ScheduleDecision.isDone(d)) return Option.none()
    }
    const last = failureTimes[failureTimes.length - 1]
    return ScheduleDecision.isContinue(decision) && last !== undefined
      ? Option.some(Math.max(last, ScheduleIntervals.start(decision.intervals)))
      : Option.none()
  })
