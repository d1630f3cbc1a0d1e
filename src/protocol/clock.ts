/**
 * The one clock type of mcp-actors: what every timer and every "now" in the
 * runtime goes through (session `after` delays, request deadlines, HTTP and
 * SSE keep-alives, the WebSocket heartbeat, the stdio kill grace, reconnect
 * backoff, the coarse session clock).
 *
 * It is xstate's clock (`{ setTimeout, clearTimeout }`, so it can be passed to
 * `createActor` as is) plus `now()`, so a deadline and the timer that enforces
 * it read the same time. Implementations:
 * - {@link systemClock}: the host's timers and `Date.now` (the default);
 * - `makeEffectClock` (src/runtime/XStateClock.ts): fibers sleeping on Effect's
 *   `Clock`, so `TestClock.adjust` drives it; the one to use inside a `Scope`;
 * - `makeCoarseClock` (src/runtime/CoarseClock.ts): buckets long timers of
 *   many sessions onto one timer of any other clock (an optimisation, not a
 *   time source);
 * - xstate's `SimulatedClock` satisfies the interface too (chart unit tests).
 *
 * It lives in `src/protocol` because every layer takes one (transports
 * included); `systemClock` is the single place that touches the host timers.
 *
 * @since 0.1.0
 */

/** A source of time and timers. Handles are opaque: pass them back to the same clock. */
export interface Clock {
  /** Milliseconds since the epoch (or since the simulation began), on this clock. */
  now(): number
  setTimeout(fn: (...args: Array<any>) => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

/**
 * The host's timers and wall clock. Timers stay ref'd (a pending keepalive must
 * keep the process alive); see {@link unrefTimer} for the ones that must not.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn: (...args: Array<any>) => void, ms: number) => setTimeout(fn, ms),
  clearTimeout: (handle: ReturnType<typeof setTimeout> | undefined) => clearTimeout(handle)
}

/**
 * Let a timer of the system clock not keep the process alive (server-wide
 * sweeps and keep-alives: the sockets they serve do that). A no-op for the
 * handles of virtual clocks, which have no `unref`.
 */
export const unrefTimer = <H>(handle: H): H => {
  const h = handle as { unref?: () => unknown } | null | undefined
  if (h !== null && typeof h === "object" && typeof h.unref === "function") h.unref()
  return handle
}

/**
 * Run `fn` every `ms` on `clock` until the returned function is called
 * (`setInterval` on any clock: each tick schedules the next one).
 */
export const every = (clock: Clock, ms: number, fn: () => void, options: { readonly unref?: boolean } = {}): () => void => {
  let handle: unknown
  let stopped = false
  const arm = () => {
    handle = clock.setTimeout(tick, ms)
    if (options.unref === true) unrefTimer(handle)
  }
  const tick = () => {
    if (stopped) return
    arm()
    fn()
  }
  arm()
  return () => {
    if (stopped) return
    stopped = true
    clock.clearTimeout(handle)
  }
}

/**
 * Resolve after `ms` on `clock`: true when the time passed, false when `signal`
 * aborted first (the timer is then cleared).
 */
export const sleepOn = (clock: Clock, ms: number, signal?: AbortSignal): Promise<boolean> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve(false)
    const onAbort = () => {
      clock.clearTimeout(handle)
      resolve(false)
    }
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort)
      resolve(true)
    }, Math.max(0, ms))
    signal?.addEventListener("abort", onAbort, { once: true })
  })

/**
 * The {@link Clock} behind an option typed as xstate's timers-only clock: the
 * clock itself when it has `now()` (ours, xstate's `SimulatedClock`), its
 * timers with the system time otherwise, the system clock when absent.
 */
export const clockOf = (clock: Pick<Clock, "setTimeout" | "clearTimeout"> | undefined): Clock =>
  clock === undefined
    ? systemClock
    : typeof (clock as Partial<Clock>).now === "function"
    ? (clock as Clock)
    : { now: systemClock.now, setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (h) => clock.clearTimeout(h) }
