/**
 * Task definitions and handlers. A definition (`Task.make`) names a task and gives the schemas of
 * its payload, success and failure, its retry schedule, timeout, priority and queue: it is shared
 * by producers and workers and holds no handler code. A handler (`Task.handler`) is the code that
 * runs it; only workers import handlers, and a handler's requirements show up in the type of the
 * worker that runs it.
 *
 * @since 0.1.0
 */
import type { Duration, Effect } from "effect"
import { Duration as D, Schedule, Schema } from "effect"
import type { TaskDefect, TaskTimeout } from "./Errors.js"

/**
 * Any schema without requirements, `Schema.Never` included (the default failure schema).
 *
 * @since 0.1.0
 * @category models
 */
export type AnySchema = Schema.Schema.AnyNoContext | Schema.Schema<never, never, never>

/**
 * Named priorities: higher runs first. Any 32-bit integer is a valid priority; anything else (2.5,
 * NaN) fails the enqueue, and a worker whose handler's task has one, with `InvalidOptions`.
 *
 * @since 0.1.0
 * @category priority
 */
export const Priority = {
  CRITICAL: 4,
  HIGH: 3,
  NORMAL: 2,
  LOW: 1
} as const

/**
 * @since 0.1.0
 * @category priority
 */
export type Priority = number

/**
 * What a task's retry schedule is stepped with after a failed attempt: the handler's typed failure,
 * a `TaskTimeout` when the attempt outran the task's timeout, or a `TaskDefect` when it died.
 *
 * @since 0.1.0
 * @category models
 */
export type RetryInput<E> = E | TaskTimeout | TaskDefect

/**
 * A task definition.
 *
 * @since 0.1.0
 * @category models
 */
export interface Task<
  Name extends string,
  Payload extends AnySchema,
  Success extends AnySchema,
  Failure extends AnySchema
> {
  readonly _tag: "Task"
  readonly name: Name
  readonly payload: Payload
  readonly success: Success
  readonly failure: Failure
  /** Steps after each failed attempt; `undefined` means no retries. */
  readonly retry: Schedule.Schedule<unknown, RetryInput<Schema.Schema.Type<Failure>>> | undefined
  /** Per-attempt time limit; `undefined` means none. */
  readonly timeout: Duration.Duration | undefined
  /** Default priority of this task's enqueues. */
  readonly priority: number
  /** Default queue of this task's enqueues. */
  readonly queue: string
}

/**
 * Type-level helpers for tasks.
 *
 * @since 0.1.0
 * @category models
 */
export declare namespace Task {
  /**
   * Any task definition.
   *
   * @since 0.1.0
   */
  export interface Any {
    readonly _tag: "Task"
    readonly name: string
    readonly payload: AnySchema
    readonly success: AnySchema
    readonly failure: AnySchema
    readonly retry: Schedule.Schedule<unknown, never> | undefined
    readonly timeout: Duration.Duration | undefined
    readonly priority: number
    readonly queue: string
  }
  /**
   * The payload type of a task.
   *
   * @since 0.1.0
   */
  export type Payload<T extends Any> = Schema.Schema.Type<T["payload"]>
  /**
   * The success type of a task.
   *
   * @since 0.1.0
   */
  export type Success<T extends Any> = Schema.Schema.Type<T["success"]>
  /**
   * The typed failure of a task.
   *
   * @since 0.1.0
   */
  export type Failure<T extends Any> = Schema.Schema.Type<T["failure"]>
}

/**
 * Any task definition (`Task.Any` for users of the `Task` namespace).
 *
 * @since 0.1.0
 * @category models
 */
export type Any = Task.Any

/**
 * The payload type of a task definition.
 *
 * @since 0.1.0
 * @category models
 */
export type Payload<T extends Any> = Task.Payload<T>

/**
 * The success type of a task definition.
 *
 * @since 0.1.0
 * @category models
 */
export type Success<T extends Any> = Task.Success<T>

/**
 * The typed failure of a task definition.
 *
 * @since 0.1.0
 * @category models
 */
export type Failure<T extends Any> = Task.Failure<T>

