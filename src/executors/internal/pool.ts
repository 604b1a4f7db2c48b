/**
 * The pool behind `ThreadPool` and `ProcessPool`: a fixed number of members (threads or child
 * processes), each running one call at a time, handed out through a queue of idle members.
 *
 * - A call takes an idle member (waiting when all are busy), posts the request and waits for the
 *   reply. Interrupting it (a timeout, a cancellation, shutdown) stops the member at once
 *   (`terminate()` for a thread, `SIGKILL` for a child) and waits until it has exited: a busy
 *   member cannot read an interrupt message, so only stopping it stops the work.
 * - A member that exits for any reason (stopped, `process.exit`, out of memory, killed from
 *   outside) fails the call it was running with a `Crashed` error and is replaced.
 * - Closing the scope stops the replacements and every member (a child is asked to leave first).
 *
 * @internal
 */
import type { Scope } from "effect"
import { Deferred, Duration, Effect, Exit, FiberId, FiberSet, Queue, Schedule } from "effect"
import type { ChildProcess } from "node:child_process"
import { createRequire } from "node:module"
import { availableParallelism } from "node:os"
import { pathToFileURL } from "node:url"
import type { Worker as Thread } from "node:worker_threads"
import type { ExecutorPool, PoolOptions } from "../Executor.js"
import { ExecutorError, href, Thrown } from "../Executor.js"
import { type Call, type CallFailure, preloadArg, type Reply, type Request } from "./protocol.js"

/** What `spawn` starts: a thread or a child process running {@link bootstrap} with these arguments. */
export type Handle = Thread | ChildProcess

const isThread = (handle: Handle): handle is Thread => "terminate" in handle

/**
 * The code a new member evaluates: it imports the runner. From sitq's TypeScript sources (this
 * repository, its tests and examples) the runner is a `.ts` file, so tsx is registered first (it
 * also lets the members load `.ts` handler modules); a built package runs the `.js` runner.
 */
export const bootstrap: string = (() => {
  const source = import.meta.url.endsWith(".ts")
  const runner = new URL(source ? "./runner.ts" : "./runner.js", import.meta.url).href
  if (!source) return `import(${JSON.stringify(runner)})`
  // tsx's ESM API; `require.resolve` names its CommonJS twin, which sits beside it.
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm/api").replace(/\.cjs$/, ".mjs")).href
  return `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(runner)}) })`
})()

/** A started member and the call it runs. */
interface Member {
  readonly handle: Handle
  /** pid or threadId. */
  readonly id: number
  readonly exited: Deferred.Deferred<void>
  /** Completes the call in flight with the member's reply, or with the crash that ended it. */
  pending: ((reply: Exit.Exit<unknown, Thrown | ExecutorError>) => void) | undefined
  seq: number
  /** Accepted into the pool (its exit is then replaced). */
  ready: boolean
  /** Being stopped or gone: never handed out again. */
  done: boolean
  /** The last `error` event (an uncaught error, `ERR_WORKER_OUT_OF_MEMORY`). */
  error: unknown
}

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/**
 * Starts `options.size` members with `spawn` for the scope's lifetime.
 */
