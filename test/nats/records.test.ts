/**
 * The run records of the NATS process tests count runs, not publishes: a record whose
 * acknowledgement came too late for the client (the server stored it) and that is published again
 * is stored once. Without this, a loaded machine made the four-process drain report a task that
 * "ran twice" when it had run once and its run record had been retried.
 */
import { assert, describe, it } from "@effect/vitest"
import { jetstream } from "@nats-io/jetstream"
import { Effect } from "effect"
import { recordRun } from "../fixtures/nats-tasks.js"
import { countRuns, readRuns, store } from "./processes.js"

describe("NATS fault-test run records", () => {
  it.live("a record retried after a late acknowledgement counts once; two runs count twice", () =>
    Effect.gen(function*() {
      const { prefix, recorder } = yield* store()
      // a 1 ms acknowledgement timeout: most publishes are stored but reported as timed out, and retried
      const js = jetstream(recorder, { timeout: 1 })
      const ids = Array.from({ length: 200 }, (_, i) => `task-${i}`)
      yield* Effect.forEach(ids, (id) => recordRun(js, prefix, "run", id), { concurrency: "unbounded", discard: true })
      yield* recordRun(js, prefix, "run", "task-0")
      // late acknowledgements of the last retries land; nothing more is stored after them
      yield* Effect.sleep("500 millis")
      assert.strictEqual(yield* countRuns(recorder, prefix), ids.length + 1)
      const { runs } = yield* readRuns(recorder, prefix)
      assert.strictEqual(runs.get("task-0"), 2)
      for (const id of ids.slice(1)) assert.strictEqual(runs.get(id), 1, `${id} recorded ${runs.get(id)} times`)
    }).pipe(Effect.scoped), 60_000)
})
