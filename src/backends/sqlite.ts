/**
 * The `sitq/sqlite` entry point: the embedded, durable SQLite backend. Import it only where it is
 * used, so that programs on other backends never load the SQLite driver.
 *
 * ```ts
 * import { SqliteBackend } from "sitq/sqlite"
 *
 * const BackendLive = SqliteBackend.layer({ filename: "tasks.db" })
 * ```
 *
 * @since 0.1.0
 * @module sitq/sqlite
 */

/**
 * The SQLite backend: `SqliteBackend.layer({ filename })` on its own database file,
 * `SqliteBackend.layerClient()` on the application's `SqlClient`.
 *
 * @since 0.1.0
 * @category backends
 */
export * as SqliteBackend from "./sqlite/SqliteBackend.js"
