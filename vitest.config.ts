import { defaultServerConditions } from "vite"
import { defineConfig } from "vitest/config"

// "sitq-source" first: an `import ... from "sitq"` in a test resolves to src/ (as with
// tsconfig.json's customConditions and the examples' `node --conditions=sitq-source`), never to a
// stale dist/. Only for modules Vite transforms: dependencies in node_modules keep Node's own
// resolution (their conditions must not change, or a CommonJS `require` could get an ESM build).
export default defineConfig({
  ssr: { resolve: { conditions: ["sitq-source", ...defaultServerConditions] } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    fileParallelism: true,
    sequence: { concurrent: false }
  }
})
