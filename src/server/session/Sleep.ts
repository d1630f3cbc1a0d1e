/**
 * A hibernated session's sleep: its chart's persisted snapshot and the one wake-up timer
 * that stands in for the chart's idle deadline. Made when the session hibernates and
 * dropped when it wakes, so an awake session pays one `undefined` field for it.
 * While asleep the chart still decides when the session is idle (`sleepDecision`).
 */
import type { ActivityFacts } from "../../../machines/legacyServerSession.ts"
import type { Clock } from "../../protocol/clock.ts"
import { type PersistedChart, sleepDecision } from "./hibernation.ts"

/** What a sleep needs of its session (narrow: the session implements it with three members). */
export interface SleepOwner {
  /** The facts the chart's idle decision reads, now. */
  activity(): ActivityFacts
  /** The chart decided the deadline passed: restore the actor (it takes the same step for real). */
  _wake(): void
  /** The session's clock (the wake-up timer runs on it; read, not kept: one field fewer per sleeper). */
  readonly clock: Clock
}

const MAX_DELAY = 2 ** 31 - 1
const NO_TIMER: unique symbol = Symbol("no timer")

export class Sleep {
  /** The wake-up timer on the owner's clock (NO_TIMER when none). */
  private timer: unknown = NO_TIMER

  /** The chart's persisted snapshot (plain data), updated by each pure idle step. */
  chart: PersistedChart
  private readonly owner: SleepOwner

  constructor(chart: PersistedChart, owner: SleepOwner) {
    this.chart = chart
    this.owner = owner
  }

  /**
   * Ask the chart (a pure step of the snapshot on `RESUMED` with the current facts): expired,
   * the owner wakes; otherwise keep the updated snapshot and arm one timer for its deadline.
   */
  decide(): void {
    const decided = sleepDecision(this.chart, this.owner.activity())
    if (decided.wake) return this.owner._wake()
    this.chart = decided.chart
    if (decided.sleepMs === undefined) return
    this.timer = this.owner.clock.setTimeout(() => {
      this.timer = NO_TIMER
      this.decide()
    }, Math.min(decided.sleepMs, MAX_DELAY))
  }

  /** The sleep ends (woken or released): its timer goes. */
  end(): void {
    if (this.timer === NO_TIMER) return
    this.owner.clock.clearTimeout(this.timer)
    this.timer = NO_TIMER
  }
}
