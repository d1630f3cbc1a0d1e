/**
 * The inspector's "now": the wall clock read at most once per turn of the
 * event loop, and at least once every `budget` reads.
 *
 * Why: the model stamps every snapshot it records, and a clock read is a
 * `clock_gettime` call, which costs 200–500 ns on a VM whose clock source has
 * no vDSO fast path (kvm-clock under load): two per echo call, several per
 * cent of the call. The records and the page show milliseconds, and the
 * events of one turn happen within the same few of them. The budget bounds
 * the staleness when a turn never ends (a long run of microtasks): after
 * `budget` reads from the cache the clock is read again.
 *
 * `schedule` runs its callback after the current turn (`setImmediate` by
 * default, unref'd): that is when the cached time is dropped.
 *
 * Opt-in (`new InspectorModel({ now: makeTurnClock().read })`): it is no
 * longer the model's default. Where the clock has a vDSO path (kvm-clock
 * does) a read costs ≈ 50 ns, and the expiry's `setImmediate`, armed in every
 * turn that stamps something, ≈ 2 µs per turn on a real socket (an extra
 * callback into JavaScript per loop iteration): under session churn each
 * request is such a turn. It pays only where a clock read is a system call.
 */

/** A clock to read per event; {@link TurnClock.read} is the cached read. */
export interface TurnClock {
  readonly read: () => number
}

const defaultSchedule = (f: () => void): void => {
  setImmediate(f).unref()
}

export const makeTurnClock = (
  now: () => number = Date.now,
  schedule: (f: () => void) => void = defaultSchedule,
  budget = 64
): TurnClock => {
  let cached = 0
  /** Reads left from the cache; 0: read the clock. */
  let left = 0
  let armed = false
  const expire = () => {
    armed = false
    left = 0
  }
  return {
    read: () => {
      if (left > 0) {
        left--
        return cached
      }
      cached = now()
      left = budget - 1
      if (!armed) {
        armed = true
        schedule(expire)
      }
      return cached
    }
  }
}
