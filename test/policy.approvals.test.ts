import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { createActor, initialTransition, SimulatedClock, transition } from "xstate"
import { policedRequestMachine } from "../machines/policedRequest.ts"
import { advance } from "./support/eventOnlyTwin.ts"
import { answerApproval, type ApprovalAnswer, ApprovalStore } from "../src/policy/ApprovalStore.ts"
import { type Approver, Approvals, storeApprover } from "../src/policy/Approvals.ts"

const call = { principal: "alice", sessionId: "s1", server: "demo", method: "tools/call", target: "deploy", argsDigest: "d1", policies: ["deploy"], reason: "needs approval" }
const never: Approver = { name: "nobody", ask: () => new Promise<ApprovalAnswer>(() => {}) }

describe("policedRequest chart", () => {
  it("approve → awaitingApproval (asks) → APPROVED → running → completed; allow goes straight to running", () => {
    const input = { approvalTimeoutMs: 1_000, keepAliveMs: 100 }
    let [s, actions] = initialTransition(policedRequestMachine, input)
    ;[s, actions] = transition(policedRequestMachine, s, { type: "DECIDED", decision: "approve", reason: "r" })
    expect(s.value).toEqual({ awaitingApproval: "waiting" })
    expect(actions.map((a) => a.type)).toContain("askApprover")
    ;[s, actions] = transition(policedRequestMachine, s, { type: "APPROVED", by: "carol" })
    expect(s.value).toBe("running")
    expect(actions.map((a) => a.type)).toContain("runCall")
    ;[s] = transition(policedRequestMachine, s, { type: "COMPLETED", ok: true })
    expect(s.output).toEqual({ _tag: "Completed", ok: true, approvedBy: "carol" })
    let [a] = initialTransition(policedRequestMachine, input)
    ;[a] = transition(policedRequestMachine, a, { type: "DECIDED", decision: "allow", reason: "r" })
    expect(a.value).toBe("running")
    let [d] = initialTransition(policedRequestMachine, input)
    ;[d] = transition(policedRequestMachine, d, { type: "DECIDED", decision: "deny", reason: "forbidden by x" })
    expect(d.output).toEqual({ _tag: "Denied", by: "policy", reason: "forbidden by x" })
  })

  it("the approval deadline is a deny, on virtual time; keep-alive fires meanwhile; the deadline is never reset", () => {
    const clock = new SimulatedClock()
    let kept = 0
    const actor = createActor(policedRequestMachine.provide({ actions: { keepAlive: () => void kept++ } }), { clock, input: { approvalTimeoutMs: 1_000, keepAliveMs: 300 } }).start()
    actor.send({ type: "DECIDED", decision: "approve", reason: "r" })
    advance(clock, 999)
    expect(actor.getSnapshot().matches("awaitingApproval")).toBe(true)
    expect(kept).toBe(3) // at 300, 600, 900
    advance(clock, 1)
    expect(actor.getSnapshot().value).toBe("denied")
    expect(actor.getSnapshot().output).toEqual({ _tag: "Denied", by: "deadline", reason: "no approval within 1000 ms" })
    actor.send({ type: "APPROVED", by: "late" }) // too late: ignored
    expect(actor.getSnapshot().value).toBe("denied")
  })
})

