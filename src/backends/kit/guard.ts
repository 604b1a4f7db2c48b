/**
 * The port's answers to empty inputs, given once for every backend: an empty batch is no round
 * trip and no event.
 *
 * @internal
 */
import { Effect, Option } from "effect"
import type * as B from "../../Backend.js"

/**
 * The backend with every empty input answered at once: `enqueue([])`, `heartbeat([])`,
 * `settle([])` give `[]`; a claim of no queues or of `limit` < 1 gives `[]`; `nextWakeAt([])`
 * gives none; a purge of no statuses deletes nothing.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const guarded = (backend: B.Backend): B.Backend => ({
  ...backend,
  enqueue: (tasks) => tasks.length === 0 ? Effect.succeed([]) : backend.enqueue(tasks),
  claim: (request) =>
    request.queues.length === 0 || !(request.limit >= 1) ? Effect.succeed([]) : backend.claim(request),
  heartbeat: (leases, leaseMillis) => leases.length === 0 ? Effect.succeed([]) : backend.heartbeat(leases, leaseMillis),
  settle: (outcomes) => outcomes.length === 0 ? Effect.succeed([]) : backend.settle(outcomes),
  nextWakeAt: (queues) => queues.length === 0 ? Effect.succeed(Option.none()) : backend.nextWakeAt(queues),
  purge: (filter) => filter.statuses !== undefined && filter.statuses.length === 0 ? Effect.succeed(0) : backend.purge(filter)
})
