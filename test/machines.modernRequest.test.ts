/**
 * The modern request chart (machines/modernRequest.ts): pure steps, every state reached by
 * xstate/graph paths, the deadline on a SimulatedClock. The production wiring
 * (src/server/http/ModernRequest.ts) is exercised by http.era, http.server,
 * interop.effect-modern and the conformance suite.
 */
import { describe, expect, it } from "vitest"
import { createActor, initialTransition, SimulatedClock, transition } from "xstate"
import { getShortestPaths } from "xstate/graph"
import { type ModernRequestEvent, type ModernRequestInput, modernRequestMachine as machine } from "../machines/modernRequest.ts"
import { allStateIds } from "./support/eventOnlyTwin.ts"

const input: ModernRequestInput = { id: 1, method: "tools/call" }
const run = (i: ModernRequestInput, ...events: ReadonlyArray<ModernRequestEvent>) => {
  let [snapshot, actions] = initialTransition(machine, i)
  const all = actions.map((a) => a.type)
  for (const event of events) {
    ;[snapshot, actions] = transition(machine, snapshot, event)
    all.push(...actions.map((a) => a.type))
  }
  return { snapshot, all }
}
const VALID = { type: "VALIDATED", round: 0 } as const

describe("modernRequest: pure steps", () => {
  it("validated → dispatching (dispatch runs on entry) → responded; messages are self-transitions", () => {
    const r = run(input, VALID, { type: "MESSAGE" }, { type: "MESSAGE" })
    expect(r.snapshot.value).toEqual({ dispatching: "unbounded" })
    expect(r.all).toContain("dispatch")
    expect(r.snapshot.context.messages).toBe(2)
    expect(run(input, VALID, { type: "ANSWERED", outcome: "result" }).snapshot.value).toBe("responded")
  })

  it("invalid _meta fails at once without dispatching", () => {
    const r = run(input, { type: "INVALID", code: -32602 })
    expect(r.snapshot.value).toBe("failed")
    expect(r.snapshot.context.errorCode).toBe(-32602)
    expect(r.all).not.toContain("dispatch")
  })

  it("MRTR: input_required ends this request in awaitingInput; the retry is a new request (round from requestState)", () => {
    expect(run(input, VALID, { type: "ANSWERED", outcome: "inputRequired" }).snapshot.value).toBe("awaitingInput")
    const retry = run(input, { type: "VALIDATED", round: 1 })
    expect(retry.snapshot.context.round).toBe(1)
    expect(run(input, { type: "VALIDATED", round: 1 }, { type: "ANSWERED", outcome: "result" }).snapshot.value).toBe("responded")
  })

  it("an error answer fails with its code; a disconnect cancels (handler aborted, nothing answered); a shutdown fails and answers", () => {
    const err = run(input, VALID, { type: "ANSWERED", outcome: "error", code: -32603 })
    expect(err.snapshot.value).toBe("failed")
    expect(err.snapshot.context.errorCode).toBe(-32603)
    const cancelled = run(input, VALID, { type: "DISCONNECTED", reason: "client closed the response stream" })
    expect(cancelled.snapshot.value).toBe("cancelled")
    expect(cancelled.all).toContain("abortHandler")
    expect(cancelled.all).not.toContain("answerShutdown")
    const shutdown = run(input, VALID, { type: "SHUTDOWN", code: -32000, message: "server shutting down" })
    expect(shutdown.snapshot.value).toBe("failed")
    expect(shutdown.all).toEqual(expect.arrayContaining(["abortHandler", "answerShutdown"]))
    // Once answered, a late disconnect changes nothing.
    expect(run(input, VALID, { type: "ANSWERED", outcome: "result" }, { type: "DISCONNECTED", reason: "x" }).snapshot.value).toBe("responded")
  })

  it("no deadline: no timer at all; with one, it times out on the (virtual) clock and answers", () => {
    expect(run(input, VALID).all).not.toContain("xstate.raise")
    const clock = new SimulatedClock()
    const effects: Array<string> = []
    const actor = createActor(
      machine.provide({ actions: { abortHandler: () => effects.push("abort"), answerTimeout: () => effects.push("timeout") } }),
      { input: { ...input, deadlineMs: 1_000 }, clock }
    ).start()
    actor.send(VALID)
    expect(actor.getSnapshot().value).toEqual({ dispatching: "bounded" })
    clock.increment(999)
    expect(actor.getSnapshot().value).toEqual({ dispatching: "bounded" })
    clock.increment(1)
    expect(actor.getSnapshot().value).toBe("timedOut")
    expect(effects).toEqual(["abort", "timeout"])
  })

  it("xstate/graph: every state is reached by some path", () => {
    const events: ReadonlyArray<ModernRequestEvent | { readonly type: string }> = [
      VALID, { type: "INVALID", code: -32602 }, { type: "MESSAGE" }, { type: "ANSWERED", outcome: "result" }, { type: "ANSWERED", outcome: "inputRequired" },
      { type: "ANSWERED", outcome: "error", code: -32603 }, { type: "DISCONNECTED", reason: "x" }, { type: "SHUTDOWN", code: -32000, message: "bye" },
      { type: "xstate.after.deadline.modernRequest.dispatching.bounded" }
    ]
    const reached = new Set<string>()
    for (const i of [input, { ...input, deadlineMs: 5 }]) {
      for (const path of getShortestPaths(machine, { input: i, events: events as never, serializeState: (s) => JSON.stringify(s.value) as never })) {
        const v = path.state.value
        reached.add(typeof v === "string" ? `modernRequest.${v}` : `modernRequest.${Object.entries(v).map(([k, c]) => `${k}.${String(c)}`)[0]}`)
      }
    }
    const expected = allStateIds(machine).filter((id) => id !== "modernRequest" && id !== "modernRequest.dispatching")
    expect([...reached].sort()).toEqual([...expected].sort())
  })
})
