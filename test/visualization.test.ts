import { mkdtemp, readdir, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { type AnyStateMachine, type AnyStateNode, fromPromise, setup } from "xstate"
import {
  eraProbeMachine,
  keepaliveMachine,
  legacyClientSessionMachine,
  outboundRequestMachine
} from "../machines/index.ts"
import { allMachines, exportCharts } from "../src/visualization/exportCharts.ts"
import { toDot } from "../src/visualization/toDot.ts"
import { toMermaid } from "../src/visualization/toMermaid.ts"
import { nodeName } from "../src/visualization/transitionLabel.ts"

const nodesOf = (machine: AnyStateMachine): ReadonlyArray<AnyStateNode> => {
  const out: Array<AnyStateNode> = []
  const walk = (node: AnyStateNode): void => {
    out.push(node)
    for (const child of Object.values(node.states) as Array<AnyStateNode>) walk(child)
  }
  walk(machine.root)
  return out
}

/** Structural checks any Mermaid stateDiagram we emit must pass. */
const checkMermaid = (machine: AnyStateMachine, text: string): void => {
  const lines = text.trimEnd().split("\n")
  expect(lines[0]).toBe("stateDiagram-v2")
  const opens = lines.filter((l) => /^\s*state \S+ \{$/.test(l)).length
  const closes = lines.filter((l) => /^\s*\}$/.test(l)).length
  expect(opens).toBe(closes)
  const names = new Set(nodesOf(machine).map(nodeName))
  for (const node of nodesOf(machine)) {
    const composite = Object.keys(node.states).length > 0
    // Every state key appears: leaves as `<name> : <key>`, composites as `state <name> {`.
    expect(text).toContain(composite ? `state ${nodeName(node)} {` : `${nodeName(node)} : ${node.key}`)
    if (node.type === "final") expect(text).toContain(`${nodeName(node)} --> [*]`)
  }
  // Every edge joins declared states (or the [*] pseudostate).
  for (const line of lines) {
    const m = /^\s*(\S+) --> (\S+)(?: : .+)?$/.exec(line)
    if (m === null) continue
    for (const end of [m[1]!, m[2]!]) if (end !== "[*]") expect(names.has(end), `${end} in: ${line}`).toBe(true)
  }
}

describe("toMermaid", () => {
  it("legacyClientSession: invoked child's onDone, guards, delays, always, root-level ping and spawn", () => {
    const text = toMermaid(legacyClientSessionMachine)
    checkMermaid(legacyClientSessionMachine, text)
    for (
      const label of [
        "legacyClientSession_connecting --> legacyClientSession_initializing : TRANSPORT_READY",
        "legacyClientSession_initializing --> legacyClientSession_operating : INITIALIZE_RESULT [isSupportedVersion] / recordInitializeResult, sendInitialized",
        "legacyClientSession_initializing --> legacyClientSession_failed : INITIALIZE_RESULT / recordUnsupportedVersion, disconnect",
        "legacyClientSession_initializing --> legacyClientSession_failed : after initializeTimeout / recordInitializeTimeout, disconnect",
        "legacyClientSession_operating --> legacyClientSession_dead : onDone / recordPeerUnresponsive, disconnect",
        "legacyClientSession_operating --> legacyClientSession_operating : PEER_ACTIVITY / forwardToKeepalive",
        "legacyClientSession_operating --> legacyClientSession_operating : PONG / forwardToKeepalive",
        "legacyClientSession_closing --> legacyClientSession_closed : after closeTimeout / forceClose",
        "legacyClientSession --> legacyClientSession : PING_RECEIVED / replyPong",
        "legacyClientSession --> legacyClientSession_closing : CLOSE / recordCloseRequested",
        "legacyClientSession --> legacyClientSession_closed : TRANSPORT_CLOSED [isExpectedClose]",
        "[*] --> legacyClientSession_connecting"
      ]
    ) expect(text).toContain(label)
    expect(text).not.toContain("xstate.")
  })

  it("parallel regions are separated by `--`, with each region's onDone", () => {
    const machine = setup({ guards: { never: () => false } }).createMachine({
      id: "p",
      initial: "running",
      states: {
        running: {
          type: "parallel",
          states: {
            keepalive: { initial: "idle", states: { idle: { on: { MISS: "dead" } }, dead: { type: "final" } }, onDone: "#p.dead" },
            activity: { initial: "idle", states: { idle: { on: { GO: "busy" } }, busy: { on: { STOP: { guard: "never", target: "idle" } } } } }
          }
        },
        dead: { type: "final" }
      }
    })
    const text = toMermaid(machine)
    checkMermaid(machine, text)
    expect(text).toContain("p_running_keepalive --> p_dead : onDone")
    expect(text).toContain("p_running_activity_busy --> p_running_activity_idle : STOP [never]")
    const lines = text.split("\n").map((l) => l.trim())
    const sep = lines.indexOf("--")
    expect(sep).toBeGreaterThan(lines.indexOf("state p_running_keepalive {"))
    expect(sep).toBeLessThan(lines.indexOf("state p_running_activity {"))
    const dot = toDot(machine)
    expect(dot).toContain(`label="running (parallel)"`)
    expect(dot).toContain(`"p_running_keepalive" -> "p_dead" [label="onDone", ltail="cluster_p_running_keepalive"];`)
  })

  it("outboundRequest: both deadlines, sendCancelled only behind isCancellable", () => {
    const text = toMermaid(outboundRequestMachine)
    checkMermaid(outboundRequestMachine, text)
    expect(text).toContain(
      "outboundRequest_pending_awaitingResponse --> outboundRequest_timedOut : after requestTimeout [isCancellable] / recordRequestTimeout, sendCancelled"
    )
    expect(text).toContain("outboundRequest_pending --> outboundRequest_timedOut : after maxTotalTimeout / recordMaxTotalTimeout")
    expect(text).toContain("PROGRESS [resetsTimeoutOnProgress] / recordProgress")
    for (const line of text.split("\n").filter((l) => l.includes("sendCancelled"))) expect(line).toContain("[isCancellable]")
  })

  it("keepalive and eraProbe", () => {
    const k = toMermaid(keepaliveMachine)
    checkMermaid(keepaliveMachine, k)
    expect(k).toContain("keepalive_idle --> keepalive_awaitingPong : after pingInterval")
    expect(k).toContain("keepalive_awaitingPong --> keepalive_unsupported : PING_UNSUPPORTED")
    const e = toMermaid(eraProbeMachine)
    checkMermaid(eraProbeMachine, e)
    expect(e).toContain("eraProbe_checkingCache --> eraProbe_modern : always [hasCachedModern] / acceptCachedModern")
    expect(e).toContain("eraProbe_probing --> eraProbe_modern : PROBE_ERROR [isRecognisedModernError] / pickVersion, cacheVerdict")
    expect(e).toContain("eraProbe_probing --> eraProbe_legacy : PROBE_ERROR / recordOtherError, cacheVerdict")
    expect(e).toContain("eraProbe_probing --> eraProbe_legacy : after probeTimeout / recordTimeout, cacheVerdict")
    expect(e).toContain("eraProbe_legacy --> eraProbe_probing : CACHED_VERDICT_FAILED / forgetVerdict, clearCache")
  })

  it("maps invoke onDone / onError", () => {
    const m = setup({ actors: { connect: fromPromise(async () => 1) } }).createMachine({
      id: "inv",
      initial: "a",
      states: {
        a: { invoke: { src: "connect", onDone: "b", onError: "c" } },
        b: { type: "final" },
        c: { type: "final" }
      }
    })
    const text = toMermaid(m)
    expect(text).toContain("inv_a --> inv_b : onDone")
    expect(text).toContain("inv_a --> inv_c : onError")
  })
})

describe("toDot", () => {
  it("emits a cluster per composite state, a node per leaf and labelled edges", () => {
    for (const machine of [legacyClientSessionMachine, outboundRequestMachine, keepaliveMachine, eraProbeMachine]) {
      const dot = toDot(machine)
      expect(dot.startsWith(`digraph "${machine.id}" {`)).toBe(true)
      expect(dot.split("{").length).toBe(dot.split("}").length)
      for (const node of nodesOf(machine)) {
        if (Object.keys(node.states).length > 0) expect(dot).toContain(`subgraph "cluster_${nodeName(node)}" {`)
        else expect(dot).toContain(`"${nodeName(node)}" [label="${node.key}"${node.type === "final" ? ", peripheries=2" : ""}];`)
      }
    }
    const dot = toDot(legacyClientSessionMachine)
    // A transition out of a composite state leaves from its cluster's border (`ltail`); out of a leaf, from the node.
    expect(toDot(outboundRequestMachine)).toContain(
      `"outboundRequest_pending" -> "outboundRequest_settled" [label="RESPONSE / recordSettled", ltail="cluster_outboundRequest_pending"];`
    )
    expect(dot).toContain(
      `"legacyClientSession_operating" -> "legacyClientSession_dead" [label="onDone / recordPeerUnresponsive, disconnect"];`
    )
    // A root-level transition into a descendant is not clipped at the root's own border.
    expect(dot).toMatch(/"legacyClientSession" -> "legacyClientSession_closing" \[label="CLOSE \/ recordCloseRequested"\];/)
  })
})

describe("exportCharts", () => {
  it("writes .mmd, .dot and .json for every machine in machines/index.ts", async () => {
    const dir = await mkdtemp(join(tmpdir(), "charts-"))
    try {
      const written = await exportCharts(dir)
      const ids = [...allMachines().keys()]
      expect(ids).toEqual(expect.arrayContaining(["keepalive", "legacyClientSession", "outboundRequest", "eraProbe"]))
      const files = (await readdir(dir)).sort()
      expect(files).toEqual(ids.flatMap((id) => [`${id}.dot`, `${id}.json`, `${id}.mmd`]).sort())
      expect(written).toHaveLength(files.length)
      for (const [id, machine] of allMachines()) {
        expect(await readFile(join(dir, `${id}.mmd`), "utf8")).toBe(toMermaid(machine))
        expect(await readFile(join(dir, `${id}.dot`), "utf8")).toBe(toDot(machine))
        const json = JSON.parse(await readFile(join(dir, `${id}.json`), "utf8")) as { id: string; states: object }
        expect(json.id).toBe(id)
        expect(Object.keys(json.states)).toEqual(Object.keys(machine.root.states))
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
