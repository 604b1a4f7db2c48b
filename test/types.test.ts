/**
 * Type-level guarantees, checked by `tsc` (CI typechecks test/) and by vitest's expectTypeOf.
 */
import { describe, expectTypeOf, it } from "@effect/vitest"
import type { Layer } from "effect"
import { Context, Effect, Schema } from "effect"
import type {
  Backend,
  BackendError,
  InvalidOptions,
  JoinError,
  SerializationError,
  Serializer,
  TaskMismatch,
  TaskTimeout,
  UnwrappedJoinError,
  WorkerStats
} from "../src/index.js"
import { Task, TaskFailed, TaskQueue, Worker } from "../src/index.js"

class Rejected extends Schema.TaggedError<Rejected>()("Rejected", { reason: Schema.String }) {}
class Mailer extends Context.Tag("test/Mailer")<Mailer, { readonly send: (to: string) => Effect.Effect<string> }>() {}

const SendEmail = Task.make("send_email", {
  payload: Schema.Struct({ to: Schema.String, subject: Schema.String }),
  success: Schema.Struct({ messageId: Schema.String }),
  failure: Rejected
})
const Bare = Task.make("bare")

describe("types", () => {
  it("an enqueue whose payload has the wrong type does not compile", () => {
    const program = Effect.gen(function*() {
      const queue = yield* TaskQueue
      yield* queue.enqueue(SendEmail, { to: "a@b.c", subject: "Hi" })
      // @ts-expect-error subject is missing
      yield* queue.enqueue(SendEmail, { to: "a@b.c" })
      // @ts-expect-error to must be a string
      yield* queue.enqueue(SendEmail, { to: 1, subject: "Hi" })
      // @ts-expect-error the payload is required
      yield* queue.enqueue(SendEmail)
      // a void payload may be left out
      yield* queue.enqueue(Bare)
      yield* queue.enqueue(Bare, undefined, { delay: "1 second" })
      // @ts-expect-error a wrong payload list for enqueueMany
      yield* queue.enqueueMany(SendEmail, [{ to: "x" }])
    })
    expectTypeOf(program).toEqualTypeOf<
      Effect.Effect<void, SerializationError | InvalidOptions | BackendError, TaskQueue>
    >()
  })

  it("delay together with eta does not compile; either alone does", () => {
    const program = Effect.gen(function*() {
      const queue = yield* TaskQueue
      yield* queue.enqueue(Bare, undefined, { delay: "1 second" })
      yield* queue.enqueue(Bare, undefined, { eta: new Date(0) })
      yield* queue.enqueue(Bare, undefined, { eta: 0, priority: 3, key: "k" })
      // @ts-expect-error delay and eta are exclusive
      yield* queue.enqueue(Bare, undefined, { delay: "1 second", eta: new Date(0) })
      // @ts-expect-error delay and eta are exclusive in enqueueMany too
      yield* queue.enqueueMany(Bare, [undefined], { delay: 10, eta: 0 })
      // @ts-expect-error shared enqueueMany options take no dedup key
      yield* queue.enqueueMany(Bare, [undefined], { key: "k" })
    })
    expectTypeOf(program).toEqualTypeOf<
      Effect.Effect<void, SerializationError | InvalidOptions | BackendError, TaskQueue>
    >()
  })

  it("enqueueMany takes per-item options from a function of each payload", () => {
    const ids = Effect.flatMap(TaskQueue, (q) =>
      q.enqueueMany(SendEmail, [{ to: "a@b.c", subject: "Hi" }], (payload, i) => {
        expectTypeOf(payload).toEqualTypeOf<{ readonly to: string; readonly subject: string }>()
        expectTypeOf(i).toEqualTypeOf<number>()
        return { delay: `${i} seconds` as const, key: payload.to }
      }))
    expectTypeOf(ids).toEqualTypeOf<
      Effect.Effect<ReadonlyArray<string>, SerializationError | InvalidOptions | BackendError, TaskQueue>
    >()
  })

  it("joinUnwrapped fails with the task's own failure, so catchTag handles it in one step", () => {
    const joined = Effect.flatMap(TaskQueue, (q) => q.joinUnwrapped(SendEmail, "id"))
    expectTypeOf(joined).toEqualTypeOf<
      Effect.Effect<{ readonly messageId: string }, UnwrappedJoinError<typeof SendEmail>, TaskQueue>
    >()
    const handled = joined.pipe(Effect.catchTag("Rejected", (e) => Effect.succeed({ messageId: `rejected: ${e.reason}` })))
    type Left = Effect.Effect.Error<typeof handled>
    expectTypeOf<Rejected>().not.toMatchTypeOf<Left>()
    expectTypeOf<TaskMismatch>().toMatchTypeOf<Left>()
    expectTypeOf<TaskTimeout>().toMatchTypeOf<Left>()
    // join keeps the failure one level down, in TaskFailed.
    expectTypeOf<TaskMismatch>().toMatchTypeOf<JoinError<typeof SendEmail>>()
  })

  it("Worker.drain can fail with InvalidOptions or a persisting BackendError", () => {
    const drained = Worker.drain({ handlers: [Task.handler(Bare, () => Effect.void)] })
    expectTypeOf(drained).toEqualTypeOf<
      Effect.Effect<WorkerStats, InvalidOptions | BackendError, Backend.Backend | Serializer>
    >()
  })

  it("join is typed by the task's success and failure", () => {
    const joined = Effect.flatMap(TaskQueue, (q) => q.join(SendEmail, "id"))
    expectTypeOf(joined).toEqualTypeOf<Effect.Effect<{ readonly messageId: string }, JoinError<typeof SendEmail>, TaskQueue>>()
    const failure = Effect.flip(joined).pipe(
      Effect.flatMap((e) => e._tag === "TaskFailed" ? Effect.succeed(e.failure) : Effect.fail(e))
    )
    type Failure = Effect.Effect.Success<typeof failure>
    expectTypeOf<Rejected>().toMatchTypeOf<Failure>()
    expectTypeOf<TaskFailed.Of<Rejected>["failure"]>().toEqualTypeOf<Rejected>()
  })

  it("a handler that needs a service makes Worker.layer require it", () => {
    const SendEmailLive = Task.handler(SendEmail, ({ to }) =>
      Effect.map(Effect.flatMap(Mailer, (m) => m.send(to)), (messageId) => ({ messageId })))
    const BareLive = Task.handler(Bare, () => Effect.void)
    const layer = Worker.layer({ handlers: [SendEmailLive, BareLive], concurrency: 2 })
    expectTypeOf(layer).toEqualTypeOf<Layer.Layer<Worker, InvalidOptions, Backend.Backend | Serializer | Mailer>>()
    const plain = Worker.layer({ handlers: [BareLive] })
    expectTypeOf(plain).toEqualTypeOf<Layer.Layer<Worker, InvalidOptions, Backend.Backend | Serializer>>()
  })

  it("a handler must return the task's success and fail only with its failure", () => {
    // @ts-expect-error the success type is { messageId: string }
    Task.handler(SendEmail, () => Effect.succeed(42))
    // @ts-expect-error the failure type is Rejected
    Task.handler(SendEmail, () => Effect.fail(new Error("nope")))
    Task.handler(SendEmail, () => Effect.fail(new Rejected({ reason: "bounced" })))
  })
})
