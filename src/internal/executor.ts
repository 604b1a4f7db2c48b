/**
 * The executor: one claimed record in, one outcome out. It decodes the payload, runs the handler
 * under the task's timeout, encodes the result, and turns a failure into `Retrying` (by the task's
 * retry schedule) or `Failed`, logging each failed attempt. It knows nothing of backends, leases
 * or fibers, so it is tested on plain records.
 *
 * @internal
 */
import type { Schedule } from "effect"
import { Cause, Clock, DateTime, Duration as D, Effect, Exit, LogLevel, Option } from "effect"
import type * as B from "../Backend.js"
import { TaskDefect, TaskTimeout, UnknownTask } from "../Errors.js"
import type { SerializerService } from "../Serializer.js"
import type { Handler, TaskContext } from "../Task.js"
import * as Codec from "./codec.js"
import { nextRunAt } from "./retry.js"

/** @internal */
export interface ExecutorOptions {
  /** The handlers by task name (already checked for duplicates). */
  readonly handlers: ReadonlyMap<string, Handler.Any>
  readonly serializer: SerializerService
  /** The lease owner (for leases and messages). */
  readonly owner: string
  /** The level at which failed attempts are logged. */
  readonly failureLogLevel?: LogLevel.LogLevel | undefined
}

/** @internal */
export interface Executor<R> {
  /** Runs one claimed attempt to its outcome. Interruption (shutdown, cancel, lost lease) is not caught. */
  readonly execute: (rec: B.TaskRecord) => Effect.Effect<B.Outcome, never, R>
}

/** The lease a claimed record grants its owner. @internal */
export const leaseOf = (rec: B.TaskRecord, owner: string): B.Lease => ({ id: rec.id, owner, attempt: rec.attempts })

type Retrying = Extract<B.Outcome, { readonly _tag: "Retrying" }>

/**
 * The retry decision for a failed attempt: the task's schedule is replayed to the next run time,
 * giving a `Retrying` outcome, or none when the schedule is done. (The one place that steps a
 * schedule and builds `Retrying`.)
 *
 * @internal
 */
export const retryOutcome = (
  schedule: Schedule.Schedule<unknown, unknown>,
  failureTimes: ReadonlyArray<number>,
  lease: B.Lease,
  error: unknown,
  stored: B.StoredError,
  traceback: string | null
): Effect.Effect<Option.Option<Retrying>> =>
  Effect.map(
    nextRunAt(schedule, failureTimes, error),
    Option.map((runAt): Retrying => ({ _tag: "Retrying", lease, runAt, error: stored, traceback, failureTimes }))
  )

const isoOf = (millis: number): string => DateTime.formatIso(DateTime.unsafeMake(millis))

/** @internal */
export const make = <R>(options: ExecutorOptions): Executor<R> => {
  const { handlers, owner, serializer } = options
  const level = options.failureLogLevel ?? LogLevel.Warning
  const codecs = Codec.cache(serializer)

  /** The outcome of a failed attempt: retry by the task's schedule, or fail for good. */
  const failure = (
    rec: B.TaskRecord,
    lease: B.Lease,
    error: unknown,
    traceback: string | null,
    retry: Handler.Any["task"]["retry"]
  ): Effect.Effect<B.Outcome> =>
    Effect.gen(function*() {
      const stored = yield* Codec.storeError(error, handlers.get(rec.name)?.task.failure ?? UnknownTask, serializer)
      // This attempt's failure time joins the run's earlier ones: the replay steps each at its own time.
      const failureTimes = [...rec.failureTimes, yield* Clock.currentTimeMillis]
      // The schedule was typed by the task's definer to accept exactly the errors fed here.
      const retrying = retry === undefined
        ? Option.none<Retrying>()
        : yield* retryOutcome(retry as unknown as Schedule.Schedule<unknown, unknown>, failureTimes, lease, error, stored, traceback)
      const annotations = { task: rec.id, name: rec.name, attempt: rec.attempts, error: stored.message }
      if (Option.isSome(retrying)) {
        const at = isoOf(retrying.value.runAt)
        yield* Effect.logWithLevel(level, `sitq: task '${rec.name}' attempt ${rec.attempts} failed; next run at ${at}`)
          .pipe(Effect.annotateLogs({ ...annotations, nextRunAt: at }))
        return retrying.value
      }
      yield* Effect.logWithLevel(level, `sitq: task '${rec.name}' failed after ${rec.attempts} attempt(s)`)
        .pipe(Effect.annotateLogs({ ...annotations, nextRunAt: "none" }))
      return { _tag: "Failed", lease, error: stored, traceback, failureTimes } satisfies B.Outcome
    })

  const execute = (rec: B.TaskRecord): Effect.Effect<B.Outcome, never, R> => {
    const lease = leaseOf(rec, owner)
    const handler = handlers.get(rec.name)
    if (handler === undefined) {
      const error = new UnknownTask({
        taskName: rec.name,
        message: `no handler for task '${rec.name}' on worker ${owner} (it knows: ${
          Array.from(handlers.keys()).join(", ") || "none"
        })`
      })
      return failure(rec, lease, error, null, undefined)
    }
    const task = handler.task
    const context: TaskContext = {
      id: rec.id,
      name: rec.name,
      queue: rec.queue,
      attempt: rec.attempts,
      enqueuedAt: rec.enqueuedAt
    }
    const codec = codecs(task)
    const timeout = task.timeout
    const timed = (run: Effect.Effect<unknown, unknown, R>) =>
      timeout === undefined ? run : Effect.timeoutFail(run, {
        duration: timeout,
        onTimeout: () =>
          new TaskTimeout({
            taskName: rec.name,
            timeoutMillis: D.toMillis(timeout),
            message: `task '${rec.name}' (${rec.id}) timed out after ${D.format(timeout)}`
          })
      })
    const settleExit = (exit: Exit.Exit<unknown, unknown>): Effect.Effect<B.Outcome> => {
      if (Exit.isSuccess(exit)) {
        return codec.success.encode(exit.value).pipe(
          Effect.matchEffect({
            onFailure: (error) => failure(rec, lease, error, null, undefined),
            onSuccess: (result) => Effect.succeed<B.Outcome>({ _tag: "Succeeded", lease, result })
          })
        )
      }
      const cause = exit.cause
      const typed = Cause.failureOption(cause)
      const error = Option.isSome(typed) ? typed.value : new TaskDefect({
        taskName: rec.name,
        message: Cause.isInterruptedOnly(cause)
          ? `task '${rec.name}' interrupted itself`
          : `task '${rec.name}' died: ${Cause.pretty(Cause.stripFailures(cause)).split("\n")[0]}`
      })
      return failure(rec, lease, error, Cause.pretty(cause), task.retry)
    }
    return codec.payload.decode(rec.payload).pipe(
      Effect.matchEffect({
        // A payload that no longer decodes will not decode on a retry either.
        onFailure: (error) => failure(rec, lease, error, null, undefined),
        // `handlers` lost each handler's own requirements; the caller's runtime has them all.
        onSuccess: (payload) =>
          Effect.flatMap(Effect.exit(timed(handler.run(payload, context) as Effect.Effect<unknown, unknown, R>)), settleExit)
      })
    )
  }

  return { execute }
}
