/**
 * The PostgreSQL backend of sitq (entry `sitq/postgres`): tasks in a schema of your choice,
 * claimed with `FOR UPDATE SKIP LOCKED`, wake-ups across processes with `LISTEN`/`NOTIFY`.
 * Needs the optional peer dependency `@effect/sql-pg`.
 *
 * @example
 * ```ts
 * import { PostgresBackend } from "sitq/postgres"
 *
 * const BackendLive = PostgresBackend.layer({ url: "postgres://postgres@127.0.0.1:5432/app" })
 * ```
 *
 * @since 0.1.0
 * @module sitq/postgres
 */

/**
 * `PostgresBackend.layer({ url })` opens its own pool; `PostgresBackend.layerClient()` runs on the
 * application's `PgClient` (enqueues join the application's transactions); `PostgresBackend.make`
 * is the scoped constructor behind both.
 *
 * @since 0.1.0
 * @category backends
 */
export * as PostgresBackend from "./postgres/PostgresBackend.js"