describe("Approvals: the chart run with a store and an approver", () => {
  let dir: string | undefined
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
    dir = undefined
  })

  it("an approval that times out is denied (virtual time), recorded as expired, rate tokens aside", async () => {
    const clock = new SimulatedClock()
    const approvals = new Approvals({ store: ApprovalStore.open(), clock, now: () => clock.now(), keepAliveMs: 1_000 })
    let kept = 0
    const ticket = approvals.request({ pending: call, approvalTimeoutMs: 5_000, approver: never, keepAlive: () => void kept++ })
    await Promise.resolve()
    expect(approvals.pending().map((p) => p.id)).toEqual([ticket.id])
    advance(clock, 5_000)
    await expect(ticket.result).resolves.toMatchObject({ approved: false, outcome: "expired", by: "deadline" })
    expect(kept).toBe(4) // 1 s, 2 s, 3 s, 4 s; the deadline at 5 s wins over the fifth
    expect(approvals.pending()).toEqual([])
    approvals.close()
  })

  it("an approver's yes lets the call run; its no denies with who said it", async () => {
    const approvals = new Approvals({ store: ApprovalStore.open(), clock: new SimulatedClock() })
    const yes = approvals.request({ pending: call, approvalTimeoutMs: 5_000, approver: { name: "bot", ask: async () => ({ approved: true, by: "carol" }) } })
    await expect(yes.result).resolves.toMatchObject({ approved: true, by: "carol" })
    yes.complete(true)
    const no = approvals.request({ pending: call, approvalTimeoutMs: 5_000, approver: { name: "bot", ask: async () => ({ approved: false, by: "dave", reason: "not today" }) } })
    await expect(no.result).resolves.toMatchObject({ approved: false, outcome: "rejected", by: "dave", reason: "rejected by dave: not today" })
    const cancelled = new AbortController()
    const gone = approvals.request({ pending: call, approvalTimeoutMs: 5_000, approver: never, signal: cancelled.signal })
    cancelled.abort()
    await expect(gone.result).resolves.toMatchObject({ approved: false, outcome: "cancelled" })
    approvals.close()
  })

  it("an approval the CLI answers while its caller waits is taken by that caller: no grant is left for a repeat of the call", async () => {
    dir = mkdtempSync(join(tmpdir(), "approvals-"))
    const file = join(dir, "approvals.jsonl")
    const clock = new SimulatedClock()
    const approvals = new Approvals({ store: ApprovalStore.open(file), clock, now: () => clock.now() })
    const ticket = approvals.request({ pending: call, approvalTimeoutMs: 60_000, approver: storeApprover })
    await Promise.resolve()
    // The answer comes through the store (another process appends it), not through approvals.answer().
    expect(answerApproval(file, ticket.id, { approved: true, by: "carol (cli)" })).toBe(true)
    await expect(ticket.result).resolves.toMatchObject({ approved: true, by: "carol (cli)" })
    ticket.complete(true)
    // The same call again, within the approval's deadline, is asked again: the approval was used.
    expect(approvals.store.takeGrant("alice", "demo", "tools/call", "deploy", "d1", clock.now())).toBeUndefined()
    approvals.close()
    // And not after a restart either (the file says it was consumed).
    const restarted = ApprovalStore.open(file)
    expect(restarted.takeGrant("alice", "demo", "tools/call", "deploy", "d1", clock.now())).toBeUndefined()
    restarted.close()
  })

  it("pending approvals are durable: visible from another process, answered by the CLI, and survive a restart", async () => {
    dir = mkdtempSync(join(tmpdir(), "approvals-"))
    const file = join(dir, "approvals.jsonl")
    const clock = new SimulatedClock()
    const first = new Approvals({ store: ApprovalStore.open(file), clock, now: () => clock.now() })
    const ticket = first.request({ pending: call, approvalTimeoutMs: 60_000, approver: storeApprover })
    await Promise.resolve()
    // Another process (the CLI) sees it and answers by appending to the file; the gateway's watch wakes the chart.
    expect(ApprovalStore.open(file).pending().map((p) => p.id)).toEqual([ticket.id])
    expect(answerApproval(file, ticket.id, { approved: true, by: "carol (cli)" })).toBe(true)
    await expect(ticket.result).resolves.toMatchObject({ approved: true, by: "carol (cli)" })
    first.close()

    // A restart with one approval still pending: visible, expires on its deadline.
    const second = new Approvals({ store: ApprovalStore.open(file), clock, now: () => clock.now() })
    const t2 = second.request({ pending: { ...call, argsDigest: "d2" }, approvalTimeoutMs: 60_000, approver: storeApprover })
    const t3 = second.request({ pending: { ...call, argsDigest: "d3" }, approvalTimeoutMs: 60_000, approver: storeApprover })
    await Promise.resolve()
    second.store.close() // the process dies: no more answers reach it
    const restarted = new Approvals({ store: ApprovalStore.open(file), clock, now: () => clock.now() })
    expect(restarted.pending().map((p) => p.id).sort()).toEqual([t2.id, t3.id].sort())
    // Approved after the restart, nobody waiting: a grant the same call can take once.
    expect(restarted.answer(t2.id, { approved: true, by: "carol" })).toBe(true)
    expect(restarted.store.takeGrant("alice", "demo", "tools/call", "deploy", "d2", clock.now())).toMatchObject({ id: t2.id })
    expect(restarted.store.takeGrant("alice", "demo", "tools/call", "deploy", "d2", clock.now())).toBeUndefined()
    clock.increment(60_000)
    expect(restarted.pending()).toEqual([])
    const lines = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { type: string; id: string; outcome?: string })
    expect(lines.find((l) => l.id === t3.id && l.type === "resolved")?.outcome).toBe("expired")
    restarted.close()
  })
})
