/**
 * A controllable fake `SessionHandle` for runtime unit tests: the test
 * decides when `ended` settles and sees every `close` call.
 */
import type { SessionEnd, SessionHandle, SessionInfo } from "../../src/runtime/SessionHandle.ts"

export interface FakeSession extends SessionHandle {
  /** Settle `ended` (idempotent). */
  end(end?: SessionEnd): void
  /** Change the state and notify subscribers. */
  setState(state: string): void
  readonly closeCalls: ReadonlyArray<{ readonly drainMs?: number; readonly reason?: string } | undefined>
  readonly listenerCount: number
}

export const makeFakeSession = (
  id: string,
  options: {
    /** Settle `ended` when `close` is called (default true), with `expected: true`. */
    readonly endOnClose?: boolean
  } = {}
): FakeSession => {
  let resolveEnded!: (end: SessionEnd) => void
  const ended = new Promise<SessionEnd>((resolve) => {
    resolveEnded = resolve
  })
  let state = "operating"
  const listeners = new Set<(info: SessionInfo) => void>()
  const closeCalls: Array<{ readonly drainMs?: number; readonly reason?: string } | undefined> = []
  const info = (): SessionInfo => ({
    id,
    role: "client",
    era: "unknown",
    protocolVersion: undefined,
    state,
    transport: "memory",
    peer: undefined,
    inFlight: 0,
    startedAt: 0
  })
  return {
    id,
    info,
    subscribe(listener) {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
    ended,
    async close(opts) {
      closeCalls.push(opts)
      if (options.endOnClose !== false) resolveEnded({ expected: true, reason: opts?.reason ?? "closed" })
    },
    end: (end = { expected: false, reason: "peer lost" }) => resolveEnded(end),
    setState(next) {
      state = next
      for (const listener of Array.from(listeners)) listener(info())
    },
    closeCalls,
    get listenerCount() {
      return listeners.size
    }
  }
}