/**
 * The queue a task goes to when neither its definition nor the enqueue names one.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultQueue = "default"

/**
 * Defines a task. Schemas default to `Schema.Void` (payload), `Schema.Unknown` (success) and
 * `Schema.Never` (failure), so a bare task is one line. A definition is a plain value, so its
 * options are checked where it is used: an enqueue with a `priority` that is not an integer, and a
 * `Worker` whose handlers include such a task (or a `timeout` of zero, or a name another task
 * already has), fail with `InvalidOptions`.
 *
 * @example
 * ```ts
 * import { Schedule, Schema } from "effect"
 * import { Priority, Task } from "sitq"
 *
 * class Rejected extends Schema.TaggedError<Rejected>()("Rejected", { retryable: Schema.Boolean }) {}
 *
 * const SendEmail = Task.make("send_email", {
 *   payload: Schema.Struct({ to: Schema.String, subject: Schema.String }),
 *   success: Schema.Struct({ messageId: Schema.String }),
 *   failure: Rejected,
 *   retry: Schedule.exponential("1 second").pipe(Schedule.intersect(Schedule.recurs(5))),
 *   timeout: "30 seconds",
 *   priority: Priority.HIGH
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <
  const Name extends string,
  Payload extends AnySchema = typeof Schema.Void,
  Success extends AnySchema = typeof Schema.Unknown,
  Failure extends AnySchema = typeof Schema.Never
>(
  name: Name,
  options?: {
    readonly payload?: Payload | undefined
    readonly success?: Success | undefined
    readonly failure?: Failure | undefined
    readonly retry?: Schedule.Schedule<unknown, RetryInput<Schema.Schema.Type<Failure>>> | undefined
    readonly timeout?: Duration.DurationInput | undefined
    readonly priority?: number | undefined
    readonly queue?: string | undefined
  }
): Task<Name, Payload, Success, Failure> => ({
  _tag: "Task",
  name,
  payload: (options?.payload ?? Schema.Void) as Payload,
  success: (options?.success ?? Schema.Unknown) as Success,
  failure: (options?.failure ?? Schema.Never) as Failure,
  retry: options?.retry,
  timeout: options?.timeout === undefined ? undefined : D.decode(options.timeout),
  priority: options?.priority ?? Priority.NORMAL,
  queue: options?.queue ?? defaultQueue
})

/**
 * What a handler knows about the attempt it runs.
 *
 * @since 0.1.0
 * @category models
 */
export interface TaskContext {
  readonly id: string
  readonly name: string
  readonly queue: string
  /** 1 for the first attempt. */
  readonly attempt: number
  readonly enqueuedAt: number
}

/**
 * A handler: the code that runs one task definition, with its requirements `R`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Handler<out R> {
  readonly _tag: "Handler"
  readonly task: Task.Any
  readonly run: (payload: unknown, context: TaskContext) => Effect.Effect<unknown, unknown, R>
}

/**
 * Type-level helpers for handlers.
 *
 * @since 0.1.0
 * @category models
 */
export declare namespace Handler {
  /**
   * Any handler.
   *
   * @since 0.1.0
   */
  export type Any = Handler<unknown>
  /**
   * The requirements of a list of handlers.
   *
   * @since 0.1.0
   */
  export type Context<H> = H extends Handler<infer R> ? R : never
}

/**
 * Gives a task its code. The function receives the decoded payload and the attempt's
 * {@link TaskContext}; it succeeds with the task's success type or fails with its failure type.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Task } from "sitq"
 *
 * const Add = Task.make("add", { payload: Schema.Struct({ a: Schema.Number, b: Schema.Number }), success: Schema.Number })
 * const AddLive = Task.handler(Add, ({ a, b }) => Effect.succeed(a + b))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const handler = <T extends Task.Any, R>(
  task: T,
  run: (payload: Task.Payload<T>, context: TaskContext) => Effect.Effect<Task.Success<T>, Task.Failure<T>, R>
): Handler<R> => ({
  _tag: "Handler",
  task,
  run: run as Handler<R>["run"]
})
