/**
 * What every side-by-side suite shares: the rows it measures, a probe that records when a task
 * started, the cross-process latency driver (a forked child runs the worker and reports the wall
 * time at which its handler started), temp storage, and the markdown table with ratios.
 */
import { fork } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { fmt, percentile } from "./sitq.js"

/** Wall time in ms with sub-ms resolution, comparable across processes on one machine. */
export const wallNow = (): number => performance.timeOrigin + performance.now()

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export type RowId = "enqueueOne" | "enqueueMany" | "c1" | "c50" | "sameP50" | "sameP99" | "crossP50" | "crossP99"

export interface Row {
  readonly id: RowId
  readonly label: string
  /** Throughput rows: higher is better; latency rows: lower is better. */
  readonly higherIsBetter: boolean
}

export interface Workload {
  /** Tasks enqueued one at a time. */
  readonly enqueueOne: number
  /** Tasks enqueued in batches of 1,000, and tasks processed at each concurrency. */
  readonly tasks: number
  readonly concurrencies: readonly [number, number]
  readonly sameSamples: number
  readonly crossSamples: number
  /** Poll interval given to every system that polls (ms). */
  readonly pollMs: number
  /** A processing run that has not finished after this long is stopped and its rate reported. */
  readonly capSeconds: number
}

export const rows = (w: Workload): ReadonlyArray<Row> => [
  { id: "enqueueOne", label: "enqueue, one at a time (tasks/s)", higherIsBetter: true },
  { id: "enqueueMany", label: "enqueue in bulk, batches of 1,000 (tasks/s)", higherIsBetter: true },
  { id: "c1", label: `processing ${w.tasks.toLocaleString("en-US")} no-op tasks, concurrency ${w.concurrencies[0]} (tasks/s)`, higherIsBetter: true },
  { id: "c50", label: `processing ${w.tasks.toLocaleString("en-US")} no-op tasks, concurrency ${w.concurrencies[1]} (tasks/s)`, higherIsBetter: true },
  { id: "sameP50", label: "enqueue-to-start latency, idle worker, same process, p50 (ms)", higherIsBetter: false },
  { id: "sameP99", label: "enqueue-to-start latency, idle worker, same process, p99 (ms)", higherIsBetter: false },
  { id: "crossP50", label: "enqueue-to-start latency, idle worker, another process, p50 (ms)", higherIsBetter: false },
  { id: "crossP99", label: "enqueue-to-start latency, idle worker, another process, p99 (ms)", higherIsBetter: false }
]

export interface SystemResult {
  readonly name: string
  readonly values: Partial<Record<RowId, number>>
  /** Footnotes: what a system lacks, runs that hit the time cap, errors. */
  readonly notes: Array<string>
}

export const newResult = (name: string): SystemResult => ({ name, values: {}, notes: [] })

/** Runs one measurement; a failure becomes a note instead of ending the suite. */
export const attempt = async (result: SystemResult, what: string, f: () => Promise<void>): Promise<void> => {
  try {
    await f()
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    result.notes.push(`${what}: failed (${message.split("\n")[0]!.slice(0, 160)})`)
    console.error(`  ${result.name} ${what} failed:`, error)
  }
}

/** Resolves waiters when a task with a given index starts. */
export class Probe {
  private readonly waiting = new Map<number, (t: number) => void>()
  private readonly early = new Map<number, number>()
  hit(i: number, t: number): void {
    const resolve = this.waiting.get(i)
    if (resolve) {
      this.waiting.delete(i)
      resolve(t)
    } else {
      this.early.set(i, t)
    }
  }
  wait(i: number, timeoutMs: number): Promise<number> {
    const seen = this.early.get(i)
    if (seen !== undefined) {
      this.early.delete(i)
      return Promise.resolve(seen)
    }
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(i)
        reject(new Error(`task ${i} did not start within ${timeoutMs} ms`))
      }, timeoutMs)
      this.waiting.set(i, (t) => {
        clearTimeout(timer)
        resolve(t)
      })
    })
  }
}

/**
 * Enqueues `samples` tasks one at a time to an idle worker and returns enqueue-to-start times:
 * the wall time recorded by the handler minus the wall time just before the enqueue call.
 */
export const latencySamples = async (
  samples: number,
  probe: Probe,
  enqueue: (i: number) => Promise<unknown>,
  opts: { readonly timeoutMs: number; readonly gapMs: number }
): Promise<Array<number>> => {
  const out: Array<number> = []
  for (let i = 0; i < samples; i++) {
    const started = probe.wait(i, opts.timeoutMs)
    const t0 = wallNow()
    await enqueue(i)
    const t1 = await started
    out.push(t1 - t0)
    await sleep(opts.gapMs)
  }
  return out
}

