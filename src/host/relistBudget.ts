/**
 * How often the host lists one server again after its `notifications/*\/list_changed`.
 * A server may send those in a tight loop (one after each `tools/list` it answers):
 * every listing is a round trip of up to 100 pages, a hash and a catalog rebuild, so the
 * host starts at most `burst` listings of one server within any `windowMs`. Ordinary
 * changes stay immediate; a flood is deferred and folded into one listing at a time.
 * Pure: the caller keeps the start times and runs the timer (ServerConnection).
 */

/** At most this many listings of one server start within {@link RELIST_WINDOW_MS}. */
export const RELIST_BURST = 4
/** The window of {@link RELIST_BURST}, on the host's clock. */
export const RELIST_WINDOW_MS = 1_000

/**
 * How long to wait before the next listing may start (0: now), given the start times of
 * the latest listings (oldest first, at most `burst` kept).
 */
export const relistDelay = (starts: ReadonlyArray<number>, now: number, burst = RELIST_BURST, windowMs = RELIST_WINDOW_MS): number => {
  if (starts.length < burst) return 0
  const oldest = starts[starts.length - burst]!
  return Math.max(0, oldest + windowMs - now)
}

/** The start times to keep after a listing starts at `now`: the latest `burst`. */
export const recordStart = (starts: ReadonlyArray<number>, now: number, burst = RELIST_BURST): ReadonlyArray<number> =>
  [...starts, now].slice(-burst)
