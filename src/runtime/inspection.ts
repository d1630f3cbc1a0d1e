/**
 * The runtime's inspection hub: one xstate `inspect` observer for every actor
 * the runtime creates, fanned out to whoever listens (the live inspector,
 * tests, Stately's inspector through an adapter).
 *
 * Why a hub with an `observer` that is `undefined` while nobody listens: xstate
 * builds an inspection event object for every event, snapshot and action of an
 * actor created with an `inspect` option. Actors created while nobody listens
 * get no option at all, so the hot path pays one property read per actor.
 * Consequence: an inspector sees the actors created after it subscribed (start
 * it before serving; `inspect: true` in the APIs does).
 *
 * Events keep xstate's shape; consumers key them by `actorRef.sessionId`, the
 * root's `rootId` and `actorRef._parent?.sessionId`, so the same code works
 * for separate root actors and for one actor tree per runtime (the root gets
 * this observer, its descendants report through the root's system).
 *
 * @since 0.2.0
 */
import type { InspectionEvent } from "xstate"

export type { InspectionEvent }

/** Receives every inspection event of the actors created while it listens. */
export type InspectionListener = (event: InspectionEvent) => void

/** Fans the runtime's inspection events out to its listeners (see {@link inspection}). */
export interface InspectionHub {
  /**
   * The observer to pass as xstate's `inspect` option: `undefined` while no
   * listener is subscribed (pass nothing then), a stable function otherwise.
   */
  readonly observer: InspectionListener | undefined
  /** Listen; returns the function that stops listening (idempotent). A throwing listener does not stop the others. */
  subscribe(listener: InspectionListener): () => void
  /** Number of listeners (leak checks). */
  readonly listenerCount: number
}

const listeners = new Set<InspectionListener>()

const fanOut: InspectionListener = (event) => {
  for (const listener of listeners) {
    try {
      listener(event)
    } catch (error) {
      // An inspector's bug must not stop a session's actor (xstate would rethrow it on the actor).
      console.error("inspection listener failed", error)
    }
  }
}

/** The process-wide (per runtime) inspection hub. */
export const inspection: InspectionHub = {
  get observer() {
    return listeners.size === 0 ? undefined : fanOut
  },
  subscribe(listener) {
    // Wrapped so one function subscribed twice is removed independently.
    const wrapped: InspectionListener = (event) => listener(event)
    listeners.add(wrapped)
    return () => {
      listeners.delete(wrapped)
    }
  },
  get listenerCount() {
    return listeners.size
  }
}

/** `{ inspect }` when someone listens, `{}` otherwise: spread into `createActor` options. */
export const inspectOption = (): { readonly inspect?: InspectionListener } => {
  const observer = inspection.observer
  return observer === undefined ? {} : { inspect: observer }
}
