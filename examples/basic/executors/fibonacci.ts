/**
 * The code of example 06's task: a plain, synchronous, CPU-bound function. It knows nothing of
 * sitq or Effect; a process pool imports this module by URL in each child and calls it with the
 * task's encoded payload.
 */
const fib = (n: number): number => (n < 2 ? n : fib(n - 1) + fib(n - 2))

export const fibonacci = ({ n }: { n: number }): number => fib(n)