export const record = (result: SystemResult, which: "same" | "cross", xs: ReadonlyArray<number>) => {
  if (which === "same") {
    result.values.sameP50 = percentile(xs, 50)
    result.values.sameP99 = percentile(xs, 99)
  } else {
    result.values.crossP50 = percentile(xs, 50)
    result.values.crossP99 = percentile(xs, 99)
  }
}

/** What the child process should run; see `child.ts`. */
export type ChildSpec =
  | { readonly kind: "sitq-sqlite"; readonly filename: string; readonly pollMs: number }
  | { readonly kind: "sitq-postgres"; readonly url: string; readonly schema: string; readonly pollMs: number }
  | { readonly kind: "sitq-redis"; readonly url: string; readonly prefix: string; readonly pollMs: number }
  | { readonly kind: "sitq-nats"; readonly url: string; readonly prefix: string; readonly pollMs: number }
  | { readonly kind: "plainjob"; readonly filename: string; readonly pollMs: number }
  | { readonly kind: "liteque"; readonly filename: string; readonly pollMs: number }
  | { readonly kind: "sqlpq"; readonly filename: string; readonly pollMs: number }
  | { readonly kind: "graphile"; readonly url: string; readonly schema: string; readonly pollMs: number }
  | { readonly kind: "pgboss"; readonly url: string; readonly schema: string; readonly pollMs: number }
  | { readonly kind: "bullmq"; readonly url: string; readonly prefix: string }

export type ChildMessage =
  | { readonly type: "ready" }
  | { readonly type: "started"; readonly i: number; readonly t: number }
  | { readonly type: "error"; readonly message: string }

const childPath = fileURLToPath(new URL("./child.js", import.meta.url))

/**
 * Forks a child running a worker for `spec`, waits until it is ready, measures `samples`
 * enqueue-to-start latencies with `enqueue` from this process, then stops the child.
 */
export const crossProcess = async (
  spec: ChildSpec,
  samples: number,
  enqueue: (i: number) => Promise<unknown>,
  opts: { readonly timeoutMs: number; readonly gapMs: number }
): Promise<Array<number>> => {
  const probe = new Probe()
  const child = fork(childPath, [JSON.stringify(spec)], { stdio: ["ignore", "inherit", "inherit", "ipc"] })
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("child worker not ready within 30 s")), 30_000)
      child.on("message", (m: ChildMessage) => {
        if (m.type === "ready") {
          clearTimeout(timer)
          resolve()
        } else if (m.type === "started") probe.hit(m.i, m.t)
        else if (m.type === "error") {
          clearTimeout(timer)
          reject(new Error(`child: ${m.message}`))
        }
      })
      child.once("exit", (code) => {
        clearTimeout(timer)
        reject(new Error(`child exited with ${code}`))
      })
    })
    await sleep(200)
    return await latencySamples(samples, probe, enqueue, opts)
  } finally {
    if (child.connected) child.send("stop")
    const killed = setTimeout(() => child.kill("SIGKILL"), 10_000)
    await exited
    clearTimeout(killed)
  }
}

