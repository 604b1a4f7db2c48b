/**
 * Claim order and settle rounds, as every backend applies them.
 *
 * @internal
 */

/**
 * The claim order (priority desc, then runAt asc, then enqueue order) as a comparator over
 * anything that carries those three numbers.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const claimOrder = <A>(key: (a: A) => readonly [priority: number, runAt: number, seq: number]) => (a: A, b: A): number => {
  const [pa, ra, sa] = key(a)
  const [pb, rb, sb] = key(b)
  return pb - pa || ra - rb || sa - sb
}

/**
 * Splits a batch into rounds in which each id appears at most once, keeping the batch's order:
 * the second outcome for one task goes to the next round, so that a set-based statement applies
 * outcomes as if one by one (the first is fenced in, the later ones are refused). Returns indexes.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const rounds = <A>(items: ReadonlyArray<A>, id: (a: A) => string): Array<Array<number>> => {
  const out: Array<Array<number>> = []
  const seen = new Map<string, number>()
  items.forEach((item, i) => {
    const key = id(item)
    const round = seen.get(key) ?? 0
    seen.set(key, round + 1)
    if (out[round] === undefined) out[round] = []
    out[round].push(i)
  })
  return out
}
