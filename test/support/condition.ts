/**
 * An event wait for state that callbacks change (frames a transport delivers, a
 * stream's data, a hook the server calls): the code that changes the state calls
 * `changed()`, and `when(check)` resolves at the first change after which `check`
 * holds. Nothing polls; the bound fires only when the awaited change never comes
 * (real peers on a busy 2-core machine: keep it generous).
 */
export interface Condition {
  /** Re-check every pending `when`: call it after each change of the watched state. */
  readonly changed: () => void
  /** Resolves once `check` holds (now or after a `changed()`); rejects after `timeoutMs`. */
  readonly when: (check: () => boolean, what: string, timeoutMs?: number) => Promise<void>
}

const holds = (check: () => boolean): boolean => {
  try {
    return check()
  } catch {
    return false
  }
}

export const condition = (): Condition => {
  const pending = new Set<() => void>()
  return {
    changed: () => {
      for (const look of [...pending]) look()
    },
    when: (check, what, timeoutMs = 20_000) =>
      new Promise<void>((resolve, reject) => {
        if (check()) return resolve()
        const look = () => {
          // A change can arrive mid-step (an actor still initializing cannot be read yet): not there yet.
          if (!holds(check)) return
          pending.delete(look)
          clearTimeout(bound)
          resolve()
        }
        const bound = setTimeout(() => {
          pending.delete(look)
          reject(new Error(`timed out waiting for ${what}`))
        }, timeoutMs)
        pending.add(look)
      })
  }
}

/**
 * Resolves once `check` holds, re-checked at each event `subscribe` delivers (a
 * session's `subscribe`, which fires on every chart step and in-flight edge; a
 * registry's changes): an event wait on state that has its own change feed.
 */
export const whenChanged = (
  subscribe: (listener: () => void) => () => void,
  check: () => boolean,
  what: string,
  timeoutMs?: number
): Promise<void> => {
  const { changed, when } = condition()
  const off = subscribe(changed)
  return when(check, what, timeoutMs).finally(off)
}

/** Resolves once `check` holds for `actor`'s snapshot, re-checked at each of its snapshots (an xstate actor's own feed). */
export const chartReaches = <S>(
  actor: { getSnapshot(): S; subscribe(observer: { next: () => void; error: () => void; complete: () => void }): { unsubscribe(): void } },
  check: (snapshot: S) => boolean,
  what: string,
  timeoutMs?: number
): Promise<void> =>
  whenChanged((l) => {
    const sub = actor.subscribe({ next: l, error: l, complete: l })
    return () => sub.unsubscribe()
  }, () => check(actor.getSnapshot()), what, timeoutMs)
