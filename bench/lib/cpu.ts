/**
 * The functions the executors bench runs in pool threads and children: plain, synchronous, and
 * free of sitq and Effect (compiled to `bench/.dist/bench/lib/cpu.js`).
 */
export const fib = (n: number): number => (n < 2 ? n : fib(n - 1) + fib(n - 2))

export const fibonacci = ({ n }: { n: number }): number => fib(n)

export const noop = (): null => null
