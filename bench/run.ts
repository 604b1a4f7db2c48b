/**
 * `npm run bench -- [memory|sqlite|postgres|redis ...]` (default: memory). Each suite prints a
 * markdown table; suites with peers run the peers in the same run and print ratios.
 */
import { Effect } from "effect"
import { benchMemory } from "./memory.js"

const suites: Record<string, Effect.Effect<unknown, unknown>> = {
  memory: benchMemory
}

const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"))
const names = wanted.length === 0 ? ["memory"] : wanted
for (const name of names) {
  if (!(name in suites)) {
    console.error(`unknown bench suite '${name}'; known: ${Object.keys(suites).join(", ")}`)
    process.exit(2)
  }
}
console.log(`# sitq benchmarks (node ${process.version}, ${new Date().toISOString()})`)
for (const name of names) await Effect.runPromise(suites[name]!)
