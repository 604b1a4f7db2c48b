import { Effect, Layer, Schema } from "effect"
import { NatsBackend } from "./src/backends/nats.js"
import { Serializer, Task, TaskQueue, Worker } from "./src/index.js"
const Noop = Task.make("noop", { payload: Schema.Struct({ i: Schema.Number }) })
const prefix = "q-" + Math.random().toString(36).slice(2)
const Env = TaskQueue.layer.pipe(Layer.provideMerge(NatsBackend.layer({ servers: "127.0.0.1:4222", prefix })), Layer.provideMerge(Serializer.json))
await Effect.runPromise(Effect.gen(function*() {
  const q = yield* TaskQueue
  let t = performance.now()
  for (let b = 0; b < 20000; b += 1000) yield* q.enqueueMany(Noop, Array.from({ length: 1000 }, (_, i) => ({ i: b + i })))
  console.log("enqueueMany/s", Math.round(20000 / ((performance.now() - t) / 1000)))
  t = performance.now()
  const cpu0 = process.cpuUsage()
  const stats = yield* Worker.drain({ handlers: [Task.handler(Noop, () => Effect.void)], concurrency: 50 })
  const el = performance.now() - t
  const cpu = process.cpuUsage(cpu0)
  console.log("c50/s", Math.round(stats.succeeded / (el / 1000)), stats, "cpu%", Math.round((cpu.user + cpu.system) / 10 / el))
}).pipe(Effect.provide(Env)))
