/**
 * The web dashboard: an `@effect/platform` HTTP router over the `Backend` service, with a small
 * static front end of its own. It shows counts per queue and status, the finishes per minute of the
 * last minutes, a task list with filters and paging, a page per task (timeline, attempts, error,
 * traceback, payload), and offers retry, cancel and purge. Live updates come as server-sent events
 * from the backend's `subscribe` plus a periodic tick (events of other processes arrive only on
 * backends that push across processes; the tick covers the rest).
 *
 * Serve it alone with {@link layer} (what `sitq dashboard` does), or mount {@link router} in the
 * application's own server: `HttpRouter.mount("/sitq", Dashboard.router({ token }))`.
 *
 * With `readOnly`, actions are hidden and refused with 403. With `token`, every request needs the
 * token: `Authorization: Bearer <token>`, or `?token=<token>` once, which sets an HttpOnly cookie
 * (holding a digest of the token, not the token). Tokens are compared in constant time. Actions
 * also need the header `x-sitq-action: 1`, which a cross-site form cannot send.
 *
 * @since 0.1.0
 */
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import type { HttpServerError } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Chunk, Clock, Duration, Effect, Layer, Option, Redacted, Schema, Stream } from "effect"
import * as Crypto from "node:crypto"
import * as Http from "node:http"
import type * as B from "../Backend.js"
import { Backend, finishedStatuses, statuses } from "../Backend.js"
import type { BackendError } from "../Errors.js"
import * as Assets from "./assets.js"
import { overview, page } from "./queries.js"
import * as View from "./view.js"

export type { Overview } from "./queries.js"

/**
 * Options of the dashboard.
 *
 * @since 0.1.0
 * @category models
 */
export interface DashboardOptions {
  /** Hide and refuse (403) retry, cancel and purge. */
  readonly readOnly?: boolean | undefined
  /**
   * A token every request must carry (bearer header, or `?token=` once, then a cookie). An empty
   * string locks every request out.
   */
  readonly token?: string | Redacted.Redacted<string> | undefined
  /** Queues always shown, besides those seen among the newest `sampleSize` tasks. */
  readonly queues?: ReadonlyArray<string> | undefined
  /** How many of the newest tasks are read to find queues and finishes per minute (default 1000). */
  readonly sampleSize?: number | undefined
  /** How often the live stream ticks so pages refresh without pushed events (default 5 seconds). */
  readonly refreshInterval?: Duration.DurationInput | undefined
}

/**
 * Options of {@link layer}: the dashboard's own HTTP server.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServeOptions extends DashboardOptions {
  /** Port to listen on (0 picks a free one). */
  readonly port: number
  /** Host to bind (default 127.0.0.1). */
  readonly host?: string | undefined
  /** Run once the server listens, with its address (`http://127.0.0.1:8080`); default: a log line. */
  readonly announce?: ((address: string) => Effect.Effect<void>) | undefined
}

const PAGE_MAX = 500
const COOKIE = "sitq_dashboard"

const digest = (s: string): Buffer => Crypto.createHash("sha256").update(s, "utf8").digest()
const sameSecret = (a: string, expected: Buffer): boolean => Crypto.timingSafeEqual(digest(a), expected)

type Handler = Effect.Effect<HttpServerResponse.HttpServerResponse, never, Backend | HttpServerRequest.HttpServerRequest | HttpRouter.RouteContext>

const errorJson = (status: number, message: string): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson({ error: message }, { status })

const backendFailure = (e: BackendError): HttpServerResponse.HttpServerResponse => errorJson(503, e.message)

const htmlPage = (body: string, status: number): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.text(body, {
    status,
    contentType: "text/html; charset=utf-8",
    headers: { "cache-control": "no-store", "x-frame-options": "DENY" }
  })

const ok = (body: unknown): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(body, { headers: { "cache-control": "no-store" } })

const isStatus = (s: string): s is B.TaskStatus => (statuses as ReadonlyArray<string>).includes(s)

const searchParams = (req: HttpServerRequest.HttpServerRequest): URLSearchParams =>
  new URL(req.url, "http://dashboard.invalid").searchParams

/** The path the browser used (before any mount prefix was stripped), without the query. */
const originalPath = (req: HttpServerRequest.HttpServerRequest): string =>
  new URL(req.originalUrl, "http://dashboard.invalid").pathname

/** The directory the dashboard is served from, as the browser sees it ("/", "/sitq/"). */
const basePath = (req: HttpServerRequest.HttpServerRequest): string => {
  const full = originalPath(req)
  const inner = new URL(req.url, "http://dashboard.invalid").pathname
  const tail = inner === "/" ? "" : inner
  const prefix = full.endsWith(tail) ? full.slice(0, full.length - tail.length) : ""
  return `${prefix.replace(/\/+$/, "")}/`
}

