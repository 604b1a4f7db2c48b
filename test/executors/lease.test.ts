/**
 * CPU-bound handlers on a pool leave the worker's event loop free: while two pool tasks each burn
 * 3 s of CPU, their 2 s leases are kept by the heartbeat (a second worker watching the same
 * backend never gets to claim them) and an ordinary async task on the same worker finishes at once.
 *
 * The burn is 3 s rather than the 5 s: what matters is that it outlasts the 2 s lease (a
 * stalled loop would have lost both leases after 2 s); 3 s keeps this file short on a shared
 * 2-core machine, and it runs in its own file, in parallel with the others.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Ref, Schema } from "effect"
import { join } from "node:path"
import { Executor } from "../../src/executors.js"
import { Task, TaskQueue, Worker } from "../../src/index.js"
import { awaitTicks, BurnPayload, cases, tempDir, TestPool, work } from "./helpers.js"

const Burn = Task.make("lease_burn", { payload: BurnPayload, success: Schema.Number })
const Ping = Task.make("lease_ping", { payload: Schema.Number, success: Schema.Number, queue: "fast" })


describe("executors: a busy pool does not block the worker", () => {
  for (const { backend, make, name } of cases) {
    it.scopedLive(`${name}: leases are kept and an async task finishes at once`, () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const queue = yield* TaskQueue
        const pool = yield* make({ size: 2, preload: [work] })
        yield* Worker.make({
          handlers: [
            Executor.handler(TestPool, Burn, { module: work, export: "burn" }),
            Task.handler(Ping, (n) => Effect.succeed(n + 1))
          ],
          queues: ["default", "fast"],
          concurrency: 4,
          leaseDuration: "2 seconds",
          pollInterval: "100 millis",
          workerId: "owner"
        }).pipe(Effect.provideService(TestPool, pool))

        const files = [join(dir, "a.json"), join(dir, "b.json")]
        const ids = yield* Effect.forEach(files, (file) => queue.enqueue(Burn, { millis: 3000, file }))
        yield* Effect.forEach(files, (file) => awaitTicks(file), { discard: true })

        // A second worker on the same backend takes any burn task whose lease expires.
        const stolen = yield* Ref.make(0)
        yield* Worker.make({
          handlers: [Task.handler(Burn, () => Effect.as(Ref.update(stolen, (n) => n + 1), 0))],
          pollInterval: "100 millis",
          workerId: "thief"
        })

        // While both burn, the worker's own loop is free: an async task goes through at once.
        const start = yield* Clock.currentTimeMillis
        const pinged = yield* queue.enqueue(Ping, 41)
        assert.strictEqual(yield* queue.join(Ping, pinged), 42)
        const pingMillis = (yield* Clock.currentTimeMillis) - start

        const ticks = yield* Effect.forEach(ids, (id) => queue.join(Burn, id, { timeout: "30 seconds" }))
        const infos = yield* Effect.forEach(ids, (id) => queue.get(id))
        const ping = yield* queue.get(pinged)

        assert.isTrue(ticks.every((n) => n > 0))
        assert.isBelow(pingMillis, 1000, `the async task took ${pingMillis} ms while the pool was busy`)
        for (const info of infos) {
          assert.strictEqual(info.status, "success")
          assert.strictEqual(info.attempts, 1, "a burn task was claimed again: its lease expired")
          assert.isAtLeast(info.finishedAt! - info.startedAt!, 3000)
          assert.isBelow(ping.finishedAt!, info.finishedAt!, "the async task finished while the burn ran")
        }
        assert.strictEqual(yield* Ref.get(stolen), 0)
      }).pipe(Effect.provide(backend)), 60_000)
  }
})
