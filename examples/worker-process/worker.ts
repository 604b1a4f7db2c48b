/**
 * A standalone worker process: `Worker.run` under `NodeRuntime.runMain`. It runs the tasks of its
 * handlers until the process gets SIGINT or SIGTERM; then `runMain` interrupts it, the worker stops
 * claiming, lets running tasks finish (within `shutdownTimeout`), releases the rest, and the process
 * exits with code 0. The database file comes from the SITQ_DB environment variable.
 *
 * Run: SITQ_DB=/tmp/tasks.db node --conditions=sitq-source --import tsx examples/worker-process/worker.ts
 * (producer.ts starts it for you.)
 */
import { NodeRuntime } from "@effect/platform-node"
import { Config, Console, Effect, Layer } from "effect"
import { Serializer, Task, Worker } from "sitq"
import { SqliteBackend } from "sitq/sqlite"
import { Resize } from "./tasks.js"

const ResizeLive = Task.handler(Resize, ({ image, width }) =>
  Console.log(`resizing ${image} to ${width}px`).pipe(Effect.as(`${image}@${width}w`)))

const BackendLive = Layer.unwrapEffect(
  Effect.map(Config.string("SITQ_DB").pipe(Config.withDefault("tasks.db")), (filename) => SqliteBackend.layer({ filename }))
)

Console.log(`worker ${process.pid} running`).pipe(
  Effect.zipRight(Worker.run({ handlers: [ResizeLive], concurrency: 4, pollInterval: "200 millis", shutdownTimeout: "10 seconds" })),
  Effect.onInterrupt(() => Console.log("stopped: no more claims, running tasks finished or released")),
  Effect.provide(BackendLive),
  Effect.provide(Serializer.json),
  NodeRuntime.runMain
)