/** A temp directory for one suite, removed by `dispose`. */
export const tempDir = (name: string) => {
  const dir = mkdtempSync(join(tmpdir(), `sitq-bench-${name}-`))
  let n = 0
  return {
    dir,
    file: (label: string) => join(dir, `${label}-${n++}.db`),
    dispose: () => rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Processing with a time cap: `start` begins processing (tasks already enqueued) and calls `done()`
 * once per task; resolves with tasks/s from start to the last task, or to the cap.
 */
export const processWithCap = async (
  result: SystemResult,
  label: string,
  tasks: number,
  capSeconds: number,
  start: (done: () => void) => Promise<unknown>,
  stop: () => Promise<unknown>
): Promise<number> => {
  let count = 0
  let finish!: (capped: boolean) => void
  let settled = false
  let atEnd = { processed: 0, seconds: 0 }
  const finished = new Promise<boolean>((resolve) => (finish = resolve))
  const t0 = performance.now()
  const end = (capped: boolean) => {
    if (settled) return
    settled = true
    atEnd = { processed: count, seconds: capped ? capSeconds : (performance.now() - t0) / 1000 }
    finish(capped)
  }
  // The cap is also checked on every task: a peer whose loop never yields to the timer queue
  // (synchronous driver, no-op handler) would otherwise run past a timer-based cap.
  const done = () => {
    if (settled) return
    count++
    if (count === tasks) end(false)
    else if (performance.now() - t0 > capSeconds * 1000) end(true)
  }
  const timer = setTimeout(() => end(true), capSeconds * 1000)
  await start(done)
  const capped = await finished
  clearTimeout(timer)
  const { processed, seconds } = atEnd
  await stop()
  if (capped) {
    result.notes.push(
      `${label}: stopped at the ${capSeconds} s cap after ${processed.toLocaleString("en-US")} of ${tasks.toLocaleString("en-US")} tasks; rate over that time`
    )
  }
  return processed / seconds
}

const cell = (v: number | undefined, higherIsBetter: boolean) =>
  v === undefined ? "—" : higherIsBetter ? fmt(v) : v.toFixed(v < 10 ? 2 : 1)

/** Prints the table: one column per system, then sitq / best peer per row. */
export const printTable = (title: string, w: Workload, results: ReadonlyArray<SystemResult>) => {
  const own = results.filter(isOwn)
  const peers = results.filter((r) => !isOwn(r))
  console.log(`\n## ${title}\n`)
  console.log(`| measure | ${results.map((r) => r.name).join(" | ")} | sitq / best peer |`)
  console.log(`|---|${results.map(() => "---:").join("|")}|---:|`)
  for (const row of rows(w)) {
    const pick = (xs: ReadonlyArray<SystemResult>) => {
      const vs = xs.map((p) => p.values[row.id]).filter((v): v is number => v !== undefined && v > 0)
      return vs.length === 0 ? undefined : row.higherIsBetter ? Math.max(...vs) : Math.min(...vs)
    }
    const mine = pick(own)
    const best = pick(peers)
    const ratio = mine === undefined || best === undefined ? "—" : `${(mine / best).toFixed(2)}×`
    console.log(`| ${row.label} | ${results.map((r) => cell(r.values[row.id], row.higherIsBetter)).join(" | ")} | ${ratio} |`)
  }
  const notes = results.flatMap((r) => r.notes.map((n) => `${r.name}: ${n}`))
  if (notes.length > 0) {
    console.log("")
    for (const n of notes) console.log(`- ${n}`)
  }
  console.log("\nRatios: throughput rows, above 1 means sitq is faster; latency rows, below 1 means sitq is faster.")
}

export interface Floor {
  readonly what: string
  readonly pass: boolean | undefined
  readonly detail: string
}

/** A floor "value ≥ factor × peer" (throughput against the best peer). */
export const timesFloor = (what: string, value: number | undefined, peer: number | undefined, factor: number): Floor =>
  value === undefined || peer === undefined
    ? { what, pass: undefined, detail: "—" }
    : { what, pass: value >= factor * peer, detail: `${fmt(value)} vs ${fmt(peer)} (${(value / peer).toFixed(2)}×)` }

/** A floor "value ≤ factor × peer" (latency, ms). */
export const atMostTimes = (what: string, value: number | undefined, peer: number | undefined, factor: number): Floor =>
  value === undefined || peer === undefined
    ? { what, pass: undefined, detail: "—" }
    : { what, pass: value <= factor * peer, detail: `${value.toFixed(2)} ms vs ${peer.toFixed(2)} ms (${(value / peer).toFixed(2)}×)` }

/** A floor "value ≥ min" (tasks/s). */
export const atLeast = (what: string, value: number | undefined, min: number): Floor =>
  value === undefined ? { what, pass: undefined, detail: "—" } : { what, pass: value >= min, detail: `${fmt(value)} tasks/s` }

/** A floor "value < max" (milliseconds). */
export const below = (what: string, value: number | undefined, max: number): Floor =>
  value === undefined ? { what, pass: undefined, detail: "—" } : { what, pass: value < max, detail: `${value.toFixed(2)} ms` }

export const printFloors = (floors: ReadonlyArray<Floor>) => {
  console.log("\n| floor | measured | verdict |\n|---|---|---|")
  for (const f of floors) {
    console.log(`| ${f.what} | ${f.detail} | ${f.pass === undefined ? "not measured" : f.pass ? "pass" : "FAIL"} |`)
  }
}

/** sitq's own columns (its default and its tuned settings) are named "sitq…"; the rest are peers. */
export const isOwn = (r: SystemResult): boolean => r.name.startsWith("sitq")

const best = (results: ReadonlyArray<SystemResult>, id: RowId, higherIsBetter: boolean) => {
  const vs = results.map((r) => r.values[id]).filter((v): v is number => v !== undefined)
  return vs.length === 0 ? undefined : higherIsBetter ? Math.max(...vs) : Math.min(...vs)
}

/** The best value of a row among the peers (every setting of every peer). */
export const bestPeer = (results: ReadonlyArray<SystemResult>, id: RowId, higherIsBetter = true) =>
  best(results.filter((r) => !isOwn(r)), id, higherIsBetter)

/** The best value of a row among sitq's own columns. */
export const bestOwn = (results: ReadonlyArray<SystemResult>, id: RowId, higherIsBetter = true) =>
  best(results.filter(isOwn), id, higherIsBetter)

/** The value of a row in the column named `name`. */
export const valueOf = (results: ReadonlyArray<SystemResult>, name: string, id: RowId) =>
  results.find((r) => r.name === name)?.values[id]
