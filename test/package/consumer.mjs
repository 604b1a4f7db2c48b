// A plain-Node consumer of the packed tarball (no TypeScript, no loader): the Effect API on the
// memory backend, then the Promise client on a SQLite file. Prints what it got; exits non-zero on
// any mismatch. Copied into a fresh project by scripts/check-package.mjs and run with `node`.
import { Effect, Layer, Schema } from "effect"
import { MemoryBackend, Serializer, Task, TaskQueue, Worker } from "sitq"
import { open, promiseHandler } from "sitq/promise"
import { SqliteBackend } from "sitq/sqlite"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const check = (label, actual, expected) => {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    console.error(`consumer: ${label}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`)
    process.exit(1)
  }
  console.log(`consumer: ${label}: ${JSON.stringify(actual)}`)
}

const Add = Task.make("add", { payload: Schema.Struct({ a: Schema.Number, b: Schema.Number }), success: Schema.Number })
const AddLive = Task.handler(Add, ({ a, b }) => Effect.succeed(a + b))

// The Effect API on the memory backend.
const sum = await Effect.gen(function* () {
  const queue = yield* TaskQueue
  const id = yield* queue.enqueue(Add, { a: 2, b: 3 })
  return yield* queue.join(Add, id, { timeout: "10 seconds" })
}).pipe(
  Effect.provide(Worker.layer({ handlers: [AddLive] }).pipe(
    Layer.provideMerge(TaskQueue.layer),
    Layer.provideMerge(MemoryBackend.layer),
    Layer.provide(Serializer.json)
  )),
  Effect.runPromise
)
check("Effect API on memory: 2 + 3", sum, 5)

// A payload that does not match the schema is refused with a tagged error.
const refused = await Effect.gen(function* () {
  const queue = yield* TaskQueue
  return yield* queue.enqueue(Add, { a: "2", b: 3 })
}).pipe(
  Effect.provide(TaskQueue.layer.pipe(Layer.provideMerge(MemoryBackend.layer), Layer.provide(Serializer.json))),
  Effect.flip,
  Effect.runPromise
)
check("bad payload refused", refused._tag, "SerializationError")

// The Promise client on a SQLite file.
const dir = mkdtempSync(join(tmpdir(), "sitq-consumer-"))
try {
  const queue = await open({ backend: SqliteBackend.layer({ filename: join(dir, "tasks.db") }) })
  const worker = queue.worker({ handlers: [promiseHandler(Add, async ({ a, b }) => a + b)] })
  await worker.start()
  const id = await queue.enqueue(Add, { a: 40, b: 2 })
  check("Promise client on SQLite: 40 + 2", await queue.join(Add, id, { timeout: "10 seconds" }), 42)
  const info = await queue.get(id)
  check("status after join", info.status, "success")
  await worker.stop()
  await queue.close()
} finally {
  rmSync(dir, { recursive: true, force: true })
}

// Internal modules stay private.
const internal = await import("sitq/internal/id.js").then(() => "importable", (e) => e.code)
check("sitq/internal/* is not exported", internal, "ERR_PACKAGE_PATH_NOT_EXPORTED")
console.log("consumer: ok")
