// Must NOT compile against the packed tarball's .d.ts: the payload's `to` is a number.
import { Effect, Schema } from "effect"
import { Task, TaskQueue } from "sitq"

const SendEmail = Task.make("send_email", { payload: Schema.Struct({ to: Schema.String, subject: Schema.String }) })

export const program = Effect.gen(function* () {
  const queue = yield* TaskQueue
  return yield* queue.enqueue(SendEmail, { to: 42, subject: "Hi" }) // wrong payload
})
