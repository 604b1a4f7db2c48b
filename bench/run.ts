/**
 * `npm run bench -- [memory|sqlite|postgres|redis|executors|all ...]` (default: memory). `npm run bench`
 * compiles `src/` and `bench/` with tsc into `bench/.dist/` and runs this file from there, so sitq
 * and the peers both run as plain compiled JavaScript. Each suite prints a markdown table; suites
 * with peers run the peers in the same run and print ratios.
 */
import { Effect } from "effect"
import { cpus } from "node:os"

const suites: Record<string, () => Promise<Effect.Effect<unknown, unknown>>> = {
  memory: async () => (await import("./memory.js")).benchMemory,
  sqlite: async () => (await import("./sqlite.js")).benchSqlite,
  postgres: async () => (await import("./postgres.js")).benchPostgres,
  redis: async () => (await import("./redis.js")).benchRedis,
  executors: async () => (await import("./executors.js")).benchExecutors,
  nats: async () => (await import("./nats.js")).benchNats
}

const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"))
const names = wanted.length === 0 ? ["memory"] : wanted.includes("all") ? Object.keys(suites) : wanted
for (const name of names) {
  if (!(name in suites)) {
    console.error(`unknown bench suite '${name}'; known: ${Object.keys(suites).join(", ")}, all`)
    process.exit(2)
  }
}
console.log(`# sitq benchmarks (node ${process.version}, ${cpus().length} cores, ${new Date().toISOString()})`)
for (const name of names) {
  const started = performance.now()
  await Effect.runPromise(await suites[name]!())
  console.error(`(${name}: ${((performance.now() - started) / 1000).toFixed(1)} s)`)
}
