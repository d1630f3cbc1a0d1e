/**
 * The one polling helper of the test suite, for conditions that depend on a
 * real peer (a process, a socket, a server on a port) and so cannot be driven
 * on virtual time. Timer logic belongs on a simulated or Effect test clock.
 *
 * - {@link waitFor}: poll `predicate` every `stepMs` of real time until it
 *   holds; fail with `what` after `timeoutMs`.
 * - {@link settles}: the same, but resolve to whether it held (no throw).
 * - {@link waitForTurns}: poll on event-loop turns instead of time, for
 *   in-memory effects that are a few promise/IO turns away (no real time).
 */
export interface WaitOptions {
  /** Give up after this long (real time). Default 2000 ms. */
  readonly timeoutMs?: number
  /** Poll period. Default 5 ms. */
  readonly stepMs?: number
  /** What is awaited, for the failure message. */
  readonly what?: string
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Whether `predicate` came to hold within `timeoutMs` (polled every `stepMs`). */
export const settles = async (predicate: () => boolean | Promise<boolean>, options: WaitOptions = {}): Promise<boolean> => {
  const deadline = Date.now() + (options.timeoutMs ?? 2_000)
  while (!(await predicate())) {
    if (Date.now() > deadline) return predicate()
    await pause(options.stepMs ?? 5)
  }
  return true
}

/** Resolve once `predicate` holds; reject with "timed out waiting for <what>" after `timeoutMs`. */
export const waitFor = async (predicate: () => boolean | Promise<boolean>, options: WaitOptions = {}): Promise<void> => {
  if (!(await settles(predicate, options))) throw new Error(`timed out waiting for ${options.what ?? "condition"}`)
}

/** Resolve once `predicate` holds, checking after each event-loop turn (at most `turns`); no real time involved. */
export const waitForTurns = async (predicate: () => boolean, what = "condition", turns = 10_000): Promise<void> => {
  for (let i = 0; i < turns; i++) {
    if (predicate()) return
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
  throw new Error(`never happened: ${what}`)
}
