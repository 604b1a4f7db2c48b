/**
 * The messages between a pool and its members (threads or child processes). They cross by
 * structured clone (`postMessage` for threads, the `advanced` IPC serialization for children).
 * A member runs one call at a time; `seq` ties a reply to its call.
 *
 * @internal
 */

/** One call: run `export` of `module` with the task's encoded payload and its context. */
export interface Call {
  readonly module: string
  readonly export: string
  readonly payload: unknown
  readonly context: CallContext
}

/** What the function receives as its second argument (the attempt's `TaskContext`). */
export interface CallContext {
  readonly id: string
  readonly name: string
  readonly queue: string
  readonly attempt: number
  readonly enqueuedAt: number
}

/** Why a call did not return a value, as the member reports it. */
export type CallFailure =
  /** The function threw (or its promise rejected): `value` is the thrown value in a cloneable form. */
  | { readonly _tag: "Thrown"; readonly value: unknown; readonly rendered: string }
  /** The module could not be loaded or does not export a function of that name. */
  | { readonly _tag: "Module"; readonly message: string }
  /** The function's result could not be cloned back. */
  | { readonly _tag: "Protocol"; readonly message: string }

/** Pool to member. */
export type Request = readonly [seq: number, call: Call]

/** Member to pool: ready once loaded, then one reply per call. */
export type Reply =
  | readonly [ready: "ready"]
  | readonly [seq: number, ok: 0, value: unknown]
  | readonly [seq: number, failed: 1, failure: CallFailure]

/** The argument by which a member learns of a module to import before it reports ready. */
export const preloadArg = "sitq-preload="
