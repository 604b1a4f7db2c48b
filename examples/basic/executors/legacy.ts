/**
 * The code of example 07's tasks: synchronous functions that block their thread, the way a
 * synchronous driver or SDK call does. A thread pool imports this module in each thread.
 */
import { scryptSync } from "node:crypto"

/** Blocks the calling thread for `millis` (a stand-in for a synchronous network or disk call). */
export const lookup = ({ key, millis }: { key: string; millis: number }): string => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, millis)
  return `${key}=${key.length}`
}

/** A password hash: synchronous and CPU-heavy. */
export const hash = ({ password }: { password: string }): string =>
  scryptSync(password, "sitq-example-salt", 32).toString("hex").slice(0, 16)
