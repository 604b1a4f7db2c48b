/**
 * The program every pool thread and pool child runs. It loads the handler modules by URL (once
 * each) and calls their plain sync or async functions with the encoded payload and the attempt's
 * context, one call at a time. A thrown value goes back in a cloneable form so that the pool can
 * match it against the task's failure schema. It holds no Effect runtime: a member starts fast and
 * a call costs one message each way.
 *
 * A child also leaves when its parent's IPC channel closes (the pool closed it, or the parent died
 * without closing the pool) as soon as it is not busy.
 *
 * @internal
 */
import { parentPort } from "node:worker_threads"
import { type CallFailure, preloadArg, type Reply, type Request } from "./protocol.js"

type Module = Readonly<Record<string, unknown>>

const render = (value: unknown): string => {
  if (value instanceof Error) return value.stack ?? `${value.name}: ${value.message}`
  if (typeof value === "object" && value !== null) {
    try {
      return JSON.stringify(value)
    } catch {
      return String(value)
    }
  }
  return String(value)
}

/** The thrown value as plain data: an Error's own fields plus its name, message and stack. */
const cloneable = (value: unknown): unknown => {
  const plain = value instanceof Error
    ? { ...value, name: value.name, message: value.message, stack: value.stack }
    : value
  try {
    return structuredClone(plain)
  } catch {
    return render(value)
  }
}

const post: (reply: Reply) => void = parentPort === null
  ? (reply) => void process.send?.(reply)
  : (reply) => parentPort!.postMessage(reply)

const modules = new Map<string, Promise<Module>>()
/** The modules loaded so far: a call to one of them runs without waiting for a promise. */
const loaded = new Map<string, Module>()

const load = (url: string): Promise<Module> => {
  let module = modules.get(url)
  if (module === undefined) {
    module = (import(url) as Promise<Module>).then((m) => {
      loaded.set(url, m)
      return m
    })
    modules.set(url, module)
    // A module that failed to load may load later (it was being written, say).
    module.catch(() => modules.delete(url))
  }
  return module
}

const send = (reply: Reply): void => {
  try {
    post(reply)
  } catch (cause) {
    post([reply[0] as number, 1, { _tag: "Protocol", message: `the result could not be sent back: ${render(cause)}` }])
  }
}

const thrown = (seq: number, value: unknown): Reply => [
  seq,
  1,
  { _tag: "Thrown", value: cloneable(value), rendered: render(value) } satisfies CallFailure
]

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function"

const onRequest = (request: Request): void => {
  const [seq, call] = request
  const module = loaded.get(call.module)
  if (module === undefined) {
    load(call.module).then(
      () => onRequest(request),
      (cause) => send([seq, 1, { _tag: "Module", message: `could not load ${call.module}: ${render(cause)}` }])
    )
    return
  }
  const fn = module[call.export]
  if (typeof fn !== "function") {
    send([seq, 1, { _tag: "Module", message: `${call.module} has no exported function '${call.export}'` }])
    return
  }
  let result: unknown
  try {
    result = (fn as (payload: unknown, context: unknown) => unknown)(call.payload, call.context)
  } catch (error) {
    send(thrown(seq, error))
    return
  }
  // A synchronous function's result goes back at once; a promise's when it settles.
  if (isThenable(result)) result.then((value) => send([seq, 0, value]), (error) => send(thrown(seq, error)))
  else send([seq, 0, result])
}

if (parentPort === null) {
  process.on("message", onRequest)
  process.once("disconnect", () => process.exit(0))
} else {
  parentPort.on("message", onRequest)
}
// Modules named with `preload` are imported before the first call; one that fails to load reports
// its error to the call that uses it.
const preload = process.argv.filter((arg) => arg.startsWith(preloadArg)).map((arg) => arg.slice(preloadArg.length))
void Promise.allSettled(preload.map(load)).then(() => post(["ready"]))
