/**
 * The `sitq` command line, on `@effect/cli`: `stats`, `list`, `show`, `retry`, `cancel`, `purge`
 * and `dashboard`, against the store named by `--backend` (or `SITQ_BACKEND`), with `--json` for
 * scripts. Every failure is one line on stderr and a non-zero exit: 2 for a bad flag, 1 for a store
 * that cannot be used or a task that cannot be found or changed.
 *
 * @since 0.1.0
 */
import type { CliApp } from "@effect/cli"
import { Args, Command, Options, ValidationError } from "@effect/cli"
import { Cause, Config, Console, Data, DateTime, Duration, Effect, Layer, Option, Redacted } from "effect"
import type * as B from "../Backend.js"
import { Backend, statuses } from "../Backend.js"
import type { BackendError } from "../Errors.js"
import { overview } from "../dashboard/queries.js"
import * as View from "../dashboard/view.js"
import * as BackendUrl from "./BackendUrl.js"
import { StoreError, UsageError } from "./BackendUrl.js"

/**
 * A command that ran but did not get what was asked (a task not found, not retryable): exit 1,
 * its message on stderr.
 *
 * @since 0.1.0
 * @category errors
 */
export class CommandFailed extends Data.TaggedError("CommandFailed")<{ readonly message: string }> {}

// -----------------------------------------------------------------------------------------------
// options shared by the commands

const backendOption = Options.text("backend").pipe(
  Options.withAlias("b"),
  Options.withDescription("the store: sqlite:<file>, postgres://…, redis://…, nats://… (default: $SITQ_BACKEND)"),
  Options.withFallbackConfig(Config.string("SITQ_BACKEND"))
)
const prefixOption = Options.text("prefix").pipe(
  Options.withDescription("SQLite table prefix, PostgreSQL schema, or Redis/NATS key prefix of the store"),
  Options.optional
)
const connectTimeoutOption = Options.integer("connect-timeout").pipe(
  Options.withDescription("seconds a server may take to answer the first connection"),
  Options.withDefault(5)
)
const jsonOption = Options.boolean("json").pipe(Options.withDescription("print JSON instead of text"))
const store = { backend: backendOption, prefix: prefixOption, connectTimeout: connectTimeoutOption }

type StoreFlags = {
  readonly backend: string
  readonly prefix: Option.Option<string>
  readonly connectTimeout: number
}

/** Runs `effect` with the backend the flags name; the store is closed when it ends. */
const withStore = <A, E, R>(
  flags: StoreFlags,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | UsageError | StoreError | BackendError, Exclude<R, Backend>> =>
  Effect.gen(function*() {
    if (flags.connectTimeout <= 0) {
      return yield* new UsageError({ message: "--connect-timeout must be a positive number of seconds" })
    }
    const url = yield* BackendUrl.parse(flags.backend)
    const layer = BackendUrl.layer(url, {
      prefix: Option.getOrUndefined(flags.prefix),
      connectTimeout: Duration.seconds(flags.connectTimeout)
    })
    return yield* Effect.provide(effect, layer)
  })

const printJson = (value: unknown) => Console.log(JSON.stringify(value, null, 2))

const iso = (ms: number | null): string => ms === null ? "-" : DateTime.formatIso(DateTime.unsafeMake(ms))

/** Left-aligned columns, two spaces apart. */
const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd()
  return [line(header), ...rows.map(line)].join("\n")
}

const statusLabels: Record<B.TaskStatus, string> = {
  pending: "pending",
  in_progress: "running",
  success: "success",
  failed: "failed",
  cancelled: "cancelled"
}

const bytesText = (view: View.BytesView | null): string =>
  view === null
    ? "-"
    : view.encoding === "empty"
    ? "(empty)"
    : view.encoding === "json"
    ? JSON.stringify(view.value, null, 2)
    : `base64:${view.value}`

