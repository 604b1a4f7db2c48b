/**
 * The port's answers to empty inputs, given once for every backend: an empty batch is no round
 * trip and no event.
 *
 * @internal
 */
import { Effect, Option } from "effect"
import type * as B from "../../Backend.js"

const unique = (xs: ReadonlyArray<string>): ReadonlyArray<string> => Array.from(new Set(xs))

/**
 * The backend with every empty input answered at once: `enqueue([])`, `heartbeat([])`,
 * `settle([])` give `[]`; a claim of no queues, of no names (`names: []`) or of `limit` < 1
 * gives `[]`; `nextWakeAt` of no queues or no names gives none; a purge of no statuses deletes
 * nothing. Repeated names are passed on once.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const guarded = (backend: B.Backend): B.Backend => ({
  ...backend,
  enqueue: (tasks) => tasks.length === 0 ? Effect.succeed([]) : backend.enqueue(tasks),
  claim: (request) =>
    request.queues.length === 0 || !(request.limit >= 1) || request.names?.length === 0
      ? Effect.succeed([])
      : backend.claim(request.names === undefined ? request : { ...request, names: unique(request.names) }),
  heartbeat: (leases, leaseMillis) => leases.length === 0 ? Effect.succeed([]) : backend.heartbeat(leases, leaseMillis),
  settle: (outcomes) => outcomes.length === 0 ? Effect.succeed([]) : backend.settle(outcomes),
  nextWakeAt: (queues, names) =>
    queues.length === 0 || names?.length === 0
      ? Effect.succeed(Option.none())
      : names === undefined
      ? backend.nextWakeAt(queues)
      : backend.nextWakeAt(queues, unique(names)),
  purge: (filter) => filter.statuses !== undefined && filter.statuses.length === 0 ? Effect.succeed(0) : backend.purge(filter)
})
