/**
 * Model-based testing helpers for the charts in `machines/`.
 *
 * `createTestModel` (xstate/graph) refuses machines with `after` (toolchain.md §6.8),
 * so `eventOnlyTwin` rebuilds a machine from the very same config and implementations
 * with every `after: { <delay>: T }` turned into `on: { "TIMEOUT.<delay>": T }`. The
 * twin is the model; the real machine, driven by a SimulatedClock, is the system under
 * test, and a `TIMEOUT.<delay>` step is executed by advancing the clock.
 */
import { type AnyStateMachine, getStateNodes, StateMachine, type StateValue } from "xstate"

/** The explicit event that stands for `after: { <delay> }` in a twin. */
export const timeoutEvent = (delay: string): string => `TIMEOUT.${delay}`

type Config = { readonly [key: string]: unknown }

const rewrite = (config: Config): Config => {
  const { after, states, on, ...rest } = config as {
    readonly after?: Config
    readonly states?: Config
    readonly on?: Config
    readonly [key: string]: unknown
  }
  const nextOn: Record<string, unknown> = { ...on }
  for (const [delay, transition] of Object.entries(after ?? {})) nextOn[timeoutEvent(delay)] = transition
  const nextStates = states === undefined
    ? undefined
    : Object.fromEntries(Object.entries(states).map(([key, child]) => [key, rewrite(child as Config)]))
  return {
    ...rest,
    ...(Object.keys(nextOn).length > 0 ? { on: nextOn } : {}),
    ...(nextStates !== undefined ? { states: nextStates } : {})
  }
}

/** The same chart with its delays replaced by explicit `TIMEOUT.<delay>` events. */
export const eventOnlyTwin = (machine: AnyStateMachine): AnyStateMachine =>
  new StateMachine(rewrite(machine.config as Config) as never, machine.implementations as never) as AnyStateMachine

/** The synthesized event xstate raises when `after: { <delay> }` of state `<stateId>` fires. */
export const afterEvent = (delay: string, stateId: string): { readonly type: string } => ({
  type: `xstate.after.${delay}.${stateId}`
})

/** Every state node id of a machine (`machine.id` for the root, then `machine.id.a.b`). */
export const allStateIds = (machine: AnyStateMachine): ReadonlyArray<string> => {
  const ids: Array<string> = []
  const walk = (node: { readonly id: string; readonly states: Record<string, unknown> }): void => {
    ids.push(node.id)
    for (const child of Object.values(node.states)) walk(child as typeof node)
  }
  walk(machine.root)
  return ids
}

/** Ids of the state nodes active in `value` (ancestors included). */
export const activeStateIds = (machine: AnyStateMachine, value: unknown): ReadonlySet<string> =>
  new Set(getStateNodes(machine.root, value as StateValue).map((node) => node.id))

/**
 * Advance a SimulatedClock by `ms` one millisecond at a time. `increment(ms)` in one
 * go starts every timer scheduled during the flush at the *end* of the jump, which
 * is not how time passes; stepping keeps chained timers (ping → ping timeout) exact.
 */
export const advance = (clock: { increment(ms: number): void }, ms: number): void => {
  for (let i = 0; i < ms; i++) clock.increment(1)
}
