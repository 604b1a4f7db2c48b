/**
 * The Effect line sitq is built for, and the check that it is the one running. `effect` is a peer
 * dependency: sitq uses the application's own copy. A copy of another major version (or an older
 * 3.x than the peer range allows) would fail far from the cause (the issue that brought this in
 * saw `Cannot convert undefined or null to object` deep in SchemaAST on the first enqueue), so
 * `TaskQueue` and `Worker` check the version of the `effect` module sitq is linked to as they are
 * built, and die at once with a message that says what to install.
 *
 * @internal
 */
import { Effect, ModuleVersion } from "effect"

/** The peer range of `effect` in package.json, and the oldest 3.x minor it allows. */
export const supported = { range: "^3.22.4", major: 3, minor: 22 } as const

/** Why `version` cannot run sitq, or undefined when it can. */
export const mismatch = (version: string): string | undefined => {
  const m = /^(\d+)\.(\d+)\./.exec(version)
  const major = m === null ? Number.NaN : Number(m[1])
  const minor = m === null ? Number.NaN : Number(m[2])
  if (major === supported.major && minor >= supported.minor) return undefined
  return `sitq needs effect ${supported.range} (the Effect ${supported.major}.x line) but is running on effect ${version}. ` +
    `Install a matching version next to sitq (npm install "effect@${supported.range}") with the @effect/* packages ` +
    `of the same line (sitq's peerDependencies list their ranges), and make sure the program loads a single copy of effect.`
}

/** Dies with {@link mismatch}'s message when the `effect` module sitq runs on is not supported. */
export const check: Effect.Effect<void> = Effect.suspend(() => {
  const problem = mismatch(ModuleVersion.getCurrentVersion())
  return problem === undefined ? Effect.void : Effect.dieMessage(problem)
})
