/**
 * Shared pieces of the executor tests: the fixture module, the tasks that run it, the stacks
 * (memory and SQLite), and probes for "does this work still go on" (a ticks file the busy loop
 * rewrites every ~20 ms) and "is this process still alive".
 */
import type { Duration } from "effect"
import { Context, Effect, Layer, Schema } from "effect"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Backend } from "../../src/Backend.js"
import { SqliteBackend } from "../../src/backends/sqlite.js"
import type { ExecutorPool } from "../../src/executors.js"
import { ProcessPool, ThreadPool } from "../../src/executors.js"
import { MemoryBackend, Serializer, TaskQueue } from "../../src/index.js"

/** The module of plain functions the pools run. */
export const work = new URL("../fixtures/executors/work.ts", import.meta.url)

/** The payload of `burn`. */
export const BurnPayload = Schema.Struct({ millis: Schema.Number, file: Schema.String })

/** A temporary directory, removed when the scope closes. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "sitq-executors-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** TaskQueue + Serializer over a backend. */
const stack = (backend: Layer.Layer<Backend, unknown>) =>
  TaskQueue.layer.pipe(Layer.provideMerge(backend), Layer.provideMerge(Serializer.json))

/** The two backends the executor tests run on: memory, and SQLite on a temporary file. */
export const backends = {
  memory: stack(MemoryBackend.layer),
  sqlite: stack(Layer.unwrapScoped(Effect.map(tempDir, (dir) => SqliteBackend.layer({ filename: join(dir, "tasks.db") }))))
} as const

/** What the busy loop last wrote: who runs it and how far it got; undefined before it started. */
export const readTicks = (file: string): Effect.Effect<{ pid: number; threadId: number; ticks: number } | undefined> =>
  Effect.sync(() => {
    if (!existsSync(file)) return undefined
    return JSON.parse(readFileSync(file, "utf8"))
  })

/** Waits (up to `tries` × 50 ms) until the busy loop has written at least once. */
export const awaitTicks = (file: string, tries = 400) =>
  Effect.gen(function*() {
    for (let i = 0; i < tries; i++) {
      const ticks = yield* readTicks(file)
      if (ticks !== undefined) return ticks
      yield* Effect.sleep("50 millis")
    }
    return yield* Effect.dieMessage(`the busy loop never started (${file})`)
  })

/** True when the busy loop wrote nothing new for `quiet` (the work stopped). */
export const stopped = (file: string, quiet: Duration.DurationInput = "400 millis", attempts = 15) =>
  Effect.gen(function*() {
    // A cancellation is answered when the store says so; the kill of the member follows on the
    // worker a moment later. So the loop must fall quiet within `attempts` windows (6 s by
    // default), far short of the 60 s it would otherwise burn.
    const read = Effect.sync(() => (existsSync(file) ? readFileSync(file, "utf8") : undefined))
    for (let i = 0; i < attempts; i++) {
      const before = yield* read
      yield* Effect.sleep(quiet)
      const after = yield* read
      if (before !== undefined && before === after) return true
    }
    return false
  })

/** Whether a process with this pid exists. */
export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** Polls `check` every 50 ms until it holds, up to `tries` times; returns whether it held. */
export const eventually = <E, R>(check: Effect.Effect<boolean, E, R>, tries = 200) =>
  Effect.gen(function*() {
    for (let i = 0; i < tries; i++) {
      if (yield* check) return true
      yield* Effect.sleep("50 millis")
    }
    return false
  })

/** The pool a test runs its handlers on (`Executor.handler(TestPool, …)`), a thread or a process pool. */
export class TestPool extends Context.Tag("test/executors/TestPool")<TestPool, ExecutorPool>() {}

/** The two pools, each on one of the two backends. */
export const cases = [
  { name: "thread pool, memory", kind: "thread", make: ThreadPool.make, backend: backends.memory },
  { name: "process pool, SQLite", kind: "process", make: ProcessPool.make, backend: backends.sqlite }
] as const
