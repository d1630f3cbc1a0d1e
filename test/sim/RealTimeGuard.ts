/**
 * The audit that keeps the simulation honest: while a run is in progress,
 * every `setTimeout`, `setInterval` and `Date.now` called directly from the
 * runtime's own code (`src/`, `machines/`) is reported with its call site.
 * A real timer there would make the run depend on wall time, so it is a
 * violation; a wall-clock read is reported (the session's informational
 * `startedAt`), not failed. Calls from libraries (Effect's scheduler, the
 * TestClock's own warnings) and from the harness are not the runtime's.
 */
export type RealTimeApi = "setTimeout" | "setInterval" | "Date.now"

const callerSite = (): string | undefined => {
  // [0] "Error", [1] callerSite, [2] the wrapper, [3] whoever called the wrapper.
  const frame = new Error().stack?.split("\n")[3]
  if (frame === undefined || frame.includes("node_modules")) return undefined
  const match = /\/((?:src|machines)\/[^\s)]+):\d+\)?$/.exec(frame) ?? /\/((?:src|machines)\/[^\s)]+)\)?$/.exec(frame)
  return match?.[1]
}

/** Install the guard; returns the function that removes it. One guard at a time. */
export const guardRealTime = (onUse: (api: RealTimeApi, site: string) => void): () => void => {
  const original = { setTimeout: globalThis.setTimeout, setInterval: globalThis.setInterval, now: Date.now }
  const wrap = <F extends (...args: Array<any>) => any>(api: RealTimeApi, f: F): F =>
    function(this: unknown, ...args: Array<any>) {
      const site = callerSite()
      if (site !== undefined) onUse(api, site)
      return f.apply(this, args)
    } as F
  globalThis.setTimeout = wrap("setTimeout", original.setTimeout)
  globalThis.setInterval = wrap("setInterval", original.setInterval)
  Date.now = wrap("Date.now", original.now)
  return () => {
    globalThis.setTimeout = original.setTimeout
    globalThis.setInterval = original.setInterval
    Date.now = original.now
  }
}
