/**
 * Runs the `sitq` bin as a real process. `SITQ_COMMAND` is the one place that says how: today the
 * TypeScript source through tsx; once the package build lands, the built bin (`node dist/cli/bin.js`).
 */
import { spawn } from "node:child_process"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "../..")

/** The command that starts the bin, before its arguments. */
export const SITQ_COMMAND: ReadonlyArray<string> = [process.execPath, "--import", "tsx", path.join(root, "src/cli/bin.ts")]

export interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `sitq ...args` to its end (killed after `timeoutMs`). */
export const sitq = (args: ReadonlyArray<string>, env: Record<string, string | undefined> = {}, timeoutMs = 150_000): Promise<Result> =>
  new Promise((resolve, reject) => {
    const [cmd, ...pre] = SITQ_COMMAND
    const child = spawn(cmd!, [...pre, ...args], {
      cwd: root,
      env: { ...process.env, SITQ_BACKEND: undefined, SITQ_DASHBOARD_TOKEN: undefined, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString("utf8")))
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString("utf8")))
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.on("error", reject)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })

/** The non-empty lines of a stream. */
export const lines = (s: string): ReadonlyArray<string> => s.split("\n").filter((l) => l.trim() !== "")

/** Starts `sitq ...args` and resolves once a stdout line matches `ready`; `stop` sends SIGTERM and waits. */
export const start = (args: ReadonlyArray<string>, ready: RegExp, timeoutMs = 150_000) =>
  new Promise<{ readonly match: RegExpExecArray; readonly stop: () => Promise<Result> }>((resolve, reject) => {
    const [cmd, ...pre] = SITQ_COMMAND
    const child = spawn(cmd!, [...pre, ...args], {
      cwd: root,
      env: { ...process.env, SITQ_BACKEND: undefined, SITQ_DASHBOARD_TOKEN: undefined, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    let matched = false
    const closed = new Promise<Result>((done) => child.on("close", (code) => done({ code, stdout, stderr })))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`sitq ${args.join(" ")} did not print ${ready} in time; stderr: ${stderr}`))
    }, timeoutMs)
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString("utf8")))
    child.stdout.on("data", (b: Buffer) => {
      stdout += b.toString("utf8")
      const m = ready.exec(stdout)
      if (m !== null && !matched) {
        matched = true
        clearTimeout(timer)
        resolve({ match: m, stop: () => (child.kill("SIGTERM"), closed) })
      }
    })
    closed.then((r) => {
      if (!matched) {
        clearTimeout(timer)
        reject(new Error(`sitq ${args.join(" ")} exited ${r.code} before it was ready; stderr: ${r.stderr}`))
      }
    })
  })