export const make = (
  kind: ExecutorPool["kind"],
  options: PoolOptions,
  spawn: (args: ReadonlyArray<string>) => Handle
): Effect.Effect<ExecutorPool, ExecutorError, Scope.Scope> =>
  Effect.gen(function*() {
    const size = Math.max(1, Math.floor(options.size ?? availableParallelism()))
    const startTimeout = Duration.decode(options.startTimeout ?? "60 seconds")
    const args = (options.preload ?? []).map((module) => preloadArg + href(module))
    const idle = yield* Queue.unbounded<Member>()
    const members = new Set<Member>()
    const replacements = yield* FiberSet.make<void, never>()
    const fork = yield* FiberSet.runtime(replacements)<never>()
    let started = 0
    let closing = false

    const fromMember = (failure: CallFailure): Thrown | ExecutorError =>
      failure._tag === "Thrown"
        ? new Thrown({ value: failure.value, message: failure.rendered })
        : new ExecutorError({ reason: failure._tag, message: failure.message })

    /** Stops a member and waits until it has exited. */
    const stop = (member: Member): Effect.Effect<void> =>
      Effect.suspend(() => {
        member.done = true
        if (isThread(member.handle)) void member.handle.terminate()
        else member.handle.kill("SIGKILL")
        return Deferred.await(member.exited)
      }).pipe(Effect.timeout("10 seconds"), Effect.ignore)

    const onExit = (member: Member, how: string): void => {
      member.done = true
      members.delete(member)
      const pending = member.pending
      member.pending = undefined
      const error = member.error === undefined ? "" : ` (${describe(member.error)})`
      pending?.(Exit.fail(new ExecutorError({ reason: "Crashed", message: `the pool ${kind} ${how}${error}` })))
      Deferred.unsafeDone(member.exited, Exit.void)
      if (member.ready && !closing) fork(replace)
    }

    /** Starts one member and waits until its runner is loaded. */
    const startMember: Effect.Effect<Member, ExecutorError> = Effect.suspend(() => {
      const handle = spawn(args)
      const member: Member = {
        handle,
        id: isThread(handle) ? handle.threadId : handle.pid ?? -1,
        exited: Deferred.unsafeMake<void>(FiberId.none),
        pending: undefined,
        seq: 0,
        ready: false,
        done: false,
        error: undefined
      }
      started++
      members.add(member)
      const loaded = Deferred.unsafeMake<void, ExecutorError>(FiberId.none)
      handle.on("message", (reply: Reply) => {
        if (reply[0] === "ready") {
          Deferred.unsafeDone(loaded, Exit.void)
          return
        }
        if (reply[0] !== member.seq || member.pending === undefined) return
        const pending = member.pending
        member.pending = undefined
        pending(reply[1] === 0 ? Exit.succeed(reply[2]) : Exit.fail(fromMember(reply[2])))
      })
      handle.on("error", (error: unknown) => {
        member.error = error
      })
      handle.once("exit", (code: number | null, signal?: NodeJS.Signals | null) => {
        const how = signal === undefined || signal === null ? `exited with code ${code}` : `was killed by ${signal}`
        Deferred.unsafeDone(
          loaded,
          Exit.fail(new ExecutorError({ reason: "Spawn", message: `a pool ${kind} ${how} while starting` }))
        )
        onExit(member, how)
      })
      return Deferred.await(loaded).pipe(
        Effect.timeoutFail({
          duration: startTimeout,
          onTimeout: () =>
            new ExecutorError({ reason: "Spawn", message: `a pool ${kind} did not start within ${Duration.format(startTimeout)}` })
        }),
        Effect.tapError(() => stop(member)),
        Effect.map(() => {
          member.ready = true
          return member
        })
      )
    })

    /** Starts a member in place of one that exited, retrying while it cannot start. */
    const replace: Effect.Effect<void> = startMember.pipe(
      Effect.tapError((error) =>
        Effect.logWarning("sitq: could not start a pool member in place of one that exited; retrying").pipe(
          Effect.annotateLogs({ kind, error: error.message })
        )
      ),
      Effect.retry(Schedule.spaced("1 second")),
      Effect.interruptible,
      Effect.flatMap((member) => Queue.offer(idle, member)),
      Effect.asVoid,
      Effect.orDie
    )

    // Closing: no more replacements (those starting are interrupted), calls still waiting for a
    // member are interrupted, then every member leaves.
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closing = true
        return FiberSet.clear(replacements).pipe(
          Effect.zipRight(Queue.shutdown(idle)),
          Effect.zipRight(Effect.forEach(Array.from(members), stop, { concurrency: "unbounded", discard: true }))
        )
      })
    )

    const initial = yield* Effect.all(Array.from({ length: size }, () => startMember), { concurrency: "unbounded" })
    yield* Queue.offerAll(idle, initial)

    /** An idle member that is still alive (one that exited while idle is skipped). */
    const take: Effect.Effect<Member> = Effect.flatMap(
      Queue.take(idle),
      (member) => (member.done ? take : Effect.succeed(member))
    )

    const dispatch = (member: Member, call: Call) =>
      Effect.async<unknown, Thrown | ExecutorError>((resume) => {
        const seq = ++member.seq
        member.pending = (reply) => resume(reply)
        try {
          if (isThread(member.handle)) member.handle.postMessage([seq, call] satisfies Request)
          else member.handle.send([seq, call] satisfies Request)
        } catch (cause) {
          member.pending = undefined
          resume(Effect.fail(new ExecutorError({ reason: "Protocol", message: `the payload could not be sent: ${describe(cause)}`, cause })))
        }
        // Interrupted while the member works: stop it, so that the work really stops.
        return member.pending === undefined ? Effect.void : Effect.suspend(() => {
          member.pending = undefined
          return stop(member)
        })
      })

    const run = (call: Call): Effect.Effect<unknown, Thrown | ExecutorError> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(restore(take), (member) =>
          restore(dispatch(member, call)).pipe(
            Effect.ensuring(Effect.suspend(() => (member.done || closing ? Effect.void : Queue.offer(idle, member))))
          ))
      )

    return {
      kind,
      size,
      run,
      members: Effect.sync(() => Array.from(members).filter((m) => m.ready && !m.done).map((m) => m.id)),
      started: Effect.sync(() => started)
    } satisfies ExecutorPool
  })
