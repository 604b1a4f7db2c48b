import { defineConfig } from "vitest/config"

// "sitq-source": an `import ... from "sitq"` in a test resolves to src/ (as in tsconfig.json's
// customConditions and the examples' `node --conditions=sitq-source`), never to a stale dist/.
const conditions = ["sitq-source", "import", "module", "node", "default"]

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: conditions } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    fileParallelism: true,
    sequence: { concurrent: false }
  }
})