/**
 * A duration flag: `500ms`, `90s`, `15m`, `2h`, `7d`, `1w`, or Effect's `"7 days"`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseDuration = (input: string): Effect.Effect<Duration.Duration, UsageError> => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i.exec(input)
  const units: Record<string, number> = {
    ms: 1, millis: 1, millisecond: 1, milliseconds: 1,
    s: 1000, sec: 1000, second: 1000, seconds: 1000,
    m: 60_000, min: 60_000, minute: 60_000, minutes: 60_000,
    h: 3_600_000, hour: 3_600_000, hours: 3_600_000,
    d: 86_400_000, day: 86_400_000, days: 86_400_000,
    w: 604_800_000, week: 604_800_000, weeks: 604_800_000
  }
  const unit = m?.[2] === undefined ? undefined : units[m[2].toLowerCase()]
  return m === null || unit === undefined
    ? Effect.fail(new UsageError({ message: `'${input}' is not a duration (e.g. 30m, 12h, 7d, "7 days")` }))
    : Effect.succeed(Duration.millis(Number(m[1]) * unit))
}

// -----------------------------------------------------------------------------------------------
// commands

const stats = Command.make(
  "stats",
  { ...store, json: jsonOption, queue: Options.text("queue").pipe(Options.withDescription("one queue"), Options.optional) },
  (flags) =>
    withStore(
      flags,
      Effect.gen(function*() {
        const backend = yield* Backend
        if (Option.isSome(flags.queue)) {
          const counts = yield* backend.stats(flags.queue.value)
          if (flags.json) return yield* printJson({ queue: flags.queue.value, counts })
          return yield* Console.log(table(
            ["queue", ...statuses.map((s) => statusLabels[s])],
            [[flags.queue.value, ...statuses.map((s) => String(counts[s]))]]
          ))
        }
        const counts = yield* overview()
        if (flags.json) return yield* printJson({ total: counts.total, queues: counts.queues })
        const rows = counts.queues.map((q) => [q.queue, ...statuses.map((s) => String(q.counts[s]))])
        rows.push(["(all)", ...statuses.map((s) => String(counts.total[s]))])
        yield* Console.log(table(["queue", ...statuses.map((s) => statusLabels[s])], rows))
      })
    )
).pipe(Command.withDescription("count tasks per queue and status"))

const list = Command.make(
  "list",
  {
    ...store,
    json: jsonOption,
    status: Options.choice("status", statuses).pipe(Options.withDescription("only tasks of this status"), Options.optional),
    name: Options.text("name").pipe(Options.withDescription("only tasks of this name"), Options.optional),
    queue: Options.text("queue").pipe(Options.withDescription("only tasks of this queue"), Options.optional),
    limit: Options.integer("limit").pipe(Options.withDescription("at most this many (default 50)"), Options.withDefault(50)),
    oldestFirst: Options.boolean("oldest-first").pipe(Options.withDescription("oldest first (default: newest first)"))
  },
  (flags) =>
    withStore(
      flags,
      Effect.gen(function*() {
        if (flags.limit < 1) return yield* new UsageError({ message: "--limit must be at least 1" })
        const backend = yield* Backend
        const rows = yield* backend.list({
          status: Option.getOrUndefined(flags.status),
          name: Option.getOrUndefined(flags.name),
          queue: Option.getOrUndefined(flags.queue),
          limit: flags.limit,
          newestFirst: !flags.oldestFirst
        })
        const tasks = rows.map(View.summary)
        if (flags.json) return yield* printJson(tasks)
        if (tasks.length === 0) return yield* Console.log("no tasks")
        yield* Console.log(table(
          ["id", "name", "queue", "status", "attempts", "enqueued", "error"],
          tasks.map((t) => [
            t.id,
            t.name,
            t.queue,
            statusLabels[t.status],
            String(t.attempts),
            iso(t.enqueuedAt),
            t.error === null ? "" : `${t.error.tag}: ${t.error.message}`.replace(/\s+/g, " ").slice(0, 80)
          ])
        ))
      })
    )
).pipe(Command.withDescription("list tasks, newest first"))

const idArg = Args.text({ name: "id" }).pipe(Args.withDescription("the task's id"))

const getTask = (id: string) =>
  Effect.flatMap(Backend, (backend) =>
    Effect.flatMap(
      backend.get(id),
      Option.match({
        onNone: () => Effect.fail(new CommandFailed({ message: `no task ${id}` })),
        onSome: Effect.succeed
      })
    ))

const show = Command.make(
  "show",
  { ...store, json: jsonOption, id: idArg },
  (flags) =>
    withStore(
      flags,
      Effect.gen(function*() {
        const rec = yield* getTask(flags.id)
        const d = View.detail(rec)
        if (flags.json) return yield* printJson(d)
        const lines = [
          `id         ${d.id}`,
          `name       ${d.name}`,
          `queue      ${d.queue}`,
          `status     ${statusLabels[d.status]}`,
          `priority   ${d.priority}`,
          `attempts   ${d.attempts}`,
          `run at     ${iso(d.runAt)}`,
          `enqueued   ${iso(d.enqueuedAt)}`,
          `started    ${iso(d.startedAt)}`,
          `finished   ${iso(d.finishedAt)}`
        ]
        if (d.key !== null) lines.push(`key        ${d.key}`)
        if (d.leaseOwner !== null) lines.push(`lease      ${d.leaseOwner} until ${iso(d.leaseUntil)}`)
        lines.push("", "timeline", ...d.timeline.map((e) => `  ${iso(e.at)}  ${e.event}`))
        lines.push("", "payload", bytesText(d.payload))
        if (d.result !== null) lines.push("", "result", bytesText(d.result))
        if (d.error !== null) {
          lines.push("", "error", `${d.error.tag}: ${d.error.message}`)
          if (d.errorData !== null) lines.push(bytesText(d.errorData))
        }
        if (d.traceback !== null) lines.push("", "traceback", d.traceback)
        yield* Console.log(lines.join("\n"))
      })
    )
).pipe(Command.withDescription("show one task: payload, result, error, traceback, attempts, times"))

/**
 * A command on one task id: runs `act`, prints what it did (`done` names the answer that means
 * success), and fails with one line for every other answer.
 */
