/**
 * A mutable binary min-heap. Effect's `SortedSet`/`RedBlackTree` are immutable and allocate on
 * every insert; the memory backend's claim path wants O(log n) with no allocation beyond the
 * array, so it keeps this one small structure of its own.
 *
 * @internal
 */
export class Heap<A> {
  private readonly items: Array<A> = []

  constructor(private readonly lessThan: (a: A, b: A) => boolean) {}

  get size(): number {
    return this.items.length
  }

  peek(): A | undefined {
    return this.items[0]
  }

  push(item: A): void {
    const items = this.items
    items.push(item)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.lessThan(items[i]!, items[parent]!)) break
      const tmp = items[i]!
      items[i] = items[parent]!
      items[parent] = tmp
      i = parent
    }
  }

  pop(): A | undefined {
    const items = this.items
    if (items.length === 0) return undefined
    const top = items[0]
    const last = items.pop()!
    if (items.length > 0) {
      items[0] = last
      let i = 0
      const n = items.length
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < n && this.lessThan(items[l]!, items[m]!)) m = l
        if (r < n && this.lessThan(items[r]!, items[m]!)) m = r
        if (m === i) break
        const tmp = items[i]!
        items[i] = items[m]!
        items[m] = tmp
        i = m
      }
    }
    return top
  }
}
