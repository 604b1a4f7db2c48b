import { Schedule, Schema } from "effect"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, describe, it } from "vitest"
import { MemoryBackend, Task } from "../src/index.js"
import { open, promiseHandler } from "../src/promise.js"
import { SqliteBackend } from "../src/backends/sqlite.js"

class Declined extends Schema.TaggedError<Declined>()("Declined", { reason: Schema.String }) {}

const Add = Task.make("add", {
  payload: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  success: Schema.Number
})
const Charge = Task.make("charge", {
  payload: Schema.Struct({ cents: Schema.Int }),
  success: Schema.String,
  failure: Declined,
  retry: Schedule.recurs(1)
})

const AddLive = promiseHandler(Add, async ({ a, b }) => a + b)
let charges = 0
const ChargeLive = promiseHandler(Charge, async ({ cents }) => {
  charges++
  if (cents > 1000) throw new Declined({ reason: "over limit" })
  if (cents < 0) throw new Error("negative amount")
  return `charged ${cents}`
})

const dir = mkdtempSync(join(tmpdir(), "sitq-promise-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("Promise client", () => {
  it("enqueues, runs with a started worker, and joins typed results", async () => {
    const queue = await open({ backend: MemoryBackend.layer })
    const worker = queue.worker({ handlers: [AddLive, ChargeLive], concurrency: 4 })
    await worker.start()
    const id = await queue.enqueue(Add, { a: 2, b: 40 })
    assert.strictEqual(await queue.join(Add, id, { timeout: "5 seconds" }), 42)
    const result = await queue.getResult(id)
    assert.strictEqual(result.status, "success")
    assert.strictEqual(result.value, 42)
    const ids = await queue.enqueueMany(Add, [{ a: 1, b: 1 }, { a: 2, b: 2 }])
    assert.deepStrictEqual(await Promise.all(ids.map((i) => queue.join(Add, i, { timeout: "5 seconds" }))), [2, 4])
    assert.strictEqual((await worker.stats()).succeeded, 3)
    await worker.stop()
    await queue.close()
  })

  it("rejects with the same tagged errors as the Effect API", async () => {
    const queue = await open({ backend: MemoryBackend.layer })
    const notFound = await queue.getResult("missing").catch((e: unknown) => e)
    assert.strictEqual((notFound as { _tag: string })._tag, "TaskNotFound")
    const bad = await queue.enqueue(Charge, { cents: 1.5 }).catch((e: unknown) => e)
    assert.strictEqual((bad as { _tag: string })._tag, "SerializationError")
    const pending = await queue.enqueue(Add, { a: 1, b: 1 })
    const timeout = await queue.join(Add, pending, { timeout: "20 millis" }).catch((e: unknown) => e)
    assert.strictEqual((timeout as { _tag: string })._tag, "ResultTimeout")
    await queue.close()
  })

  it("a thrown typed failure is retried by the schedule and comes back decoded; other throws are defects", async () => {
    const queue = await open({ backend: MemoryBackend.layer })
    charges = 0
    const declined = await queue.enqueue(Charge, { cents: 5000 })
    const broken = await queue.enqueue(Charge, { cents: -1 })
    const ok = await queue.enqueue(Charge, { cents: 10 })
    const stats = await queue.drain({ handlers: [ChargeLive] })
    assert.strictEqual(stats.succeeded, 1)
    assert.strictEqual(charges, 5)
    const error = await queue.join(Charge, declined).catch((e: unknown) => e) as { _tag: string; failure: unknown; attempts: number }
    assert.strictEqual(error._tag, "TaskFailed")
    assert.instanceOf(error.failure, Declined)
    assert.strictEqual(error.attempts, 2)
    const defect = await queue.get(broken)
    assert.strictEqual(defect.error?.tag, "TaskDefect")
    assert.include(defect.error?.message ?? "", "negative amount")
    assert.strictEqual(await queue.join(Charge, ok), "charged 10")
    await queue.close()
  })

  it("a worker and a client opened separately share one SQLite file", async () => {
    const filename = join(dir, "shared.db")
    const producer = await open({ backend: SqliteBackend.layer({ filename }) })
    const consumer = await open({ backend: SqliteBackend.layer({ filename }) })
    const worker = consumer.worker({ handlers: [AddLive], pollInterval: "50 millis" })
    await worker.start()
    const id = await producer.enqueue(Add, { a: 20, b: 22 })
    assert.strictEqual(await producer.join(Add, id, { timeout: "10 seconds" }), 42)
    await worker.stop()
    await consumer.close()
    await producer.close()
  })

  it("two concurrent start() calls start one worker, and stop() stops it", async () => {
    const queue = await open({ backend: MemoryBackend.layer })
    const worker = queue.worker({ handlers: [AddLive], pollInterval: "20 millis" })
    await Promise.all([worker.start(), worker.start()])
    await worker.stop()
    const id = await queue.enqueue(Add, { a: 1, b: 2 })
    // Any worker still running would take the task within a few polls.
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.strictEqual((await queue.get(id)).status, "pending")
    // A stopped worker starts again.
    await worker.start()
    assert.strictEqual(await queue.join(Add, id, { timeout: "5 seconds" }), 3)
    await queue.close()
  })

  it("stop() during a start() waits for it and stops the worker", async () => {
    const queue = await open({ backend: MemoryBackend.layer })
    const worker = queue.worker({ handlers: [AddLive], pollInterval: "20 millis" })
    const starting = worker.start()
    await worker.stop()
    await starting
    const id = await queue.enqueue(Add, { a: 1, b: 2 })
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.strictEqual((await queue.get(id)).status, "pending")
    await queue.close()
  })

  it("after close() every call rejects with a tagged BackendError (reason Closed)", async () => {
    const queue = await open({ backend: MemoryBackend.layer })
    await queue.close()
    const error = await queue.enqueue(Add, { a: 1, b: 2 }).catch((e: unknown) => e) as { _tag: string; reason: string }
    assert.strictEqual(error._tag, "BackendError")
    assert.strictEqual(error.reason, "Closed")
    const stats = await queue.stats().catch((e: unknown) => e) as { _tag: string }
    assert.strictEqual(stats._tag, "BackendError")
    const started = await queue.worker({ handlers: [AddLive] }).start().catch((e: unknown) => e) as { _tag: string }
    assert.strictEqual(started._tag, "BackendError")
    // Closing twice is harmless.
    await queue.close()
  })

  it("a worker with bad options rejects start() with InvalidOptions and starts nothing", async () => {
    const queue = await open({ backend: MemoryBackend.layer })
    const worker = queue.worker({ handlers: [AddLive, AddLive] })
    const error = await worker.start().catch((e: unknown) => e) as { _tag: string; option: string }
    assert.strictEqual(error._tag, "InvalidOptions")
    assert.strictEqual(error.option, "handlers")
    const bad = await queue.enqueue(Add, { a: 1, b: 2 }, { delay: -1 }).catch((e: unknown) => e) as { _tag: string }
    assert.strictEqual(bad._tag, "InvalidOptions")
    assert.deepStrictEqual((await worker.stats()).claimed, 0)
    await queue.close()
  })

  it("open rejects with a BackendError when the backend cannot be opened", async () => {
    const filename = join(dir, "not-a-db.txt")
    writeFileSync(filename, "hello, this is not a database".repeat(100))
    const error = await open({ backend: SqliteBackend.layer({ filename }) }).catch((e: unknown) => e)
    assert.strictEqual((error as { _tag: string })._tag, "BackendError")
  })
})
