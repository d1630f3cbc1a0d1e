import { describe, expect, it } from "vitest"
import { type Limited, SessionLimiter } from "../src/server/SessionLimiter.ts"

// Admission control's rules, on plain objects (the HTTP and WebSocket wiring is in server.limits.test.ts).
class Fake implements Limited {
  readonly name: string
  readonly id: string
  idleSince: number | undefined
  evictedFor: string | undefined
  constructor(name: string, idleSince: number | undefined) {
    this.name = name
    this.id = name
    this.idleSince = idleSince
  }
  evict(reason: string): void {
    this.evictedFor = reason
  }
}

const setup = (limits: ConstructorParameters<typeof SessionLimiter>[0]) => {
  const limiter = new SessionLimiter<Fake>(limits)
  const open = (name: string, options: { ready?: boolean; idleSince?: number; address?: string; principal?: string } = {}) => {
    const admission = limiter.admit(options.address, options.principal)
    if (!admission.ok) return admission
    const s = new Fake(name, options.idleSince ?? 0)
    limiter.add(s, options.address, options.principal)
    if (options.ready === true) limiter.ready(s)
    return s
  }
  return { limiter, open }
}

describe("SessionLimiter", () => {
  it("at the total cap evicts the oldest session in the handshake first, then the longest-idle operating one; never a busy one (503 then)", () => {
    const { limiter, open } = setup({ maxSessions: 4, maxHandshakeSessions: 4 })
    const a = open("a", { ready: true, idleSince: 10 }) as Fake
    const b = open("b", { ready: true, idleSince: 5 }) as Fake
    const h1 = open("h1", { idleSince: 50 }) as Fake
    const h2 = open("h2", { idleSince: 60 }) as Fake
    expect(limiter.size).toBe(4)
    // Full: the oldest handshake goes, even though operating sessions have been idle longer.
    const c = open("c", { ready: true, idleSince: 70 }) as Fake
    expect(h1.evictedFor).toMatch(/handshake/)
    expect([a, b, h2].map((s) => s.evictedFor)).toEqual([undefined, undefined, undefined])
    const d = open("d", { ready: true, idleSince: 80 }) as Fake
    expect(h2.evictedFor).toMatch(/handshake/)
    // No handshake left: the operating session idle the longest (b, since 5) goes.
    const e = open("e", { ready: true, idleSince: 90 }) as Fake
    expect(b.evictedFor).toMatch(/idle the longest/)
    expect(a.evictedFor).toBeUndefined()
    // Everyone busy: nothing to evict, 503.
    for (const s of [a, c, d, e]) s.idleSince = undefined
    expect(limiter.admit(undefined, undefined)).toEqual({ ok: false, status: 503, message: "Service Unavailable: too many sessions" })
    expect(limiter.evictions).toBe(3)
    expect(limiter.size).toBe(4)
  })

  it("the handshake budget: beyond maxHandshakeSessions the oldest handshake is evicted, so a flood never refuses a newcomer", () => {
    const { limiter, open } = setup({ maxSessions: 100, maxHandshakeSessions: 3 })
    const flood = Array.from({ length: 50 }, (_, i) => open(`f${i}`) as Fake)
    expect(limiter.handshakes).toBe(3)
    expect(flood.filter((s) => s.evictedFor === undefined).map((s) => s.name)).toEqual(["f47", "f48", "f49"])
    const good = open("good")
    expect(good).toBeInstanceOf(Fake)
    limiter.ready(good as Fake) // it completes its handshake before three more flood sessions arrive
    for (let i = 0; i < 10; i++) open(`g${i}`)
    expect((good as Fake).evictedFor).toBeUndefined()
    expect(limiter.size).toBe(4)
  })

  it("per-address cap: the address's own oldest handshake is evicted; with none, 429 for that address only", () => {
    const { limiter, open } = setup({ maxSessions: 100, maxSessionsPerAddress: 2 })
    const x1 = open("x1", { address: "10.0.0.1", ready: true }) as Fake
    const x2 = open("x2", { address: "10.0.0.1" }) as Fake
    const x3 = open("x3", { address: "10.0.0.1" }) as Fake
    expect(x2.evictedFor).toMatch(/this address/)
    expect(x1.evictedFor).toBeUndefined()
    limiter.ready(x3)
    expect(open("x4", { address: "10.0.0.1" })).toEqual({ ok: false, status: 429, message: "Too Many Requests: at most 2 sessions per client address" })
    expect(open("y1", { address: "10.0.0.2" })).toBeInstanceOf(Fake)
    // A session ending frees its address's slot.
    limiter.remove(x1)
    expect(open("x5", { address: "10.0.0.1" })).toBeInstanceOf(Fake)
  })

  it("per-principal cap: 429 for that principal only, anonymous sessions are not counted", () => {
    const { open } = setup({ maxSessions: 100, maxSessionsPerPrincipal: 1 })
    expect(open("alice1", { principal: "alice", ready: true })).toBeInstanceOf(Fake)
    expect(open("alice2", { principal: "alice" })).toMatchObject({ ok: false, status: 429 })
    expect(open("bob1", { principal: "bob" })).toBeInstanceOf(Fake)
    expect(open("anon1")).toBeInstanceOf(Fake)
    expect(open("anon2")).toBeInstanceOf(Fake)
  })

  it("remove is idempotent and an evicted session stops counting at once", () => {
    const { limiter, open } = setup({ maxSessions: 1 })
    const a = open("a") as Fake
    const b = open("b") as Fake
    expect(a.evictedFor).toBeDefined()
    expect(limiter.size).toBe(1)
    limiter.remove(a) // its release arrives later: no effect
    limiter.remove(a)
    expect(limiter.size).toBe(1)
    limiter.remove(b)
    expect(limiter.size).toBe(0)
    expect(limiter.handshakes).toBe(0)
  })
})
