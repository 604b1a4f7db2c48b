#!/usr/bin/env node
// The README's test command (`npm test`). Runs every test suite that can run here and says plainly
// which backend suites it skipped and which environment variable enables each one. With
// SITQ_REQUIRE_SERVERS=1 (set by .ci/run) a missing server variable is an error, not a skip. A
// server suite whose directory does not exist (yet) is left out.
// Extra arguments go to vitest (e.g. `npm test -- test/memory`).
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync } from "node:fs"

const servers = [
  { name: "postgres", dir: "test/postgres", env: "SITQ_TEST_POSTGRES_URL", example: "postgres://postgres@127.0.0.1:5432/test" },
  { name: "redis", dir: "test/redis", env: "SITQ_TEST_REDIS_URL", example: "redis://127.0.0.1:6379" },
  { name: "nats", dir: "test/nats", env: "SITQ_TEST_NATS_URL", example: "nats://127.0.0.1:4222" }
]
const require = process.env.SITQ_REQUIRE_SERVERS === "1"
const exclude = []
const lines = []
for (const s of servers) {
  if (!existsSync(s.dir)) continue
  if (process.env[s.env]) {
    lines.push(`  ${s.name}: running against ${s.env}=${process.env[s.env]}`)
  } else if (require) {
    console.error(`sitq tests: ${s.env} is not set but SITQ_REQUIRE_SERVERS=1: the ${s.name} suite must run.`)
    process.exit(1)
  } else {
    exclude.push(`${s.dir}/**`)
    lines.push(`  ${s.name}: SKIPPED (set ${s.env}=${s.example} to run it)`)
  }
}
console.log("sitq tests: memory, sqlite, core, types and examples always run; server backends:")
for (const l of lines) console.log(l)

mkdirSync(".tmp", { recursive: true })
const report = ".tmp/vitest-report.json"
const args = ["vitest", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`]
for (const e of exclude) args.push("--exclude", e)
args.push(...process.argv.slice(2))
const run = spawnSync("npx", args, { stdio: "inherit", env: process.env })

let summary = null
try {
  const r = JSON.parse(readFileSync(report, "utf8"))
  summary = { passed: r.numPassedTests, failed: r.numFailedTests, skipped: r.numPendingTests + r.numTodoTests }
} catch {
  // no report: vitest did not get to the end
}
for (const l of lines.filter((l) => l.includes("SKIPPED"))) console.log(`skipped suite:${l.slice(l.indexOf(":") + 1)}`)
if (summary) console.log(`tests: ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`)
const code = run.status ?? 1
if (summary && summary.passed === 0 && code === 0) {
  console.error("sitq tests: no test ran")
  process.exit(1)
}
process.exit(code)