const onTask = <R extends string, D extends R>(
  name: string,
  description: string,
  act: (backend: B.Backend, id: string) => Effect.Effect<R, BackendError>,
  done: D,
  refusals: { readonly [K in Exclude<R, D>]: (id: string) => string }
) =>
  Command.make(
    name,
    { ...store, json: jsonOption, id: idArg },
    (flags) =>
      withStore(
        flags,
        Effect.gen(function*() {
          const backend = yield* Backend
          const result = yield* act(backend, flags.id)
          if (flags.json) yield* printJson({ id: flags.id, result })
          else if (result === done) yield* Console.log(`${done} ${flags.id}`)
          if (result !== done) {
            return yield* new CommandFailed({ message: refusals[result as Exclude<R, D>](flags.id) })
          }
        })
      )
  ).pipe(Command.withDescription(description))

const retry = onTask<B.RetryResult, "requeued">(
  "retry",
  "put a failed or cancelled task back to pending",
  (backend, id) => backend.retry(id),
  "requeued",
  {
    not_found: (id) => `no task ${id}`,
    not_finished: (id) => `task ${id} has not finished: only failed or cancelled tasks can be retried`,
    key_held: (id) => `task ${id} was not retried: another pending or running task holds its dedup key`
  }
)

const cancel = onTask<B.CancelResult, "cancelled">(
  "cancel",
  "cancel a pending task, or interrupt a running one",
  (backend, id) => backend.cancel(id),
  "cancelled",
  {
    not_found: (id) => `no task ${id}`,
    finished: (id) => `task ${id} has already finished`
  }
)

const finalStatuses = ["success", "failed", "cancelled"] as const

const purge = Command.make(
  "purge",
  {
    ...store,
    json: jsonOption,
    olderThan: Options.text("older-than").pipe(
      Options.withDescription("only tasks finished longer ago than this (30m, 12h, 7d)"),
      Options.optional
    ),
    all: Options.boolean("all").pipe(Options.withDescription("every finished task, however recent")),
    status: Options.choice("status", finalStatuses).pipe(
      Options.withDescription("only this final status (repeatable; default all three)"),
      Options.repeated
    ),
    queue: Options.text("queue").pipe(Options.withDescription("only this queue"), Options.optional)
  },
  (flags) =>
    Effect.gen(function*() {
      if (Option.isNone(flags.olderThan) && !flags.all) {
        return yield* new UsageError({ message: "purge needs --older-than <duration>, or --all" })
      }
      if (Option.isSome(flags.olderThan) && flags.all) {
        return yield* new UsageError({ message: "give --older-than or --all, not both" })
      }
      const age = Option.isSome(flags.olderThan) ? Option.some(yield* parseDuration(flags.olderThan.value)) : Option.none()
      return yield* withStore(
        flags,
        Effect.gen(function*() {
          const backend = yield* Backend
          const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
          const purged = yield* backend.purge({
            statuses: flags.status.length === 0 ? undefined : flags.status,
            queue: Option.getOrUndefined(flags.queue),
            finishedBefore: Option.isSome(age) ? now - Duration.toMillis(age.value) : undefined
          })
          if (flags.json) return yield* printJson({ purged })
          yield* Console.log(`purged ${purged} task${purged === 1 ? "" : "s"}`)
        })
      )
    })
).pipe(Command.withDescription("delete finished tasks"))

