/**
 * What the thread pool (`ThreadPool`) and the process pool (`ProcessPool`) share: the pool service
 * they provide, the handler that dispatches a task to a pool, and their errors.
 *
 * A pool handler is an ordinary `Task.handler`: the worker decodes the payload and applies the
 * task's timeout, cancellation and retry schedule as for any handler. The handler encodes the
 * payload with the task's payload schema, sends it to a free thread or child, which calls a plain
 * function exported by a module (named by URL), and decodes what the function returns with the
 * task's success schema. A value the function throws that decodes with the task's failure schema
 * is the task's typed failure; any other throw, a crash of the thread or child (`process.exit`,
 * out of memory) and a missing module are defects (`TaskDefect`). When the attempt is interrupted
 * (its timeout, a cancellation, a lost lease, shutdown), the thread is terminated or the child
 * killed at once, and the pool starts a new one in its place.
 *
 * @since 0.1.0
 */
import type { Context, Duration } from "effect"
import { Data, Effect, Schema } from "effect"
import type { Call } from "./internal/protocol.js"
import * as Task from "../Task.js"

/**
 * One call sent to a pool: the module URL, the export to call, the encoded payload and the
 * attempt's context (the function's second argument).
 *
 * @since 0.1.0
 * @category models
 */
export type { Call, CallContext } from "./internal/protocol.js"

/**
 * A running pool of threads or child processes.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExecutorPool {
  readonly kind: "thread" | "process"
  /** How many threads or children the pool keeps (each runs one call at a time). */
  readonly size: number
  /**
   * Runs one call on a free member, waiting for one when all are busy. Succeeds with what the
   * function returned; fails with `Thrown` when it threw, `ExecutorError` when the member crashed
   * or the module could not be used. Interrupting it terminates the thread / kills the child.
   */
  readonly run: (call: Call) => Effect.Effect<unknown, Thrown | ExecutorError>
  /** The members ready now (started, not stopped): the pid of each child, or the `threadId` of each thread. */
  readonly members: Effect.Effect<ReadonlyArray<number>>
  /** How many threads or children the pool has started so far (replacements included). */
  readonly started: Effect.Effect<number>
}

/**
 * Options both pools take.
 *
 * @since 0.1.0
 * @category models
 */
export interface PoolOptions {
  /** How many threads or children (default: the number of CPUs, at least 1). */
  readonly size?: number | undefined
  /** How long a new member may take to load the runner before the pool gives up (default 60 seconds). */
  readonly startTimeout?: Duration.DurationInput | undefined
  /** Environment of the members (default: this process's). */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Node options of the members (default: this process's `execArgv`). */
  readonly execArgv?: ReadonlyArray<string> | undefined
  /**
   * Handler modules every member imports before it takes calls, so that loading them does not
   * count against the first task's timeout (each module is imported once per member either way).
   */
  readonly preload?: ReadonlyArray<URL | string> | undefined
}

/**
 * The code a pool handler runs: a module by URL (`new URL("./fib.js", import.meta.url)`) and
 * the name of the function it exports (default `"default"`). The function receives the task's
 * encoded payload and a {@link CallContext}, and returns (or resolves to) the encoded success.
 *
 * @since 0.1.0
 * @category models
 */
export interface Target {
  readonly module: URL | string
  readonly export?: string | undefined
}

/**
 * A pool could not start a member, a member crashed during a call (it exited, ran out of memory,
 * or a message could not be cloned), or the target module could not be loaded.
 *
 * @since 0.1.0
 * @category errors
 */
export class ExecutorError extends Schema.TaggedError<ExecutorError>("sitq/ExecutorError")("ExecutorError", {
  reason: Schema.Literal("Spawn", "Crashed", "Module", "Protocol"),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/**
 * The function of a pool call threw (or its promise rejected). `value` is the thrown value as it
 * crossed back (an Error's own fields with its name, message and stack; a string when it could
 * not be cloned); `message` names the call and renders the throw with its stack.
 *
 * @since 0.1.0
 * @category errors
 */
export class Thrown extends Data.TaggedError("sitq/Thrown")<{
  readonly value: unknown
  readonly message: string
}> {}

/** @internal */
export const href = (module: URL | string): string => (typeof module === "string" ? module : module.href)

/**
 * A handler for `task` that runs `target` on the pool behind `tag`. Used by `ThreadPool.handler`
 * and `ProcessPool.handler`; a custom pool tag (a second thread pool, say) uses it directly.
 *
 * @since 0.1.0
 * @category constructors
 */
export const handler = <Self, T extends Task.Any>(
  tag: Context.Tag<Self, ExecutorPool>,
  task: T,
  target: Target
): Task.Handler<Self> => {
  const module = href(target.module)
  const name = target.export ?? "default"
  // The task's schemas carry no requirements (`AnySchema`).
  const encodePayload = Schema.encodeUnknown(task.payload as Schema.Schema<unknown, unknown>)
  const decodeSuccess = Schema.decodeUnknown(task.success as Schema.Schema<Task.Success<T>, unknown>)
  const decodeFailure = Schema.decodeUnknown(task.failure as Schema.Schema<Task.Failure<T>, unknown>)
  return Task.handler(task, (payload, context) =>
    Effect.gen(function*() {
      const pool = yield* tag
      const encoded = yield* Effect.orDie(encodePayload(payload))
      const result = yield* pool.run({ module, export: name, payload: encoded, context }).pipe(
        Effect.catchAll((error) =>
          error._tag === "sitq/Thrown"
            ? Effect.flatMap(Effect.either(decodeFailure(error.value)), (typed) =>
              typed._tag === "Right" ? Effect.fail(typed.right) : Effect.die(error))
            : Effect.die(error)
        )
      )
      return yield* Effect.orDie(decodeSuccess(result))
    }))
}
