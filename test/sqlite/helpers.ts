/**
 * Helpers of the SQLite backend's tests: temporary database files, removed when the scope closes.
 */
import { Effect, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type * as B from "../../src/Backend.js"
import { SqliteBackend } from "../../src/backends/sqlite.js"

/** A new temporary directory, removed with everything in it when the scope closes. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "sitq-sqlite-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** The path of a database file in a new temporary directory. */
export const tempFile = Effect.map(tempDir, (dir) => join(dir, "tasks.db"))

/** A fresh, empty SQLite backend on a new temporary file (removed after). */
export const freshLayer: Layer.Layer<B.Backend, unknown> = Layer.unwrapScoped(
  Effect.map(tempFile, (filename) => SqliteBackend.layer({ filename }))
)

/** A fresh SQLite backend with options. */
export const freshLayerWith = (options: Omit<SqliteBackend.Options, "filename">): Layer.Layer<B.Backend, unknown> =>
  Layer.unwrapScoped(Effect.map(tempFile, (filename) => SqliteBackend.layer({ ...options, filename })))

let counter = 0

/** A `NewTask` with defaults. */
export const newTask = (overrides: Partial<B.NewTask> = {}): B.NewTask => ({
  id: `t${String(counter++).padStart(8, "0")}`,
  queue: "default",
  name: "job",
  payload: new Uint8Array([1, 2, 3]),
  priority: 2,
  runAt: 0,
  key: null,
  ...overrides
})
