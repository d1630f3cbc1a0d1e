import { describe, expect, it } from "vitest"
import { type AnyActorRef, createActor, SimulatedClock } from "xstate"
import { hostMachine, reportingServerConnection } from "../machines/host.ts"
import type { ServerConnectionInput } from "../machines/serverConnection.ts"
import { advance } from "./support/eventOnlyTwin.ts"

const server = (name: string, extra: Partial<ServerConnectionInput> = {}): ServerConnectionInput => ({
  name,
  restart: { baseDelayMs: 100, factor: 2, maxDelayMs: 1_000, jitter: 0.2, resetAfterMs: 5_000, maxRestarts: 1, windowMs: 10_000, parkedProbeMs: 60_000 },
  connectTimeoutMs: 500,
  health: false,
  seed: 1,
  now: 0,
  ...extra
})

const start = (servers: ReadonlyArray<ServerConnectionInput>) => {
  const clock = new SimulatedClock()
  const closed: Array<string> = []
  const actor = createActor(
    hostMachine.provide({
      actors: {
        serverConnection: reportingServerConnection.provide({
          actions: { closeConnection: ({ context }) => void closed.push(`${context.name}#${context.generation}`) }
        })
      }
    }),
    { clock, input: { servers } }
  ).start()
  const to = (name: string, event: Record<string, unknown>) =>
    actor.send({ type: "TO_SERVER", name, event: { now: clock.now(), ...event } as never })
  const up = (name: string) => {
    const generation = actor.getSnapshot().context.statuses[name]!.generation
    to(name, { type: "SPAWNED", generation })
    to(name, { type: "READY", generation, protocolVersion: "2025-11-25" })
  }
  return { actor, clock, closed, to, up }
}

describe("host chart", () => {
  it("is a real actor tree: one serverConnection child per server, named after it", () => {
    const t = start([server("a"), server("b", { lifecycle: "lazy" })])
    const children = t.actor.getSnapshot().children as Record<string, AnyActorRef>
    expect(Object.keys(children).sort()).toEqual(["a", "b"])
    expect(children.a!.getSnapshot().value).toBe("starting")
    expect(children.b!.getSnapshot().value).toBe("idle")
    expect(t.actor.system.get("server:a")).toBe(children.a)
  })

  it("derives its own state from the children's reports: starting → ready → degraded → ready", () => {
    const t = start([server("a"), server("b", { lifecycle: "lazy" })])
    expect(t.actor.getSnapshot().value).toBe("starting")
    t.up("a")
    expect(t.actor.getSnapshot().value).toBe("ready") // b is lazy and idle: healthy
    t.to("a", { type: "FAILED", generation: 1, reason: "killed" })
    expect(t.actor.getSnapshot().context.statuses.a!.state).toBe("restarting")
    expect(t.actor.getSnapshot().value).toBe("degraded")
    advance(t.clock, 200)
    expect(t.actor.getSnapshot().context.statuses.a!.state).toBe("starting")
    expect(t.actor.getSnapshot().value).toBe("degraded")
    t.up("a")
    expect(t.actor.getSnapshot().value).toBe("ready")
    expect(t.actor.getSnapshot().context.statuses.a).toMatchObject({ state: "ready", generation: 2, restarts: 1 })
  })

  it("a parked child keeps the host degraded; unknown server names are ignored", () => {
    const t = start([server("a")])
    t.to("nope", { type: "STOP" })
    t.to("a", { type: "FAILED", generation: 1, reason: "exit" })
    advance(t.clock, 200)
    t.to("a", { type: "FAILED", generation: 2, reason: "exit" })
    expect(t.actor.getSnapshot().context.statuses.a!.state).toBe("parked")
    expect(t.actor.getSnapshot().context.statuses.a!.parked?.reason).toMatch(/crash loop/)
    expect(t.actor.getSnapshot().value).toBe("degraded")
  })

  it("STOP stops every child (each closes its connection), then the host is done", () => {
    const t = start([server("a"), server("b")])
    t.up("a")
    t.actor.send({ type: "STOP", now: t.clock.now() })
    expect(t.actor.getSnapshot().value).toBe("stopped")
    expect(t.actor.getSnapshot().status).toBe("done")
    expect(t.closed.sort()).toEqual(["a#1", "b#1"])
  })
})
