#!/usr/bin/env node
// `npm run test:package` (run by .ci/run): packs sitq as it would be published (`npm pack` runs
// `prepack`, which builds dist/), checks what the tarball holds, installs it into a fresh project
// in a temporary directory as a SQLite-only user would (`sitq` + `@effect/sql-sqlite-node`, the
// Effect peers coming from sitq's peer ranges), then:
//   - no Redis, PostgreSQL or NATS driver was installed (optional peers stay optional);
//   - test/package/consumer.mjs runs with plain `node` (Effect API on memory, Promise client on SQLite);
//   - test/package/good.ts typechecks with module/moduleResolution NodeNext, strict and
//     exactOptionalPropertyTypes against the shipped .d.ts, and test/package/bad-payload.ts does not
//     (its wrong payload is a compile error at the line that has it).
// Installs prefer npm's cache. better-sqlite3's native addon takes over a minute to compile on CI's
// two cores, so the consumer installs with --ignore-scripts and takes the addon this repository's
// own `npm ci` compiled when it is the same better-sqlite3 version (same Node, same ABI); with any
// other version it runs `npm rebuild better-sqlite3`.
import { spawnSync } from "node:child_process"
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))
const work = mkdtempSync(join(tmpdir(), "sitq-package-"))
const results = []
const pass = (name) => {
  results.push({ name, ok: true })
  console.log(`  ✓ ${name}`)
}
const fail = (name, detail) => {
  results.push({ name, ok: false })
  console.log(`  ✗ ${name}\n${detail.replace(/^/gm, "      ")}`)
}
const expect = (name, ok, detail = "") => (ok ? pass(name) : fail(name, detail))
const npm = (args, cwd) => {
  const r = spawnSync("npm", args, { cwd, encoding: "utf8", env: { ...process.env, npm_config_audit: "false", npm_config_fund: "false" } })
  if (r.status !== 0) {
    console.error(r.stdout, r.stderr)
    throw new Error(`npm ${args.join(" ")} failed in ${cwd}`)
  }
  return r.stdout
}
const finish = () => {
  rmSync(work, { recursive: true, force: true })
  const failed = results.filter((r) => !r.ok).length
  console.log(`package check: ${results.length - failed} passed, ${failed} failed`)
  process.exit(failed === 0 ? 0 : 1)
}

