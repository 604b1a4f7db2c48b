/**
 * Real worker processes on one SQLite database file: several workers never run a task twice while
 * all are alive; a worker killed with SIGKILL loses nothing (its tasks run again once their leases
 * expire). (A producer killed in the middle of `enqueueMany`: `producer-crash.test.ts`.)
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { Backend } from "../../src/Backend.js"
import { SqliteBackend } from "../../src/backends/sqlite.js"
import { Serializer } from "../../src/Serializer.js"
import { TaskQueue } from "../../src/TaskQueue.js"
import { Work } from "../fixtures/sqlite-tasks.js"
import { tempDir } from "./helpers.js"
import { start, waitForLine, waitUntil } from "./processes.js"

interface Run {
  readonly id: string
  readonly attempt: number
  readonly at: number
}

const readLog = (file: string): Array<Run> =>
  existsSync(file)
    ? readFileSync(file, "utf8").split("\n").flatMap((line) => {
      const [id, attempt, at] = line.split(" ")
      return id && attempt && at ? [{ id, attempt: Number(attempt), at: Number(at) }] : []
    })
    : []

/** A client (TaskQueue + Backend) on the file, for the scope's lifetime. */
const client = (filename: string) =>
  Layer.build(
    TaskQueue.layer.pipe(Layer.provideMerge(SqliteBackend.layer({ filename })), Layer.provideMerge(Serializer.json))
  )

describe("SqliteBackend across processes", () => {
  it.scopedLive("four worker processes create the file together and drain 10,000 tasks; each runs exactly once", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const filename = join(dir, "tasks.db")
      // the workers start together on a file that does not exist yet: they create and migrate it once
      const logs = [0, 1, 2, 3].map((i) => join(dir, `worker-${i}.log`))
      const workers = yield* Effect.all(
        logs.map((log) =>
          start("sqlite-worker.ts", {
            SITQ_DB: filename,
            SITQ_LOG: log,
            SITQ_CONCURRENCY: "100",
            SITQ_LEASE_MS: "20000",
            SITQ_POLL_MS: "50"
          })
        )
      )
      yield* Effect.all(workers.map((w) => waitForLine(w, /^ready /, 30_000)), { concurrency: "unbounded" })
      const ctx = yield* client(filename)
      const { backend, queue } = yield* Effect.provide(Effect.all({ backend: Backend, queue: TaskQueue }), ctx)
      const ids: Array<string> = []
      for (let k = 0; k < 10; k++) {
        ids.push(...(yield* queue.enqueueMany(Work, Array.from({ length: 1000 }, (_, n) => ({ n: k * 1000 + n })))))
      }
      yield* waitUntil(
        "10,000 tasks succeeded",
        Effect.map(backend.stats(), (s) => s.success === 10_000),
        45_000,
        100
      )
      yield* Effect.all(workers.map((w) => w.kill))
      const runs = logs.map(readLog)
      const all = runs.flat()
      const count = new Map<string, number>()
      for (const run of all) count.set(run.id, (count.get(run.id) ?? 0) + 1)
      const twice = Array.from(count).filter(([, n]) => n > 1)
      assert.deepStrictEqual(twice, [], "tasks that ran more than once")
      assert.strictEqual(all.length, 10_000)
      assert.deepStrictEqual(Array.from(count.keys()).sort(), ids.slice().sort())
      assert.isTrue(all.every((r) => r.attempt === 1))
      // every process took part: the claims really raced on one file
      for (const r of runs) assert.isAbove(r.length, 0)
      assert.deepStrictEqual(yield* backend.stats(), {
        pending: 0,
        in_progress: 0,
        success: 10_000,
        failed: 0,
        cancelled: 0
      })
    }), 60_000)

  it.scopedLive("a worker killed with SIGKILL loses nothing: its tasks run again once their leases expire", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const filename = join(dir, "tasks.db")
      const ctx = yield* client(filename)
      const { backend, queue } = yield* Effect.provide(Effect.all({ backend: Backend, queue: TaskQueue }), ctx)
      const ids = yield* queue.enqueueMany(Work, Array.from({ length: 20 }, (_, n) => ({ n })))
      const leaseMs = 1500
      const doomedLog = join(dir, "doomed.log")
      const doomed = yield* start("sqlite-worker.ts", {
        SITQ_DB: filename,
        SITQ_LOG: doomedLog,
        SITQ_CONCURRENCY: "10",
        SITQ_LEASE_MS: String(leaseMs),
        SITQ_POLL_MS: "50",
        SITQ_HANG: "1"
      })
      yield* waitUntil("the doomed worker runs 10 tasks", Effect.sync(() => readLog(doomedLog).length === 10), 30_000)
      const survivorLog = join(dir, "survivor.log")
      const survivor = yield* start("sqlite-worker.ts", {
        SITQ_DB: filename,
        SITQ_LOG: survivorLog,
        SITQ_CONCURRENCY: "10",
        SITQ_LEASE_MS: String(leaseMs),
        SITQ_POLL_MS: "100"
      })
      yield* waitUntil(
        "the survivor finishes the other 10",
        Effect.map(backend.stats(), (s) => s.success === 10),
        30_000
      )
      // both alive, past several lease lengths: the doomed worker's heartbeats keep its tasks
      yield* Effect.sleep(leaseMs * 2)
      const held = readLog(doomedLog).map((r) => r.id)
      assert.strictEqual((yield* backend.stats()).in_progress, 10)
      assert.isFalse(readLog(survivorLog).some((r) => held.includes(r.id)))

      yield* doomed.kill
      const killedAt = Date.now()
      yield* waitUntil(
        "all 20 tasks succeeded",
        Effect.map(backend.stats(), (s) => s.success === 20),
        20_000,
        50
      )
      const again = readLog(survivorLog).filter((r) => held.includes(r.id))
      assert.deepStrictEqual(again.map((r) => r.id).sort(), held.slice().sort())
      assert.isTrue(again.every((r) => r.attempt === 2))
      assert.isTrue(again.every((r) => r.at >= killedAt), "re-run only after the kill")
      assert.isBelow(Math.max(...again.map((r) => r.at)) - killedAt, leaseMs + 5_000)
      const records = yield* backend.list({})
      assert.deepStrictEqual(records.map((r) => r.id).sort(), ids.slice().sort())
      assert.isTrue(records.every((r) => r.status === "success" && r.attempts === (held.includes(r.id) ? 2 : 1)))
      yield* survivor.kill
    }), 60_000)
})
