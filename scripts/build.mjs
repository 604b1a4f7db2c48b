#!/usr/bin/env node
// `npm run build` (also `prepack`): compiles every module under src/ to ESM JavaScript, `.d.ts` and
// source maps (with the sources inlined, since src/ is not shipped) in dist/, from a clean dist/.
// Then checks that every entry point in package.json's `exports` has its compiled file, so a new
// entry point needs only its line in `exports`.
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync, rmSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
rmSync(join(root, "dist"), { recursive: true, force: true })
const tsc = spawnSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(root, "tsconfig.build.json")], {
  stdio: "inherit"
})
if (tsc.status !== 0) process.exit(tsc.status ?? 1)

const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))
const missing = []
for (const [entry, target] of Object.entries(pkg.exports)) {
  if (target === null || typeof target === "string") continue
  for (const condition of ["types", "default"]) {
    const file = target[condition]
    if (typeof file !== "string" || !file.startsWith("./dist/")) missing.push(`${entry}: "${condition}" must point into ./dist/`)
    else if (!existsSync(join(root, file))) missing.push(`${entry}: ${file} was not built`)
  }
  const source = target["sitq-source"]
  if (typeof source !== "string" || !existsSync(join(root, source))) missing.push(`${entry}: "sitq-source" must name a file under ./src/`)
}
if (missing.length > 0) {
  console.error(`build: package.json exports do not match dist/:\n  ${missing.join("\n  ")}`)
  process.exit(1)
}
console.log(`build: dist/ has every entry point (${Object.keys(pkg.exports).length} exports)`)