try {
  // 1. The tarball.
  // `npm pack` runs `prepack` (the build), whose output comes before the JSON.
  rmSync(join(root, "dist"), { recursive: true, force: true })
  const out = npm(["pack", "--json", "--pack-destination", work], root)
  const packed = JSON.parse(out.slice(out.search(/^\[/m)))[0]
  const tarball = join(work, packed.filename)
  const files = packed.files.map((f) => f.path)
  const stray = files.filter((f) => !f.startsWith("dist/") && !["package.json", "README.md", "LICENSE", "CHANGELOG.md"].includes(f))
  expect("the tarball holds only dist/, README.md, LICENSE, CHANGELOG.md and package.json", stray.length === 0, stray.join("\n"))
  for (const f of ["README.md", "LICENSE", "CHANGELOG.md", "dist/index.js", "dist/index.d.ts"]) {
    expect(`the tarball has ${f}`, files.includes(f))
  }
  const targets = Object.values(pkg.exports).flatMap((t) => (t !== null && typeof t === "object" ? [t.types, t.default] : []))
  const absent = targets.filter((t) => !files.includes(t.replace(/^\.\//, "")))
  expect("every exports target is in the tarball", absent.length === 0, absent.join("\n"))

  // 2. A fresh SQLite-only consumer.
  const app = join(work, "app")
  mkdirSync(app)
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "sitq-consumer", private: true, type: "module" }, null, 2))
  const dev = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).devDependencies
  npm([
    "install", "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund",
    tarball,
    `@effect/sql-sqlite-node@${pkg.peerDependencies["@effect/sql-sqlite-node"]}`,
    `typescript@${dev.typescript}`,
    `@types/node@${dev["@types/node"]}`
  ], app)
  const modules = join(app, "node_modules")
  const version = (name) => {
    const p = join(modules, name, "package.json")
    return existsSync(p) ? JSON.parse(readFileSync(p, "utf8")).version : null
  }
  const drivers = ["ioredis", "pg", "@effect/sql-pg", "nats", "@nats-io/transport-node", "@nats-io/jetstream", "@nats-io/nats-core"]
  const present = drivers.filter((d) => version(d) !== null)
  expect("no Redis, PostgreSQL or NATS driver is installed", present.length === 0, present.join("\n"))
  const effect = version("effect")
  expect(`effect comes from the peer range ${pkg.peerDependencies.effect} (got ${effect})`, effect !== null && effect.startsWith("3."))

  const addon = "build/Release/better_sqlite3.node"
  const mine = join(root, "node_modules/better-sqlite3")
  if (version("better-sqlite3") === JSON.parse(readFileSync(join(mine, "package.json"), "utf8")).version && existsSync(join(mine, addon))) {
    mkdirSync(join(modules, "better-sqlite3/build/Release"), { recursive: true })
    copyFileSync(join(mine, addon), join(modules, "better-sqlite3", addon))
  } else {
    npm(["rebuild", "better-sqlite3"], app)
  }

  // 3. Plain Node.
  copyFileSync(join(root, "test/package/consumer.mjs"), join(app, "consumer.mjs"))
  const run = spawnSync(process.execPath, ["consumer.mjs"], { cwd: app, encoding: "utf8", timeout: 60_000 })
  expect("consumer.mjs runs with plain node", run.status === 0 && run.stdout.includes("consumer: ok"), run.stdout + run.stderr)

  // 3b. The built `sitq` bin from the tarball, with plain node, against a SQLite store the
  // consumer's Promise client writes (one task enqueued, nothing running it).
  const seed = spawnSync(process.execPath, ["--input-type=module", "-e", [
    `import { open } from "sitq/promise"`,
    `import { Task } from "sitq"`,
    `import { SqliteBackend } from "sitq/sqlite"`,
    `import { Schema } from "effect"`,
    `const T = Task.make("ping", { payload: Schema.Struct({ n: Schema.Number }) })`,
    `const q = await open({ backend: SqliteBackend.layer({ filename: "bin.db" }) })`,
    `await q.enqueue(T, { n: 1 })`,
    `await q.close()`
  ].join("\n")], { cwd: app, encoding: "utf8", timeout: 60_000 })
  expect("a SQLite store for the bin is seeded", seed.status === 0, seed.stdout + seed.stderr)
  const bin = join(modules, ".bin", "sitq")
  const stats = spawnSync(bin, ["stats", "--backend", "sqlite:./bin.db", "--json"], { cwd: app, encoding: "utf8", timeout: 60_000 })
  let counted = null
  try {
    counted = JSON.parse(stats.stdout)
  } catch {
    // not JSON: reported below
  }
  expect(
    "the built sitq bin runs with plain node and counts the pending task",
    stats.status === 0 && JSON.stringify(counted).includes('"pending":1'),
    stats.stdout + stats.stderr
  )
  const wrong = spawnSync(bin, ["stats", "--backend", "sqlite:./missing.db"], { cwd: app, encoding: "utf8", timeout: 60_000 })
  expect(
    "the built bin answers a missing store with one line and a non-zero exit",
    wrong.status !== 0 && wrong.stderr.trim().split("\n").length === 1,
    wrong.stdout + wrong.stderr
  )

  // 4. TypeScript against the shipped .d.ts.
  copyFileSync(join(root, "test/package/good.ts"), join(app, "good.ts"))
  copyFileSync(join(root, "test/package/bad-payload.ts"), join(app, "bad-payload.ts"))
  // One program with both files (one tsc run): good.ts must have no error, bad-payload.ts exactly
  // the wrong payload's. skipLibCheck is off, so the shipped .d.ts files are checked too.
  writeFileSync(join(app, "tsconfig.json"), JSON.stringify({
    compilerOptions: {
      target: "ES2022", lib: ["ES2022"], module: "NodeNext", moduleResolution: "NodeNext", types: ["node"],
      strict: true, exactOptionalPropertyTypes: true, noEmit: true, skipLibCheck: false
    },
    files: ["good.ts", "bad-payload.ts"]
  }))
  const tsc = spawnSync(process.execPath, [join(modules, "typescript/bin/tsc"), "-p", "tsconfig.json", "--pretty", "false", "--listFiles"], {
    cwd: app,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024
  })
  const output = tsc.stdout.split("\n")
  const errors = output.filter((l) => /^[^\s].*\(\d+,\d+\): error TS/.test(l))
  const badLine = readFileSync(join(root, "test/package/bad-payload.ts"), "utf8").split("\n").findIndex((l) => l.includes("wrong payload")) + 1
  const elsewhere = errors.filter((l) => !l.startsWith(`bad-payload.ts(${badLine},`))
  expect(
    "good.ts typechecks against the shipped .d.ts (NodeNext, strict, exactOptionalPropertyTypes)",
    elsewhere.length === 0,
    elsewhere.join("\n") + tsc.stderr
  )
  expect(
    `bad-payload.ts fails to compile at its wrong payload (line ${badLine})`,
    tsc.status !== 0 && errors.some((l) => l.startsWith(`bad-payload.ts(${badLine},`) && /error TS(2322|2345|2769)/.test(l)),
    output.filter((l) => l.includes("bad-payload.ts")).join("\n")
  )
  const listed = output.filter((l) => l.includes("/node_modules/sitq/"))
  expect(
    "TypeScript reads sitq from the shipped dist/*.d.ts only",
    listed.some((l) => l.endsWith("/node_modules/sitq/dist/index.d.ts")) && listed.every((l) => /\/dist\/.*\.d\.ts$/.test(l)),
    listed.join("\n")
  )
} catch (e) {
  fail("the package check ran to the end", String(e?.stack ?? e))
}
finish()
