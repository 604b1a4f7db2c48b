/**
 * Runs every example as a user would (`node --conditions=sitq-source --import tsx <file>`) and
 * checks its exit code and what it prints. Each must finish within 30 seconds. The examples import
 * "sitq" like an application; the `sitq-source` condition of package.json's `exports` resolves it to
 * src/, so they run on the current sources without a build (and never on a stale dist/).
 */
import { execFile } from "node:child_process"
import { describe, expect, it } from "vitest"

const run = (file: string) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile("node", ["--conditions=sitq-source", "--import", "tsx", file], { timeout: 30_000, killSignal: "SIGKILL" }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null
      resolve({ code, stdout, stderr })
    })
  })

const examples: ReadonlyArray<readonly [string, ReadonlyArray<string | RegExp>]> = [
  ["examples/basic/01_end_to_end.ts", [
    /enqueued; status: pending/,
    "status: in_progress",
    "Status: success after 1 attempt(s)",
    "Task return value: Greetings, World!"
  ]],
  ["examples/basic/02_eta_delayed_execution.ts", [
    "After 0.5 s: delayed is pending, scheduled is pending (not yet eligible)",
    /running: after a 1 second delay/,
    /running: at the ETA/,
    "All three ran"
  ]],
  ["examples/basic/03_bounded_concurrency.ts", [
    "Results: 0, 1, 4, 9, 16, 25, 36, 49, 64",
    "Peak concurrency: 3 (limit 3)"
  ]],
  ["examples/basic/04_failures_and_tracebacks.ts", [
    "divide(1, 0): status=failed attempts=3",
    "error: DivisionByZero: cannot divide 1 by zero",
    "its failure is a DivisionByZero (numerator 1)",
    /parse_config: status=failed attempts=1\n\s+error: TaskDefect/,
    "divide(10, 4) = 2.5: the worker went on"
  ]],
  ["examples/basic/05_sync_client_with_worker.ts", [
    "Result received: success, value 15",
    "join gives the typed value: 15",
    "Three more, run by the same worker: 3, 7, 11",
    "rejects with a tagged error: TaskNotFound",
    "Done!"
  ]],
  ["examples/basic/06_cpu_bound_process.ts", [
    /In the event loop: +\d+ ms, results 14930352, 14930352, 14930352, 14930352/,
    /On a process pool of 2: +\d+ ms, results 14930352, 14930352, 14930352, 14930352/,
    /Speed-up: \d+\.\d+x/
  ]],
  ["examples/basic/07_thread_pool.ts", [
    "Six blocking 300 ms lookups on 3 threads: alpha=5 beta=4 gamma=5 delta=5 epsilon=7 zeta=4",
    "scrypt hash on a pool thread: a2c4adc7d8b8e077",
    /A hung call: TaskTimeout \(task 'lookup' .* timed out after 1s\)/,
    "Pool threads before: 3, after: 3; 1 of them new"
  ]],
  ["examples/advanced/task_queue_system.ts", [
    "Initial queue stats:\n  pending: 9",
    /⚙ {2}ALERT: disk almost full\n {2}⚙ {2}sending email/,
    "Final queue stats:\n  success: 9",
    "The flaky API call: success after 3 attempts",
    "Demo completed successfully!"
  ]],
  ["examples/worker-process/producer.ts", [
    /\[worker\] worker \d+ running/,
    "[worker] resizing cat.png to 320px",
    "Results: cat.png@320w, dog.png@640w, owl.png@1280w",
    "[worker] stopped: no more claims, running tasks finished or released",
    "Worker exited with code 0 after SIGTERM",
    "Done!"
  ]]
]

describe("examples", () => {
  for (const [file, expected] of examples) {
    it(file, async () => {
      const { code, stderr, stdout } = await run(file)
      expect(stderr).not.toMatch(/Error|error:/)
      expect(code, stdout + stderr).toBe(0)
      for (const e of expected) {
        if (typeof e === "string") expect(stdout).toContain(e)
        else expect(stdout).toMatch(e)
      }
    }, 40_000)
  }
})