const dashboard = Command.make(
  "dashboard",
  {
    ...store,
    port: Options.integer("port").pipe(Options.withDescription("port to listen on (0: any free one)"), Options.withDefault(8080)),
    host: Options.text("host").pipe(Options.withDescription("address to bind"), Options.withDefault("127.0.0.1")),
    readOnly: Options.boolean("read-only").pipe(Options.withDescription("hide and refuse retry, cancel and purge")),
    token: Options.redacted("token").pipe(
      Options.withDescription("require this token (default: $SITQ_DASHBOARD_TOKEN)"),
      Options.withFallbackConfig(Config.redacted("SITQ_DASHBOARD_TOKEN")),
      Options.optional
    ),
    queue: Options.text("queue").pipe(Options.withDescription("a queue always shown (repeatable)"), Options.repeated)
  },
  (flags) =>
    Effect.gen(function*() {
      if (!Number.isInteger(flags.port) || flags.port < 0 || flags.port > 65535) {
        return yield* new UsageError({ message: `--port ${flags.port} is not a port (0 to 65535)` })
      }
      const token = Option.getOrUndefined(flags.token)
      if (token !== undefined && Redacted.value(token).length === 0) {
        return yield* new UsageError({ message: "--token must not be empty" })
      }
      const Dashboard = yield* Effect.promise(() => import("../dashboard/Dashboard.js"))
      const server = Dashboard.layer({
        port: flags.port,
        host: flags.host,
        readOnly: flags.readOnly,
        token,
        queues: flags.queue,
        announce: (address) =>
          Console.log(
            `sitq dashboard on ${address}/${token === undefined ? "" : " (token required)"}${
              flags.readOnly ? " (read-only)" : ""
            }`
          )
      }).pipe(
        Layer.catchAll((e) =>
          Layer.fail(new StoreError({ message: `cannot listen on ${flags.host}:${flags.port}: ${e.message}` }))
        )
      )
      return yield* withStore(flags, Layer.launch(server))
    })
).pipe(Command.withDescription("serve the web dashboard until interrupted"))

/**
 * The root command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("sitq").pipe(
  Command.withDescription("inspect and operate sitq task queues"),
  Command.withSubcommands([stats, list, show, retry, cancel, purge, dashboard])
)

/**
 * The exit code of a failed run.
 *
 * @since 0.1.0
 * @category errors
 */
export class ExitCode extends Data.TaggedError("ExitCode")<{ readonly code: number }> {}

/**
 * @effect/cli stops reading flags at an unknown one and then reports the next required flag as
 * missing; when that flag was given, say what really happened.
 */
const explain = (line: string, argv: ReadonlyArray<string>): string => {
  const missing = /^Expected to find option: '(--[^']+)'$/.exec(line)?.[1]
  if (missing === undefined || !argv.some((a) => a === missing || a.startsWith(`${missing}=`))) return line
  const sub = argv.slice(2).find((a) => !a.startsWith("-"))
  return `an unknown flag comes before '${missing}' (see sitq ${sub ?? ""} --help)`.replace("  ", " ")
}

/** One line for stderr: the first line of the message. */
const oneLine = (message: string): string => message.split("\n").map((l) => l.trim()).filter((l) => l !== "")[0] ?? ""

/**
 * Runs the CLI on `argv` (`process.argv`). Failures are printed as one line on stderr and end in
 * an `ExitCode` failure carrying the process's exit code.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (
  argv: ReadonlyArray<string>
): Effect.Effect<void, ExitCode, CliApp.CliApp.Environment> =>
  Console.consoleWith((base) =>
    Effect.withConsole(Command.run(command, { name: "sitq", version: "0.1.0" })(argv), {
      ...base,
      // @effect/cli reports a bad flag on stderr: one line, prefixed like every other failure
      error: (...args: ReadonlyArray<unknown>) => {
        const line = explain(oneLine(args.map(String).join(" ")), argv)
        return line === "" ? Effect.void : base.error(`sitq: ${line}`)
      }
    })
  ).pipe(
    Effect.catchAllCause((cause): Effect.Effect<never, ExitCode> => {
      if (Cause.isInterruptedOnly(cause)) return Effect.interrupt
      const failure = Cause.failureOption(cause)
      if (Option.isNone(failure)) {
        return Effect.zipRight(
          Console.error(`sitq: unexpected error: ${oneLine(Cause.pretty(cause))}`),
          Effect.fail(new ExitCode({ code: 1 }))
        )
      }
      const e = failure.value
      if (ValidationError.isValidationError(e)) return Effect.fail(new ExitCode({ code: 2 }))
      const code = e instanceof UsageError ? 2 : 1
      return Effect.zipRight(Console.error(`sitq: ${oneLine(e.message)}`), Effect.fail(new ExitCode({ code })))
    })
  )

