/**
 * The `sitq/redis` entry point: the Redis backend (also Valkey and Redis Cluster), through
 * `ioredis`. Needs the optional peer dependency `ioredis`; import it only where it is used.
 *
 * ```ts
 * import { RedisBackend } from "sitq/redis"
 *
 * const BackendLive = RedisBackend.layer({ url: "redis://127.0.0.1:6379" })
 * ```
 *
 * @since 0.1.0
 * @module sitq/redis
 */

/**
 * The Redis backend: `RedisBackend.layer({ url })`, `RedisBackend.layerConfig(config)`, and
 * `RedisBackend.make`, the scoped constructor behind both.
 *
 * @since 0.1.0
 * @category backends
 */
export * as RedisBackend from "./redis/RedisBackend.js"
