/**
 * Checks of user-given options, done by the client and the worker before any backend is touched,
 * so that a mistake is the same typed `InvalidOptions` on every backend. `Duration.decode` clamps
 * negative and NaN inputs to zero, so durations are checked on the raw input first.
 *
 * @internal
 */
import { Duration, Effect, Option } from "effect"
import { InvalidOptions } from "../Errors.js"

/** The smallest and largest priority every backend stores (a 32-bit integer). @internal */
export const priorityRange = { min: -2_147_483_648, max: 2_147_483_647 } as const

/** The largest epoch milliseconds a `Date` can hold. @internal */
const maxEpochMillis = 8.64e15

/** @internal */
export const invalid = (option: string, message: string): Effect.Effect<never, InvalidOptions> =>
  Effect.fail(new InvalidOptions({ option, message: `${option}: ${message}` }))

const show = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value)
  if (typeof value === "bigint") return `${value}n`
  if (Array.isArray(value)) return `[${value.map(show).join(", ")}]`
  return String(value)
}

/** Whether a raw duration input is negative or not a number (before `Duration.decode` clamps it). */
const isNegativeOrNaN = (input: unknown): boolean => {
  if (typeof input === "number") return Number.isNaN(input) || input < 0
  if (typeof input === "bigint") return input < 0n
  if (typeof input === "string") return /^\s*-/.test(input) || /\bNaN\b/.test(input)
  if (Array.isArray(input)) return input.some(isNegativeOrNaN)
  return false
}

/**
 * A duration option: a valid, non-negative, finite duration (or, with `positive`, greater than
 * zero).
 *
 * @internal
 */
export const duration = (
  option: string,
  input: Duration.DurationInput,
  check: { readonly positive?: boolean } = {}
): Effect.Effect<Duration.Duration, InvalidOptions> => {
  if (isNegativeOrNaN(input)) return invalid(option, `${show(input)} is negative or not a number`)
  return Option.match(Duration.decodeUnknown(input), {
    onNone: () => invalid(option, `${show(input)} is not a duration`),
    onSome: (d) =>
      !Duration.isFinite(d)
        ? invalid(option, `${show(input)} is not finite`)
        : check.positive === true && Duration.toMillis(d) <= 0
        ? invalid(option, `${show(input)} must be greater than zero`)
        : Effect.succeed(d)
  })
}

/** A count option: an integer of at least 1. @internal */
export const positiveInt = (option: string, value: number): Effect.Effect<number, InvalidOptions> =>
  Number.isSafeInteger(value) && value >= 1
    ? Effect.succeed(value)
    : invalid(option, `${show(value)} must be an integer of at least 1`)

/** A count option that may be zero: an integer of at least 0. @internal */
export const nonNegativeInt = (option: string, value: number): Effect.Effect<number, InvalidOptions> =>
  Number.isSafeInteger(value) && value >= 0
    ? Effect.succeed(value)
    : invalid(option, `${show(value)} must be an integer of at least 0`)

/** A priority: an integer every backend can store. @internal */
export const priority = (option: string, value: number): Effect.Effect<number, InvalidOptions> =>
  Number.isInteger(value) && value >= priorityRange.min && value <= priorityRange.max
    ? Effect.succeed(value)
    : invalid(option, `${show(value)} must be an integer from ${priorityRange.min} to ${priorityRange.max}`)

/** An eta: a valid `Date`, or epoch milliseconds a `Date` can hold. @internal */
export const eta = (option: string, value: Date | number): Effect.Effect<number, InvalidOptions> => {
  const millis = typeof value === "number" ? value : value.getTime()
  return Number.isFinite(millis) && Math.abs(millis) <= maxEpochMillis
    ? Effect.succeed(millis)
    : invalid(option, typeof value === "number" ? `${show(value)} is not a time` : "an invalid Date")
}

/** A name (of a queue): a non-empty string. @internal */
export const name = (option: string, value: string): Effect.Effect<string, InvalidOptions> =>
  typeof value === "string" && value.length > 0 ? Effect.succeed(value) : invalid(option, "must be a non-empty string")
