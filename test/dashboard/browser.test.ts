/**
 * The dashboard end to end in headless Chromium (Debian's `chromium`, driven by playwright-core):
 * on a seeded SQLite store, the token wall, the counts, a filtered list, a task page, a retry, and
 * read-only mode hiding the actions. With SITQ_SCREENSHOTS=1 it writes the screenshots of
 * docs/operations.md to docs/img/.
 *
 * Without /usr/bin/chromium the test fails in CI (CI=true) and is skipped elsewhere, saying why.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Option } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import type { Browser, Page } from "playwright-core"
import { Backend } from "../../src/Backend.js"
import { SqliteBackend } from "../../src/backends/sqlite.js"
import * as Dashboard from "../../src/dashboard/Dashboard.js"
import { Serializer } from "../../src/Serializer.js"
import { seed } from "../cli/seed.js"
import { serve } from "./server.js"

const CHROMIUM = "/usr/bin/chromium"
const available = Fs.existsSync(CHROMIUM)
const ci = process.env["CI"] === "true"
if (!available && !ci) {
  console.warn(`dashboard browser test SKIPPED: ${CHROMIUM} not found (install it: apt-get install -y chromium)`)
}
/** SITQ_SCREENSHOTS=1 writes the screenshots into docs/img/ (to refresh the docs); else a temp dir. */
const screenshots = process.env["SITQ_SCREENSHOTS"] === "1"
  ? Path.resolve(import.meta.dirname, "../../docs/img")
  : Fs.mkdtempSync(Path.join(Os.tmpdir(), "sitq-shots-"))

const launch = Effect.acquireRelease(
  Effect.promise(async (): Promise<Browser> => {
    const { chromium } = await import("playwright-core")
    return chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: 120_000,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync"
      ]
    })
  }),
  (browser) => Effect.promise(() => browser.close())
)

const newPage = (browser: Browser) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 860 } })
      page.setDefaultTimeout(60_000)
      return page
    }),
    (page) => Effect.promise(() => page.close())
  )

const step = <A>(f: () => Promise<A>) => Effect.promise(f)

const ready = (page: Page) => page.locator("body[data-ready='1']").waitFor()

describe.skipIf(!available && !ci)("dashboard in Chromium", () => {
  it.live("token wall, counts, filters, task page, retry, read-only", () =>
    Effect.scoped(Effect.gen(function*() {
      assert.isTrue(available, `${CHROMIUM} is missing: CI must install it (apt-get install -y chromium)`)
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "sitq-dash-"))),
        (d) => Effect.sync(() => Fs.rmSync(d, { recursive: true, force: true }))
      )
      const ctx = yield* Layer.build(SqliteBackend.layer({ filename: Path.join(dir, "tasks.db") }))
      const backend = Context.get(ctx, Backend)
      const seeded = yield* seed.pipe(Effect.provideService(Backend, backend), Effect.provide(Serializer.json))
      const base = yield* serve(Dashboard.router({ token: "let-me-in", refreshInterval: "2 seconds" }), backend)
      const readOnlyBase = yield* serve(Dashboard.router({ readOnly: true }), backend)
      const browser = yield* launch
      const page = yield* newPage(browser)

      // the token wall, then the token
      yield* step(() => page.goto(`${base}/`))
      yield* step(() => page.getByTestId("token-wall").waitFor())
      yield* step(() => page.screenshot({ path: Path.join(screenshots, "dashboard-token.png") }))
      yield* step(() => page.fill("#token", "wrong"))
      yield* step(() => Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]))
      assert.include(yield* step(() => page.textContent("body")), "not right")
      yield* step(() => page.fill("#token", "let-me-in"))
      yield* step(() => Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]))
      yield* step(() => ready(page))

      // counts per status and per queue, live
      yield* step(() => page.getByTestId("count-failed").filter({ hasText: "2" }).waitFor())
      assert.strictEqual((yield* step(() => page.getByTestId("count-success").textContent()))?.trim(), "3success")
      assert.strictEqual((yield* step(() => page.getByTestId("count-pending").textContent()))?.trim(), "3pending")
      const imagesRow = yield* step(() => page.locator("#queues tr[data-queue='images'] td").allTextContents())
      assert.deepStrictEqual(imagesRow, ["images", "0", "0", "0", "2", "0"])
      yield* step(() => page.locator("#live.on").waitFor())
      assert.isFalse(yield* step(() => page.locator("#readonly").isVisible()))
      assert.isTrue(yield* step(() => page.getByTestId("purge").isVisible()))
      assert.strictEqual(yield* step(() => page.locator("#throughput-sum").textContent()), "3 succeeded, 2 failed")
      assert.strictEqual(yield* step(() => page.getByTestId("task-row").count()), 9)
      yield* step(() => page.screenshot({ path: Path.join(screenshots, "dashboard-overview.png"), fullPage: true }))

      // filter the list
      yield* step(() => page.selectOption("#f-status", "failed"))
      yield* step(() => page.getByTestId("filter-apply").click())
      yield* step(() => page.locator("[data-testid='task-row'][data-status='success']").waitFor({ state: "detached" }))
      const statuses = yield* step(() =>
        page.getByTestId("task-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-status")))
      )
      assert.deepStrictEqual(statuses, ["failed", "failed"])

      // open a failed task
      const failed = seeded.failed[0]!
      yield* step(() => page.click(`a[href='#/task/${failed}']`))
      yield* step(() => page.getByTestId("task-page").waitFor())
      yield* step(() => page.getByTestId("traceback").waitFor())
      assert.include(yield* step(() => page.getByTestId("payload").textContent()), "https://img.example.com/1.png")
      assert.include(yield* step(() => page.getByTestId("error").textContent()), "Rejected: cannot decode")
      assert.include(yield* step(() => page.getByTestId("traceback").textContent()), "Rejected")
      const timeline = yield* step(() => page.locator("[data-testid='timeline'] li").allTextContents())
      assert.deepStrictEqual(timeline.map((t) => t.split(" ")[0]), ["enqueued", "started", "failed"])
      yield* step(() => page.screenshot({ path: Path.join(screenshots, "dashboard-task.png"), fullPage: true }))

      // retry it
      yield* step(() => page.locator("#task").getByTestId(`retry-${failed}`).click())
      yield* step(() => page.getByTestId("message").filter({ hasText: "requeued" }).waitFor())
      yield* step(() => page.locator("#task h2 .badge.pending").waitFor())
      assert.strictEqual(Option.getOrThrow(yield* backend.get(failed)).status, "pending")

      // read-only: the same store, actions hidden
      const ro = yield* newPage(browser)
      yield* step(() => ro.goto(`${readOnlyBase}/`))
      yield* step(() => ready(ro))
      assert.isTrue(yield* step(() => ro.locator("#readonly").isVisible()))
      yield* step(() => ro.getByTestId("task-row").first().waitFor())
      const other = seeded.failed[1]!
      assert.strictEqual(yield* step(() => ro.locator("#home").getByTestId(`retry-${other}`).count()), 1)
      assert.isFalse(yield* step(() => ro.locator("#home").getByTestId(`retry-${other}`).isVisible()))
      assert.isFalse(yield* step(() => ro.getByTestId("purge").isVisible()))
      yield* step(() => ro.goto(`${readOnlyBase}/#/task/${other}`))
      yield* step(() => ro.getByTestId("traceback").waitFor())
      assert.strictEqual(yield* step(() => ro.locator("#task").getByTestId(`retry-${other}`).count()), 1)
      assert.isFalse(yield* step(() => ro.locator("#task").getByTestId(`retry-${other}`).isVisible()))
    })), { timeout: 400_000 })
})
