/**
 * The dashboard over HTTP, on a seeded in-memory store: counts, finishes per minute, the task list
 * with filters and paging, the task page, actions, read-only mode, token authentication, the live
 * stream, and mounting in an application's own router.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { Backend } from "../../src/Backend.js"
import * as MemoryBackend from "../../src/backends/memory.js"
import * as Dashboard from "../../src/dashboard/Dashboard.js"
import { Serializer } from "../../src/Serializer.js"
import * as TaskQueue from "../../src/TaskQueue.js"
import { seed, seededStats, SendEmail } from "../cli/seed.js"
import { mounted, serve } from "./server.js"

const setup = (options: Dashboard.DashboardOptions = {}) =>
  Effect.gen(function*() {
    const backend = yield* MemoryBackend.make()
    const seeded = yield* seed.pipe(
      Effect.provideService(Backend, backend),
      Effect.provide(Serializer.json)
    )
    const base = yield* serve(Dashboard.router(options), backend)
    return { backend, seeded, base }
  })

const get = (url: string, init: RequestInit = {}) =>
  Effect.promise(async () => {
    const r = await fetch(url, { redirect: "manual", ...init })
    const text = await r.text()
    return { status: r.status, headers: r.headers, text, json: (): any => JSON.parse(text) }
  })

const post = (url: string, body: unknown = {}, headers: Record<string, string> = { "x-sitq-action": "1" }) =>
  get(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) })

describe("dashboard HTTP", () => {
  it.live("counts per queue and status, and finishes per minute", () =>
    Effect.scoped(Effect.gen(function*() {
      const { base } = yield* setup({ queues: ["reports"] })
      const r = yield* get(`${base}/api/stats`)
      assert.strictEqual(r.status, 200)
      const s = r.json()
      assert.deepStrictEqual(s.total, seededStats)
      assert.deepStrictEqual(s.queues.map((q: { queue: string }) => q.queue), ["default", "emails", "images", "reports"])
      assert.deepStrictEqual(s.queues.find((q: { queue: string }) => q.queue === "emails").counts, {
        pending: 2, in_progress: 0, success: 3, failed: 0, cancelled: 1
      })
      const sum = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0)
      assert.strictEqual(s.throughput.success.length, 15)
      assert.strictEqual(sum(s.throughput.success), 3)
      assert.strictEqual(sum(s.throughput.failed), 2)
    })))

  it.live("lists tasks with filters and pages through them without gaps or repeats", () =>
    Effect.scoped(Effect.gen(function*() {
      const { base, seeded } = yield* setup()
      const failed = (yield* get(`${base}/api/tasks?status=failed`)).json()
      assert.deepStrictEqual(failed.tasks.map((t: { id: string }) => t.id).sort(), [...seeded.failed].sort())
      assert.strictEqual(failed.next, null)
      const named = (yield* get(`${base}/api/tasks?name=send_email&queue=emails`)).json()
      assert.strictEqual(named.tasks.length, 6)

      const seen: Array<string> = []
      let after: string | null = null
      let pages = 0
      do {
        const q: string = after === null ? "" : `&after=${after}`
        const p = (yield* get(`${base}/api/tasks?limit=4${q}`)).json()
        seen.push(...p.tasks.map((t: { id: string }) => t.id))
        after = p.next
        pages++
      } while (after !== null && pages < 10)
      assert.strictEqual(pages, 3)
      assert.strictEqual(seen.length, 9)
      assert.strictEqual(new Set(seen).size, 9)
      const all = (yield* get(`${base}/api/tasks?limit=100`)).json()
      assert.deepStrictEqual(seen, all.tasks.map((t: { id: string }) => t.id))

      // the previous page's last task left the filter (retried): the next page starts past it
      const first = (yield* get(`${base}/api/tasks?status=failed&limit=1`)).json()
      assert.strictEqual(first.tasks.length, 1)
      assert.strictEqual(first.next, first.tasks[0].id)
      assert.deepStrictEqual((yield* post(`${base}/api/tasks/${first.next}/retry`)).json(), { result: "requeued" })
      const second = (yield* get(`${base}/api/tasks?status=failed&limit=1&after=${first.next}`)).json()
      assert.deepStrictEqual(second.tasks.map((t: { id: string }) => t.id), seeded.failed.filter((id) => id !== first.next))
      assert.strictEqual(second.next, null)

      assert.strictEqual((yield* get(`${base}/api/tasks?status=done`)).status, 400)
      assert.strictEqual((yield* get(`${base}/api/tasks?limit=0`)).status, 400)
    })))

  it.live("shows one task: payload, error, traceback, timeline; 404 for an unknown id", () =>
    Effect.scoped(Effect.gen(function*() {
      const { base, seeded } = yield* setup()
      const d = (yield* get(`${base}/api/tasks/${seeded.failed[0]}`)).json()
      assert.strictEqual(d.status, "failed")
      assert.deepStrictEqual(d.payload, { encoding: "json", value: { url: "https://img.example.com/1.png", width: 640 } })
      assert.deepStrictEqual(d.error, { tag: "Rejected", message: "cannot decode https://img.example.com/1.png" })
      assert.match(d.traceback, /Rejected: cannot decode/)
      assert.deepStrictEqual(d.timeline.map((e: { event: string }) => e.event), ["enqueued", "started", "failed"])
      const b = (yield* get(`${base}/api/tasks/${seeded.binary}`)).json()
      assert.deepStrictEqual(b.payload, { encoding: "base64", value: "/wCBfw==" })
      assert.strictEqual((yield* get(`${base}/api/tasks/nope`)).status, 404)
    })))

  it.live("retries, cancels and purges; actions need the x-sitq-action header", () =>
    Effect.scoped(Effect.gen(function*() {
      const { base, seeded, backend } = yield* setup()
      const failed = seeded.failed[0]!
      assert.strictEqual((yield* post(`${base}/api/tasks/${failed}/retry`, {}, {})).status, 403)
      const r = yield* post(`${base}/api/tasks/${failed}/retry`)
      assert.strictEqual(r.status, 200)
      assert.deepStrictEqual(r.json(), { result: "requeued" })
      assert.strictEqual(Option.getOrThrow(yield* backend.get(failed)).status, "pending")
      const again = yield* post(`${base}/api/tasks/${failed}/retry`)
      assert.strictEqual(again.status, 409)
      assert.deepStrictEqual(again.json(), { result: "not_finished" })
      assert.deepStrictEqual((yield* post(`${base}/api/tasks/${seeded.pending[0]}/cancel`)).json(), { result: "cancelled" })
      assert.strictEqual((yield* post(`${base}/api/tasks/nope/cancel`)).status, 404)
      assert.strictEqual((yield* post(`${base}/api/purge`, { olderThanMinutes: -1 })).status, 400)
      // nothing finished more than an hour ago
      assert.deepStrictEqual((yield* post(`${base}/api/purge`, { olderThanMinutes: 60 })).json(), { purged: 0 })
      assert.deepStrictEqual((yield* post(`${base}/api/purge`, { statuses: ["cancelled"] })).json(), { purged: 2 })
      assert.deepStrictEqual(yield* backend.stats(), { pending: 3, in_progress: 0, success: 3, failed: 1, cancelled: 0 })
    })))

  it.live("read-only mode refuses actions with 403 and says so in its config", () =>
    Effect.scoped(Effect.gen(function*() {
      const { base, seeded, backend } = yield* setup({ readOnly: true })
      assert.deepStrictEqual((yield* get(`${base}/api/config`)).json().readOnly, true)
      const r = yield* post(`${base}/api/tasks/${seeded.failed[0]}/retry`)
      assert.strictEqual(r.status, 403)
      assert.match(r.json().error, /read-only/)
      assert.strictEqual((yield* post(`${base}/api/tasks/${seeded.pending[0]}/cancel`)).status, 403)
      assert.strictEqual((yield* post(`${base}/api/purge`, {})).status, 403)
      assert.deepStrictEqual(yield* backend.stats(), seededStats)
      assert.strictEqual((yield* get(`${base}/api/stats`)).status, 200)
    })))

  it.live("a token is needed: bearer header, or ?token= once and then the cookie", () =>
    Effect.scoped(Effect.gen(function*() {
      const { base } = yield* setup({ token: "s3cret-token" })
      assert.strictEqual((yield* get(`${base}/api/stats`)).status, 401)
      const wall = yield* get(`${base}/`)
      assert.strictEqual(wall.status, 401)
      assert.match(wall.text, /needs a token/)
      assert.strictEqual((yield* get(`${base}/app.js`)).status, 401)
      assert.strictEqual((yield* get(`${base}/api/stats`, { headers: { authorization: "Bearer wrong" } })).status, 401)
      assert.strictEqual((yield* get(`${base}/api/stats`, { headers: { authorization: "Bearer s3cret-token" } })).status, 200)
      const wrong = yield* get(`${base}/?token=nope`)
      assert.strictEqual(wrong.status, 401)
      assert.match(wrong.text, /not right/)
      const login = yield* get(`${base}/?token=s3cret-token`)
      assert.strictEqual(login.status, 303)
      assert.strictEqual(login.headers.get("location"), "/")
      const cookie = login.headers.get("set-cookie") ?? ""
      assert.match(cookie, /HttpOnly/)
      assert.match(cookie, /SameSite=Strict/)
      assert.notInclude(cookie, "s3cret-token")
      const pair = cookie.split(";")[0]!
      assert.strictEqual((yield* get(`${base}/`, { headers: { cookie: pair } })).status, 200)
      assert.strictEqual((yield* get(`${base}/api/stats`, { headers: { cookie: pair } })).status, 200)
      assert.strictEqual((yield* get(`${base}/api/stats`, { headers: { cookie: `${pair}x` } })).status, 401)
    })))

  it.live("an empty token locks the dashboard instead of opening it", () =>
    Effect.scoped(Effect.gen(function*() {
      const { base } = yield* setup({ token: "" })
      assert.strictEqual((yield* get(`${base}/api/stats`)).status, 401)
      assert.strictEqual((yield* get(`${base}/api/stats`, { headers: { authorization: "Bearer " } })).status, 401)
      assert.strictEqual((yield* get(`${base}/?token=`)).status, 401)
    })))

  it.live("the live stream pushes a change when a task is enqueued", () =>
    Effect.scoped(Effect.gen(function*() {
      const { base, backend } = yield* setup({ refreshInterval: "1 hour" })
      const controller = new AbortController()
      yield* Effect.addFinalizer(() => Effect.sync(() => controller.abort()))
      const res = yield* Effect.promise(() => fetch(`${base}/api/events`, { signal: controller.signal }))
      assert.strictEqual(res.headers.get("content-type"), "text/event-stream")
      const reader = res.body!.getReader()
      const decoder = new TextDecoder()
      let text = ""
      const readUntil = (needle: string) =>
        Effect.promise(async () => {
          while (!text.includes(needle)) {
            const chunk = await reader.read()
            if (chunk.done) break
            text += decoder.decode(chunk.value)
          }
          return text
        })
      yield* readUntil(`"type":"tick"`)
      const queue = yield* TaskQueue.make().pipe(
        Effect.provideService(Backend, backend),
        Effect.provide(Serializer.json)
      )
      yield* queue.enqueue(SendEmail, { to: "zed@example.com", subject: "Live" })
      const all = yield* readUntil(`"type":"changed"`).pipe(Effect.timeout("20 seconds"))
      assert.match(all, /data: \{"type":"changed","ready":1/)
    })))

  it.live("mounts under a path in the application's own router", () =>
    Effect.scoped(Effect.gen(function*() {
      const backend = yield* MemoryBackend.make()
      const base = yield* serve(mounted(Dashboard.router({ token: "t" })), backend)
      assert.strictEqual((yield* get(`${base}/health`)).text, "ok")
      const bare = yield* get(`${base}/sitq?token=t`)
      assert.strictEqual(bare.status, 303)
      assert.match(bare.headers.get("set-cookie") ?? "", /Path=\/sitq\//)
      const pair = (bare.headers.get("set-cookie") ?? "").split(";")[0]!
      const redirect = yield* get(`${base}/sitq`, { headers: { cookie: pair } })
      assert.strictEqual(redirect.status, 301)
      assert.strictEqual(redirect.headers.get("location"), "/sitq/")
      const page = yield* get(`${base}/sitq/`, { headers: { cookie: pair } })
      assert.strictEqual(page.status, 200)
      assert.match(page.text, /src="app.js"/)
      const stats = yield* get(`${base}/sitq/api/stats`, { headers: { cookie: pair } })
      assert.deepStrictEqual(stats.json().total, { pending: 0, in_progress: 0, success: 0, failed: 0, cancelled: 0 })
    })))
})


