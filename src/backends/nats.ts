/**
 * `NatsBackend`: the sitq storage port on NATS JetStream (nats-server 2.9 or later, JetStream
 * enabled), through the official client (`@nats-io/transport-node`, `@nats-io/jetstream`,
 * `@nats-io/kv`, optional peer dependencies). A store is one KV bucket: each task is one record,
 * and every state change of a task is one compare-and-set write of that record at the revision
 * it was read at, so claims are exclusive and settles are fenced. Due-ness (priorities, delays,
 * ETAs, retries, lease expiry) is decided from Effect's `Clock` on an index of the unfinished
 * tasks that each process keeps from a watch of the bucket; the same watch pushes wake-ups,
 * results and cancellations to every process. Layout and limits: `docs/backends/nats.md`.
 *
 * ```ts
 * import { NatsBackend } from "sitq/nats"
 *
 * const BackendLive = NatsBackend.layer({ servers: "nats://127.0.0.1:4222" })
 * ```
 *
 * @module sitq/nats
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import type { Config, ConfigError, Scope } from "effect"
import type * as Backend from "../Backend.js"
import { Backend as BackendTag } from "../Backend.js"
import type { BackendError } from "../Errors.js"
import * as Internal from "./nats/NatsBackend.js"

/**
 * Options of {@link layer}: where the server is, the store's name (`prefix`), retention and
 * timeouts. See the fields' descriptions in `NatsBackendOptions`.
 *
 * @since 0.1.0
 * @category models
 */
export type NatsBackendOptions = Internal.NatsBackendOptions

/**
 * Builds a NATS backend; the connection, the watch and the retention sweep live as long as the
 * scope. Fails with a `BackendError` of reason `"Connect"` when the server cannot be reached
 * within `connectTimeout` or has no JetStream, and `"Schema"` when the bucket is not a sitq store
 * of this layout.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: NatsBackendOptions) => Effect.Effect<Backend.Backend, BackendError, Scope.Scope> =
  Internal.make

/**
 * A NATS backend for the layer's lifetime.
 *
 * @example
 * ```ts
 * import { NatsBackend } from "sitq/nats"
 *
 * const BackendLive = NatsBackend.layer({ servers: "nats://127.0.0.1:4222", prefix: "mail" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: NatsBackendOptions = {}): Layer.Layer<Backend.Backend, BackendError> =>
  Layer.scoped(BackendTag, make(options))

/**
 * The layer with its options read from `Config`.
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import { NatsBackend } from "sitq/nats"
 *
 * const BackendLive = NatsBackend.layerConfig(
 *   Config.all({ servers: Config.redacted("NATS_URL"), prefix: Config.withDefault(Config.string("SITQ_PREFIX"), "default") })
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config<NatsBackendOptions>
): Layer.Layer<Backend.Backend, BackendError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(config, layer))

/**
 * The NATS backend as a namespace: `NatsBackend.layer({ servers })`.
 *
 * @since 0.1.0
 * @category layers
 */
export const NatsBackend = { make, layer, layerConfig } as const
