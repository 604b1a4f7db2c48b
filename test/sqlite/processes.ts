/**
 * Child processes for the SQLite process tests: started with `node --import tsx`, their stdout
 * collected line by line, killed with SIGKILL when the scope closes (whatever happened).
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { join } from "node:path"

export interface Child {
  readonly process: ChildProcess
  /** Lines printed so far. */
  readonly lines: Array<string>
  /** Everything on stderr so far (for failure messages). */
  readonly stderr: () => string
  readonly exited: () => boolean
  readonly kill: Effect.Effect<void>
}

const root = join(import.meta.dirname, "../..")

/** Starts `test/fixtures/<fixture>` with these environment variables, for the scope's lifetime. */
export const start = (
  fixture: string,
  env: Record<string, string>
): Effect.Effect<Child, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(process.execPath, ["--import", "tsx", join(root, "test/fixtures", fixture)], {
        cwd: root,
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      const lines: Array<string> = []
      let pending = ""
      let err = ""
      let done = false
      child.stdout.setEncoding("utf8")
      child.stdout.on("data", (chunk: string) => {
        pending += chunk
        const parts = pending.split("\n")
        pending = parts.pop() ?? ""
        lines.push(...parts)
      })
      child.stderr.setEncoding("utf8")
      child.stderr.on("data", (chunk: string) => {
        err = (err + chunk).slice(-4000)
      })
      child.on("exit", () => {
        done = true
      })
      const kill = Effect.async<void>((resume) => {
        if (done || child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        child.once("exit", () => resume(Effect.void))
        child.kill("SIGKILL")
      })
      return { process: child, lines, stderr: () => err, exited: () => done, kill } satisfies Child
    }),
    (child) => child.kill
  )

/** Waits (real time) until `check` holds, polling every `every` ms, failing after `ms`. */
export const waitUntil = <E, R>(
  what: string,
  check: Effect.Effect<boolean, E, R>,
  ms: number,
  every = 20
): Effect.Effect<void, E | Error, R> =>
  Effect.gen(function*() {
    for (let waited = 0; waited <= ms; waited += every) {
      if (yield* check) return
      yield* Effect.sleep(every)
    }
    return yield* Effect.fail(new Error(`timed out after ${ms} ms waiting for: ${what}`))
  })

/** Waits until the child printed a line matching `pattern`. */
export const waitForLine = (child: Child, pattern: RegExp, ms: number) =>
  waitUntil(
    `a line matching ${pattern}`,
    Effect.suspend(() => {
      if (child.exited() && !child.lines.some((l) => pattern.test(l))) {
        return Effect.fail(new Error(`child exited before printing ${pattern}:\n${child.stderr()}`))
      }
      return Effect.succeed(child.lines.some((l) => pattern.test(l)))
    }),
    ms
  )
