/**
 * A small store of every kind of task, written through the real client, worker and backend: the
 * fixture of the CLI and dashboard tests (and of the dashboard screenshots).
 */
import { Clock, Effect, LogLevel, Schema } from "effect"
import { Backend } from "../../src/Backend.js"
import { Serializer } from "../../src/Serializer.js"
import * as Task from "../../src/Task.js"
import * as TaskQueue from "../../src/TaskQueue.js"
import { Worker } from "../../src/Worker.js"
import { uuidv7FromMillis } from "../../src/internal/id.js"

export class Rejected extends Schema.TaggedError<Rejected>()("Rejected", {
  message: Schema.String,
  code: Schema.Number
}) {}

export const SendEmail = Task.make("send_email", {
  payload: Schema.Struct({ to: Schema.String, subject: Schema.String }),
  success: Schema.Struct({ messageId: Schema.String }),
  queue: "emails"
})

export const ResizeImage = Task.make("resize_image", {
  payload: Schema.Struct({ url: Schema.String, width: Schema.Number }),
  failure: Rejected,
  queue: "images"
})

export interface Seeded {
  readonly succeeded: ReadonlyArray<string>
  readonly failed: ReadonlyArray<string>
  readonly pending: ReadonlyArray<string>
  readonly cancelled: string
  /** A pending task whose payload is not JSON (shown as base64). */
  readonly binary: string
}

/** The seeded counts: success 3, failed 2, pending 3 (2 delayed + 1 binary), cancelled 1. */
export const seededStats = { pending: 3, in_progress: 0, success: 3, failed: 2, cancelled: 1 } as const

export const seed: Effect.Effect<Seeded, unknown, Backend | Serializer> = Effect.scoped(Effect.gen(function*() {
  const queue = yield* TaskQueue.make()
  const backend = yield* Backend
  const succeeded = yield* queue.enqueueMany(SendEmail, [
    { to: "ada@example.com", subject: "Welcome" },
    { to: "bob@example.com", subject: "Your invoice" },
    { to: "cy@example.com", subject: "Password reset" }
  ])
  const failed = yield* queue.enqueueMany(ResizeImage, [
    { url: "https://img.example.com/1.png", width: 640 },
    { url: "https://img.example.com/broken.gif", width: 0 }
  ])
  yield* Worker.drain({
    concurrency: 4,
    failureLogLevel: LogLevel.Debug,
    handlers: [
      Task.handler(SendEmail, ({ to }) => Effect.succeed({ messageId: `msg-${to}` })),
      Task.handler(ResizeImage, ({ url }) => Effect.fail(new Rejected({ message: `cannot decode ${url}`, code: 415 })))
    ]
  })
  const pending = yield* queue.enqueueMany(SendEmail, [
    { to: "dee@example.com", subject: "Reminder" },
    { to: "eve@example.com", subject: "Digest" }
  ], { delay: "1 hour" })
  const cancelled = yield* queue.enqueue(SendEmail, { to: "fay@example.com", subject: "Oops" }, { delay: "1 hour" })
  yield* queue.cancel(cancelled)
  const now = yield* Clock.currentTimeMillis
  const binaryId = uuidv7FromMillis(now)
  yield* backend.enqueue([{
    id: binaryId,
    queue: "default",
    name: "blob",
    payload: new Uint8Array([0xff, 0x00, 0x81, 0x7f]),
    priority: 2,
    runAt: now + 86_400_000,
    key: null
  }])
  return { succeeded, failed, pending: [...pending, binaryId], cancelled, binary: binaryId }
}))
