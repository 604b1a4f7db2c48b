import { Effect, Layer, Option } from "effect"
import { NatsBackend } from "./src/backends/nats.js"
import { Backend } from "./src/Backend.js"
const prefix = "dbg-" + Math.random().toString(36).slice(2)
const task = (id: string) => ({ id, queue: "default", name: "job", payload: new Uint8Array([1]), priority: 2, runAt: 0, key: null })
await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const b = (yield* Layer.build(NatsBackend.layer({ servers: "127.0.0.1:4222", prefix }))).unsafeMap.get(Backend.key) as Backend
  yield* b.enqueue([task("done"), task("failed"), task("live")])
  const c = yield* b.claim({ owner: "w", queues: ["default"], limit: 2, leaseMillis: 36000000 })
  console.log(c.map((r) => r.id))
  console.log(yield* b.settle([
    { _tag: "Succeeded", lease: { id: "done", owner: "w", attempt: 1 }, result: new Uint8Array() },
    { _tag: "Failed", lease: { id: "failed", owner: "w", attempt: 1 }, error: { tag: "E", message: "m", data: null }, traceback: null, failureTimes: [0] }
  ]))
  console.log((yield* b.list({})).map((r) => [r.id, r.status, r.finishedAt]))
  console.log("purged", yield* b.purge({ finishedBefore: Date.now() + 1000 }))
  console.log((yield* b.list({})).map((r) => [r.id, r.status]))
})))
