#!/usr/bin/env node
// `npm run docs:check`: every ```ts snippet in README.md and docs/ (the generated docs/api/ aside)
// and every ```ts block in the JSDoc of src/ (the `@example`s) must compile on its own. Each one is
// written to .tmp/docs-check/ as a module of its own (so it must bring its own imports: `sitq`
// resolves to this package, like a user's `import ... from "sitq"`), and all of them are
// typechecked in one tsc run with the repository's compiler options. Errors are reported at the
// snippet's own file and line. A tutorial's later step may build on the snippets before it in the
// same file with the fence ```ts continued: it is compiled appended to them, as one module.
import { spawnSync } from "node:child_process"
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const out = join(root, ".tmp", "docs-check")

const walk = (dir, ext) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return walk(path, ext)
    return path.endsWith(ext) ? [path] : []
  })

/** Fenced blocks of a Markdown text (or of JSDoc lines with their ` * ` prefix removed). */
const fences = (lines, firstLine) => {
  const found = []
  let open = null
  lines.forEach((line, i) => {
    const m = /^\s*```\s*([\w-]*)\s*([\w-]*)\s*$/.exec(line)
    if (m === null) {
      if (open !== null) open.body.push(line)
      return
    }
    if (open === null) open = { lang: m[1], flag: m[2], line: firstLine + i + 1, body: [] }
    else {
      found.push(open)
      open = null
    }
  })
  return found.filter((f) => f.lang === "ts" || f.lang === "typescript")
}

const snippets = []
const markdown = [join(root, "README.md"), ...walk(join(root, "docs"), ".md").filter((f) => !f.startsWith(join(root, "docs", "api")))]
for (const file of markdown) {
  for (const f of fences(readFileSync(file, "utf8").split("\n"), 1)) snippets.push({ file, ...f })
}
for (const file of walk(join(root, "src"), ".ts")) {
  const text = readFileSync(file, "utf8")
  for (const m of text.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
    const startLine = text.slice(0, m.index).split("\n").length
    const lines = m[0].split("\n").map((l) => l.replace(/^\s*\/?\*\*?\/?\s?/, "").replace(/\*\/$/, ""))
    for (const f of fences(lines, startLine)) snippets.push({ file, ...f })
  }
}

rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })
// One module per snippet, or per chain of a snippet and the `continued` ones after it.
const modules = []
for (const s of snippets) {
  const where = `${relative(root, s.file)}:${s.line}`
  if (s.flag !== "" && s.flag !== "continued") throw new Error(`${where}: unknown fence flag "${s.flag}"`)
  const last = modules.at(-1)
  if (s.flag === "continued") {
    if (last === undefined || last.file !== s.file) throw new Error(`${where}: "continued" with no snippet before it`)
    last.parts.push(s)
  } else modules.push({ file: s.file, parts: [s] })
}
const origin = new Map()
modules.forEach((m, i) => {
  const name = `snippet${String(i).padStart(3, "0")}.ts`
  const lines = []
  const segments = []
  for (const part of m.parts) {
    segments.push({ first: lines.length + 1, part })
    lines.push(...part.body)
  }
  // `export {}` makes every snippet a module of its own, whether or not it imports anything.
  writeFileSync(join(out, name), `${lines.join("\n")}\nexport {}\n`)
  origin.set(name, segments)
})
writeFileSync(
  join(out, "tsconfig.json"),
  JSON.stringify({
    extends: "../../tsconfig.json",
    compilerOptions: { noUnusedLocals: false, noUnusedParameters: false, noEmit: true },
    include: ["*.ts"]
  })
)
const tsc = spawnSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(out, "tsconfig.json"), "--pretty", "false"], {
  encoding: "utf8"
})
const errors = []
for (const output of tsc.stdout.split("\n")) {
  const m = /^(?:.*[\\/])?(snippet\d+\.ts)\((\d+),(\d+)\): (.*)$/.exec(output)
  if (m === null) {
    if (output.trim() !== "") errors.push(output)
    continue
  }
  const line = Number(m[2])
  const { first, part } = origin.get(m[1]).findLast((g) => g.first <= line) ?? origin.get(m[1])[0]
  errors.push(`${relative(root, part.file)}:${part.line + line - first + 1}:${m[3]} ${m[4]}`)
}
const checked = snippets.length
if (tsc.status !== 0 || errors.length > 0) {
  console.error(errors.join("\n"))
  console.error(`docs check: ${errors.length} error(s) in ${checked} snippet(s); snippet files are in ${relative(root, out)}`)
  process.exit(1)
}
if (checked === 0) {
  console.error("docs check: no snippet found")
  process.exit(1)
}
console.log(`docs check: ${checked} snippets compile (${markdown.length} Markdown files and the JSDoc of src/, as ${modules.length} modules)`)
