/**
 * Durable retries from a `Schedule`. A schedule's state lives in memory, so it cannot simply be
 * stored; instead, after attempt `n` fails, the schedule is replayed from its initial state for
 * `n` steps with the failure as input, and the last step's decision gives the next `runAt`. The
 * result depends only on the stored attempt count, so a retry survives a worker restart and any
 * worker computes the same next step. (Every step is fed the latest failure: `whileInput` decides
 * on the error at hand; exponential and spaced delays depend only on the step count.)
 *
 * @internal
 */
import { Effect, Option, Schedule, ScheduleDecision, ScheduleIntervals } from "effect"

/** The epoch millis of the next attempt, or none when the schedule is done. @internal */
export const nextRunAt = (
  schedule: Schedule.Schedule<unknown, unknown>,
  attempts: number,
  input: unknown,
  now: number
): Effect.Effect<Option.Option<number>> =>
  Effect.gen(function*() {
    let state: unknown = schedule.initial
    let decision: ScheduleDecision.ScheduleDecision = ScheduleDecision.done
    for (let i = 0; i < attempts; i++) {
      const [next, , d] = yield* schedule.step(now, input, state)
      state = next
      decision = d
      if (ScheduleDecision.isDone(d)) return Option.none()
    }
    return ScheduleDecision.isContinue(decision)
      ? Option.some(Math.max(now, ScheduleIntervals.start(decision.intervals)))
      : Option.none()
  })
