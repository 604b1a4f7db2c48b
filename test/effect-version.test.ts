/**
 * sitq runs on the application's own `effect` (a peer dependency). On an `effect` outside the
 * supported line, building `TaskQueue` or a `Worker` dies at once with a message naming the
 * version found and the range to install, instead of failing later deep inside Effect.
 * `ModuleVersion.setCurrentVersion` stands in for a program that loaded another copy of effect.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, ModuleVersion, Option, Schema } from "effect"
import { readFileSync } from "node:fs"
import * as EffectVersion from "../src/internal/effectVersion.js"
import { MemoryBackend, Serializer, Task, TaskQueue, Worker } from "../src/index.js"
import { open } from "../src/promise.js"

const Ping = Task.make("ping", { payload: Schema.Struct({ n: Schema.Number }) })
const PingLive = Task.handler(Ping, () => Effect.void)

/** Runs `self` while sitq's `effect` module reports `version`. */
const onVersion = <A, E, R>(version: string, self: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const actual = ModuleVersion.getCurrentVersion()
      ModuleVersion.setCurrentVersion(version)
      return actual
    }),
    () => self,
    (actual) => Effect.sync(() => ModuleVersion.setCurrentVersion(actual))
  )

const defectMessage = <A, E>(exit: Exit.Exit<A, E>): string => {
  assert.isTrue(Exit.isFailure(exit), "expected the build to fail")
  if (Exit.isSuccess(exit)) return ""
  const defect = Cause.dieOption(exit.cause)
  assert.isTrue(Option.isSome(defect), `expected a defect, got ${Cause.pretty(exit.cause)}`)
  return Option.isSome(defect) && defect.value instanceof Error ? defect.value.message : String(defect)
}

const Deps = Layer.merge(MemoryBackend.layer, Serializer.json)

describe("Effect version", () => {
  it("the supported range is the one package.json declares for the effect peer", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))
    assert.strictEqual(pkg.peerDependencies.effect, EffectVersion.supported.range)
    assert.strictEqual(EffectVersion.mismatch(ModuleVersion.getCurrentVersion()), undefined)
  })

  it("accepts the 3.x line from 3.22 and refuses other majors and older minors", () => {
    assert.strictEqual(EffectVersion.mismatch("3.22.4"), undefined)
    assert.strictEqual(EffectVersion.mismatch("3.30.0"), undefined)
    for (const version of ["4.1.5", "4.0.0-beta.12", "2.4.19", "3.10.0", "garbage"]) {
      const message = EffectVersion.mismatch(version)
      assert.isDefined(message, version)
      assert.include(message, `running on effect ${version}`)
      assert.include(message, `npm install "effect@^3.22.4"`)
    }
  })

  it.effect("TaskQueue.layer dies with the clear message on effect 4", () =>
    Effect.gen(function*() {
      const exit = yield* onVersion("4.1.5", Effect.exit(Layer.build(TaskQueue.layer.pipe(Layer.provide(Deps))).pipe(Effect.scoped)))
      const message = defectMessage(exit)
      assert.include(message, "sitq needs effect ^3.22.4")
      assert.include(message, "running on effect 4.1.5")
    }))

  it.effect("Worker.layer dies with the clear message on an older 3.x", () =>
    Effect.gen(function*() {
      const exit = yield* onVersion(
        "3.10.0",
        Effect.exit(Layer.build(Worker.layer({ handlers: [PingLive] }).pipe(Layer.provide(Deps))).pipe(Effect.scoped))
      )
      assert.include(defectMessage(exit), "running on effect 3.10.0")
    }))

  it.effect("the same layers build on the supported version", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Layer.build(Worker.layer({ handlers: [PingLive] }).pipe(Layer.provideMerge(TaskQueue.layer), Layer.provide(Deps))).pipe(
          Effect.scoped
        )
      )
      assert.isTrue(Exit.isSuccess(exit))
    }))

  it.live("the Promise client's open rejects with the message", () =>
    onVersion(
      "4.1.5",
      Effect.promise(() => open({ backend: MemoryBackend.layer }).then(() => "opened", (e: unknown) => String(e)))
    ).pipe(Effect.map((outcome) => assert.include(outcome, "sitq needs effect ^3.22.4"))))
})
