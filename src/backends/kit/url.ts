/**
 * The check of a server URL at layer build, shared by the server backends: a URL that does not
 * parse, or of another scheme (`postgress://`, `http://` for Redis), fails the layer at once with a
 * clear `BackendError` instead of a driver's late or silent misreading. The message never repeats
 * the URL itself (it may hold a password).
 *
 * @internal
 */
import { Effect } from "effect"
import { BackendError } from "../../Errors.js"

/**
 * Succeeds when `url` parses and its scheme is one of `schemes` (e.g. `["postgres:", "postgresql:"]`).
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const checkUrl = (
  backend: string,
  url: string,
  schemes: ReadonlyArray<string>
): Effect.Effect<void, BackendError> => {
  const expected = schemes.map((s) => `${s}//`).join(" or ")
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*:)/.exec(url)?.[1]?.toLowerCase()
  if (scheme === undefined || !URL.canParse(url)) {
    return Effect.fail(
      new BackendError({ reason: "Connect", message: `${backend}: the server URL is not a URL; expected ${expected}...` })
    )
  }
  return schemes.includes(scheme)
    ? Effect.void
    : Effect.fail(
      new BackendError({
        reason: "Connect",
        message: `${backend}: the server URL has scheme ${JSON.stringify(scheme)}; expected ${expected}...`
      })
    )
}
