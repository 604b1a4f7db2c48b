// Typechecked by scripts/check-package.mjs in a fresh TypeScript project (NodeNext, strict,
// exactOptionalPropertyTypes) against the .d.ts files of the packed tarball: must compile.
import { Effect, Layer, Schema } from "effect"
import { MemoryBackend, Priority, Serializer, Task, TaskQueue, Worker } from "sitq"
import { open, promiseHandler } from "sitq/promise"
import { SqliteBackend } from "sitq/sqlite"

class Rejected extends Schema.TaggedError<Rejected>()("Rejected", { reason: Schema.String }) {}

export const SendEmail = Task.make("send_email", {
  payload: Schema.Struct({ to: Schema.String, subject: Schema.String }),
  success: Schema.Struct({ messageId: Schema.String }),
  failure: Rejected,
  timeout: "30 seconds",
  priority: Priority.HIGH
})
const SendEmailLive = Task.handler(SendEmail, ({ to, subject }) =>
  to.includes("@") ? Effect.succeed({ messageId: `${to}/${subject}` }) : Effect.fail(new Rejected({ reason: "no @" })))

export const program = Effect.gen(function* () {
  const queue = yield* TaskQueue
  const id: string = yield* queue.enqueue(SendEmail, { to: "a@b.c", subject: "Hi" }, { delay: "1 second" })
  const sent = yield* queue.join(SendEmail, id, { timeout: "1 minute" })
  const messageId: string = sent.messageId
  return messageId
})

export const Live = Worker.layer({ handlers: [SendEmailLive], concurrency: 2 }).pipe(
  Layer.provideMerge(TaskQueue.layer),
  Layer.provideMerge(MemoryBackend.layer),
  Layer.provide(Serializer.json)
)
export const SqliteLive = SqliteBackend.layer({ filename: "tasks.db" })

export const promiseClient = async (): Promise<{ readonly messageId: string }> => {
  const queue = await open({ backend: SqliteLive })
  const worker = queue.worker({ handlers: [promiseHandler(SendEmail, async ({ to }) => ({ messageId: to }))] })
  await worker.start()
  const id = await queue.enqueue(SendEmail, { to: "a@b.c", subject: "Hi" })
  const result = await queue.join(SendEmail, id)
  await queue.close()
  return result
}
