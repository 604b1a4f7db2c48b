/**
 * Every error sitq can produce. They are `Schema.TaggedError`s so that they can cross a process
 * boundary and be stored with a task: a task's failure is recorded by tag, message and encoded
 * data, and decoded back into the same class by whoever joins the task.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * A task ended `failed`: its handler failed with its typed failure (or timed out, or died) and its
 * retry schedule gave up, or its payload could not be decoded, or no handler knew its name.
 * `failure` is the decoded error that ended it: the task's own failure type when the handler
 * failed, otherwise one of sitq's errors (`TaskTimeout`, `TaskDefect`, `UnknownTask`,
 * `SerializationError`).
 *
 * @since 0.1.0
 * @category errors
 */
export class TaskFailed extends Schema.TaggedError<TaskFailed>("sitq/TaskFailed")("TaskFailed", {
  taskId: Schema.String,
  taskName: Schema.String,
  attempts: Schema.Number,
  message: Schema.String,
  traceback: Schema.NullOr(Schema.String),
  failure: Schema.Unknown
}) {}

/**
 * Type-level helpers for {@link TaskFailed}.
 *
 * @since 0.1.0
 * @category errors
 */
export declare namespace TaskFailed {
  /**
   * A `TaskFailed` whose `failure` is known to be `E`: what `TaskQueue.join` fails with.
   *
   * @since 0.1.0
   * @category errors
   */
  export interface Of<E> extends TaskFailed {
    readonly failure: E
  }
}

/**
 * No task with this id exists in the backend.
 *
 * @since 0.1.0
 * @category errors
 */
export class TaskNotFound extends Schema.TaggedError<TaskNotFound>("sitq/TaskNotFound")("TaskNotFound", {
  taskId: Schema.String,
  message: Schema.String
}) {
  /** @since 0.1.0 */
  static of(taskId: string): TaskNotFound {
    return new TaskNotFound({ taskId, message: `no task with id ${taskId}` })
  }
}

/**
 * `join` was asked for a task of one kind with the id of a task of another kind: the record exists,
 * but its name is `actual`, not the `expected` name of the definition passed to `join`.
 *
 * @since 0.1.0
 * @category errors
 */
export class TaskMismatch extends Schema.TaggedError<TaskMismatch>("sitq/TaskMismatch")("TaskMismatch", {
  taskId: Schema.String,
  expected: Schema.String,
  actual: Schema.String,
  message: Schema.String
}) {}

/**
 * An option is out of its range or two options contradict each other: `concurrency: 0`, a negative
 * or NaN `delay`, an invalid `Date` as `eta`, a priority that is not an integer, two handlers for
 * one task name. Raised where the mistake is made (the enqueue, `Worker.layer`), before any backend
 * is touched, so every backend answers the same. `option` names the option.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidOptions extends Schema.TaggedError<InvalidOptions>("sitq/InvalidOptions")("InvalidOptions", {
  option: Schema.String,
  message: Schema.String
}) {}

/**
 * Waiting for a task's result (`getResult`, `join`) took longer than the caller's timeout. The task
 * itself is not affected.
 *
 * @since 0.1.0
 * @category errors
 */
export class ResultTimeout extends Schema.TaggedError<ResultTimeout>("sitq/ResultTimeout")("ResultTimeout", {
  taskId: Schema.String,
  timeoutMillis: Schema.Number,
  message: Schema.String
}) {}

/**
 * A handler ran longer than its task's `timeout` and was interrupted. This is the input the task's
 * retry schedule sees for that attempt.
 *
 * @since 0.1.0
 * @category errors
 */
export class TaskTimeout extends Schema.TaggedError<TaskTimeout>("sitq/TaskTimeout")("TaskTimeout", {
  taskName: Schema.String,
  timeoutMillis: Schema.Number,
  message: Schema.String
}) {}

/**
 * A handler died with a defect (an unexpected exception, `Effect.die`) rather than failing with its
 * typed failure. The defect's rendering is kept in `message`; the full cause is the traceback.
 *
 * @since 0.1.0
 * @category errors
 */
export class TaskDefect extends Schema.TaggedError<TaskDefect>("sitq/TaskDefect")("TaskDefect", {
  taskName: Schema.String,
  message: Schema.String
}) {}

/**
 * The task was cancelled before it finished: what `join` fails with for a cancelled task.
 *
 * @since 0.1.0
 * @category errors
 */
export class TaskCancelled extends Schema.TaggedError<TaskCancelled>("sitq/TaskCancelled")("TaskCancelled", {
  taskId: Schema.String,
  message: Schema.String
}) {}

/**
 * A value could not be encoded or decoded: a payload that fails its schema at enqueue (nothing is
 * stored), a stored payload that no longer decodes (that task fails, the worker goes on), a result
 * that does not fit the task's success schema, or bytes the serializer cannot read.
 *
 * @since 0.1.0
 * @category errors
 */
export class SerializationError extends Schema.TaggedError<SerializationError>("sitq/SerializationError")(
  "SerializationError",
  {
    message: Schema.String,
    cause: Schema.optional(Schema.Defect)
  }
) {}

/**
 * A worker claimed a task whose name none of its handlers knows. The task ends `failed` with this
 * error and the worker goes on.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownTask extends Schema.TaggedError<UnknownTask>("sitq/UnknownTask")("UnknownTask", {
  taskName: Schema.String,
  message: Schema.String
}) {}

/**
 * The storage backend failed: a connection could not be opened or was lost, a statement failed, a
 * database file is not a sitq database. `reason` says which kind, `cause` keeps the driver's error.
 *
 * @since 0.1.0
 * @category errors
 */
export class BackendError extends Schema.TaggedError<BackendError>("sitq/BackendError")("BackendError", {
  reason: Schema.Literal("Connect", "Query", "Schema", "Closed", "Unavailable"),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/**
 * The errors sitq itself records for a task when the handler's own typed failure is not what
 * ended the attempt. Used to decode stored errors back into classes.
 *
 * @since 0.1.0
 * @category errors
 */
export const BuiltinTaskError = Schema.Union(TaskTimeout, TaskDefect, UnknownTask, SerializationError)

/**
 * @since 0.1.0
 * @category errors
 */
export type BuiltinTaskError = typeof BuiltinTaskError.Type