const PurgeBody = Schema.Struct({
  olderThanMinutes: Schema.optional(Schema.Number.pipe(Schema.nonNegative())),
  statuses: Schema.optional(Schema.Array(Schema.Literal("success", "failed", "cancelled"))),
  queue: Schema.optional(Schema.String)
})

/**
 * The dashboard's router: the page, its assets, the JSON API under `api/` and the live stream
 * `api/events`. It needs the `Backend` service.
 *
 * @example
 * ```ts
 * import { HttpRouter } from "@effect/platform"
 * import * as Dashboard from "sitq/dashboard"
 *
 * const App = HttpRouter.empty.pipe(
 *   HttpRouter.mount("/sitq", Dashboard.router({ token: process.env.SITQ_DASHBOARD_TOKEN }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category routers
 */
export const router = (options: DashboardOptions = {}): HttpRouter.HttpRouter<never, Backend> => {
  const readOnly = options.readOnly === true
  const tokenValue = options.token === undefined
    ? undefined
    : typeof options.token === "string"
    ? options.token
    : Redacted.value(options.token)
  // an empty token (an unset variable, say) locks the dashboard rather than opening it
  const expected = tokenValue === undefined
    ? undefined
    : tokenValue === ""
    ? Crypto.randomBytes(32)
    : digest(tokenValue)
  const cookieValue = tokenValue === undefined
    ? ""
    : Crypto.createHmac("sha256", tokenValue).update("sitq-dashboard-session").digest("hex")
  const cookieExpected = digest(cookieValue)
  const refresh = Duration.decode(options.refreshInterval ?? "5 seconds")

  /** Checks the token; the page answers with the token wall, the API with 401. */
  const guard = (handler: Handler, kind: "page" | "api" | "action"): Handler =>
    Effect.gen(function*() {
      const req = yield* HttpServerRequest.HttpServerRequest
      if (expected !== undefined) {
        const query = searchParams(req).get("token")
        const auth = req.headers["authorization"]
        const bearer = auth !== undefined && /^Bearer\s+/i.test(auth) ? auth.replace(/^Bearer\s+/i, "") : undefined
        const cookie = req.cookies[COOKIE]
        const authorized = (bearer !== undefined && sameSecret(bearer, expected)) ||
          (cookie !== undefined && sameSecret(cookie, cookieExpected))
        if (query !== null && kind === "page") {
          if (!sameSecret(query, expected)) return htmlPage(Assets.tokenWall(true), 401)
          const base = basePath(req)
          return HttpServerResponse.redirect(originalPath(req), {
            status: 303,
            headers: {
              "set-cookie": `${COOKIE}=${cookieValue}; Path=${base}; HttpOnly; SameSite=Strict`,
              "cache-control": "no-store"
            }
          })
        }
        if (!authorized) {
          return kind === "page"
            ? htmlPage(Assets.tokenWall(false), 401)
            : errorJson(401, "a token is required: Authorization: Bearer <token>, or open the page with ?token=")
        }
      }
      if (kind === "action") {
        if (readOnly) return errorJson(403, "the dashboard is read-only")
        if (req.headers["x-sitq-action"] !== "1") return errorJson(403, "actions need the header x-sitq-action: 1")
      }
      return yield* handler
    })

  const api = (kind: "api" | "action", effect: Effect.Effect<HttpServerResponse.HttpServerResponse, BackendError, Backend | HttpServerRequest.HttpServerRequest | HttpRouter.RouteContext>): Handler =>
    guard(Effect.catchTag(effect, "BackendError", (e) => Effect.succeed(backendFailure(e))), kind)

  const idParam = Effect.map(HttpRouter.params, (p) => p["id"] ?? "")

  const index: Handler = guard(
    Effect.gen(function*() {
      const req = yield* HttpServerRequest.HttpServerRequest
      const path = originalPath(req)
      if (!path.endsWith("/")) return HttpServerResponse.redirect(`${path}/`, { status: 301 })
      return htmlPage(Assets.indexHtml, 200)
    }),
    "page"
  )

  const events: Handler = Effect.gen(function*() {
    const backend = yield* Backend
    const encoder = new TextEncoder()
    const pushed = Stream.unwrapScoped(Effect.map(backend.subscribe, (queue) => Stream.fromQueue(queue))).pipe(
      Stream.groupedWithin(1000, "250 millis"),
      Stream.map((chunk) => {
        const all = Chunk.toReadonlyArray(chunk)
        return {
          type: "changed",
          ready: all.filter((e) => e._tag === "Ready").length,
          finished: all.reduce((n, e) => n + (e._tag === "Finished" ? e.ids.length : 0), 0),
          cancelled: all.reduce((n, e) => n + (e._tag === "Cancelled" ? e.ids.length : 0), 0)
        }
      })
    )
    const ticks = Stream.map(Stream.tick(refresh), () => ({ type: "tick" }))
    const body = Stream.merge(pushed, ticks).pipe(
      Stream.map((msg) => encoder.encode(`data: ${JSON.stringify(msg)}\n\n`))
    )
    return HttpServerResponse.stream(body, {
      contentType: "text/event-stream",
      headers: { "cache-control": "no-store", "x-accel-buffering": "no" }
    })
  })

  return HttpRouter.empty.pipe(
    HttpRouter.get("/", index),
    HttpRouter.get("/app.js", guard(Effect.succeed(HttpServerResponse.text(Assets.appJs, { contentType: "text/javascript; charset=utf-8" })), "api")),
    HttpRouter.get("/app.css", guard(Effect.succeed(HttpServerResponse.text(Assets.appCss, { contentType: "text/css; charset=utf-8" })), "api")),
    HttpRouter.get("/api/config", guard(Effect.succeed(ok({ readOnly, statuses, finishedStatuses })), "api")),
    HttpRouter.get("/api/stats", api("api", Effect.map(overview(options), ok))),
    HttpRouter.get(
      "/api/tasks",
      api(
        "api",
        Effect.gen(function*() {
          const q = searchParams(yield* HttpServerRequest.HttpServerRequest)
          const status = q.get("status") ?? ""
          if (status !== "" && !isStatus(status)) return errorJson(400, `unknown status '${status}'`)
          const limit = Number(q.get("limit") ?? "50")
          if (!Number.isInteger(limit) || limit < 1 || limit > PAGE_MAX) {
            return errorJson(400, `limit must be an integer from 1 to ${PAGE_MAX}`)
          }
          const nonEmpty = (k: string) => {
            const v = q.get(k)
            return v === null || v === "" ? undefined : v
          }
          const result = yield* page(
            { status: status === "" ? undefined : status, name: nonEmpty("name"), queue: nonEmpty("queue") },
            limit,
            nonEmpty("after")
          )
          return ok(result)
        })
      )
    ),
    HttpRouter.get(
      "/api/tasks/:id",
      api(
        "api",
        Effect.gen(function*() {
          const backend = yield* Backend
          const id = yield* idParam
          const rec = yield* backend.get(id)
          return Option.match(rec, {
            onNone: () => errorJson(404, `no task ${id}`),
            onSome: (r) => ok(View.detail(r))
          })
        })
      )
    ),
    HttpRouter.post(
      "/api/tasks/:id/retry",
      api("action", Effect.gen(function*() {
        const backend = yield* Backend
        const result = yield* backend.retry(yield* idParam)
        return HttpServerResponse.unsafeJson({ result }, { status: result === "not_found" ? 404 : result === "requeued" ? 200 : 409 })
      }))
    ),
    HttpRouter.post(
      "/api/tasks/:id/cancel",
      api("action", Effect.gen(function*() {
        const backend = yield* Backend
        const result = yield* backend.cancel(yield* idParam)
        return HttpServerResponse.unsafeJson({ result }, { status: result === "not_found" ? 404 : result === "cancelled" ? 200 : 409 })
      }))
    ),
    HttpRouter.post(
      "/api/purge",
      api("action", Effect.gen(function*() {
        const backend = yield* Backend
        const body = yield* Effect.either(HttpServerRequest.schemaBodyJson(PurgeBody))
        if (body._tag === "Left") return errorJson(400, "body must be JSON: { olderThanMinutes?, statuses?, queue? }")
        const now = yield* Clock.currentTimeMillis
        const purged = yield* backend.purge({
          statuses: body.right.statuses,
          queue: body.right.queue,
          finishedBefore: body.right.olderThanMinutes === undefined ? undefined : now - body.right.olderThanMinutes * 60_000
        })
        return ok({ purged })
      }))
    ),
    HttpRouter.get("/api/events", guard(events, "api"))
  )
}

/**
 * The dashboard on an HTTP server of its own, for the layer's lifetime. Once listening it runs
 * `announce` with the address (default: an info log line).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { NodeRuntime } from "@effect/platform-node"
 * import * as Dashboard from "sitq/dashboard"
 * import { SqliteBackend } from "sitq/sqlite"
 *
 * Dashboard.layer({ port: 8080, readOnly: true }).pipe(
 *   Layer.provide(SqliteBackend.layer({ filename: "tasks.db" })),
 *   Layer.launch,
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: ServeOptions): Layer.Layer<never, HttpServerError.ServeError, Backend> =>
  HttpServer.serve(router(options)).pipe(
    Layer.merge(
      Layer.effectDiscard(
        HttpServer.addressFormattedWith((address) =>
          options.announce === undefined
            ? Effect.logInfo(`sitq dashboard listening on ${address}`)
            : options.announce(address)
        )
      )
    ),
    Layer.provide(
      NodeHttpServer.layer(() => Http.createServer(), { port: options.port, host: options.host ?? "127.0.0.1" })
    )
  )
