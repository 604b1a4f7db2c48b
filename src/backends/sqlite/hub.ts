/**
 * The in-process event hub of the SQLite backend: one `PubSub` per store (database file and table
 * prefix), shared by every `SqliteBackend` layer opened on it in this process and reference counted
 * by their scopes, so that a worker wakes at once when a producer in the same process enqueues,
 * even when each built its own layer. SQLite cannot push across processes: there, workers poll.
 *
 * @internal
 */
import type { Scope } from "effect"
import { Effect, PubSub } from "effect"
import { resolve } from "node:path"
import type { BackendEvent } from "../../Backend.js"

interface Hub {
  readonly pubsub: PubSub.PubSub<BackendEvent>
  refs: number
}

const hubs = new Map<string, Hub>()
const clientKeys = new WeakMap<object, string>()
let unique = 0

/**
 * The key of a store: its resolved file name and prefix, or a key of its own for a database that
 * no other connection can open (`:memory:`, a temporary database).
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const fileKey = (filename: string, prefix: string): string =>
  filename === "" || filename === ":memory:" || filename.startsWith("file:")
    ? `#${unique++}`
    : `${resolve(filename)}\u0000${prefix}`

/**
 * The key of a store reached through an application's client: by its file name when the client
 * tells it, otherwise one key per client object.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const clientKey = (client: object, filename: string | undefined, prefix: string): string => {
  if (filename !== undefined && filename !== "" && filename !== ":memory:" && !filename.startsWith("file:")) {
    return `${resolve(filename)}\u0000${prefix}`
  }
  let key = clientKeys.get(client)
  if (key === undefined) {
    key = `#${unique++}`
    clientKeys.set(client, key)
  }
  return `${key}\u0000${prefix}`
}

/**
 * The hub of a store for the scope's lifetime; the last scope to close shuts it down.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const acquire = (key: string): Effect.Effect<PubSub.PubSub<BackendEvent>, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.flatMap(PubSub.unbounded<BackendEvent>(), (fresh) =>
      Effect.sync(() => {
        let hub = hubs.get(key)
        if (hub === undefined) {
          hub = { pubsub: fresh, refs: 0 }
          hubs.set(key, hub)
        }
        hub.refs++
        return hub
      })),
    (hub) =>
      Effect.suspend(() => {
        hub.refs--
        if (hub.refs > 0) return Effect.void
        if (hubs.get(key) === hub) hubs.delete(key)
        return PubSub.shutdown(hub.pubsub)
      })
  ).pipe(Effect.map((hub) => hub.pubsub))
