/**
 * The time sources that were `Date.now` by default now read the owner's clock
 * (issue 13, "one clock"): the era cache's TTL is measured on the connecting
 * client's clock (the runtime's), the rate limiter's window and the audit
 * trail's stamps on the clock they are given. All on virtual time.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { SimulatedClock } from "xstate"
import { connectAuto } from "../src/client/connectAuto.ts"
import { MemoryEraCache } from "../src/client/EraCache.ts"
import { AuditLog } from "../src/policy/AuditLog.ts"
import { RateLimiter } from "../src/policy/RateLimiter.ts"
import { makeMcpRuntime, type McpRuntime } from "../src/runtime/McpRuntime.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"

let runtime: McpRuntime | undefined
afterEach(async () => {
  await runtime?.shutdown({ drainMs: 0 })
  runtime = undefined
})

describe("time sources on the owner's clock", () => {
  it("an era verdict expires after its TTL on the connecting client's clock (the runtime's), not on Date.now", async () => {
    const sim = new SimulatedClock()
    sim.set(Date.now()) // the same epoch as the wall clock: only the runtime's clock moves on
    runtime = makeMcpRuntime({ clock: sim })
    const server = new McpServer({ name: "era", version: "1.0.0" })
    const cache = new MemoryEraCache({ ttlMs: 60_000 }) // no clock of its own: callers give their time
    const connect = async () => {
      const [serverSide, clientSide] = makeMemoryTransportPair()
      serveTransport(server, serverSide, { runtime })
      const client = await connectAuto(clientSide, { runtime, key: "era-server", cache })
      const fromCache = client.verdict.fromCache
      await client.close()
      return fromCache
    }
    expect(await connect()).toBe(false) // probed, and cached
    sim.increment(59_999)
    expect(await connect()).toBe(true) // still fresh on the runtime's clock
    sim.increment(60_000)
    expect(await connect()).toBe(false) // a minute old on the runtime's clock: forgotten, probed again
  })

  it("the rate limiter's window runs on the clock it is given", () => {
    const sim = new SimulatedClock()
    const limiter = new RateLimiter({ clock: sim })
    expect(limiter.take("alice", 2, 1_000).ok).toBe(true)
    expect(limiter.take("alice", 2, 1_000).ok).toBe(true)
    expect(limiter.take("alice", 2, 1_000)).toEqual({ ok: false, retryAfterMs: 500 })
    sim.increment(499)
    expect(limiter.take("alice", 2, 1_000).ok).toBe(false)
    sim.increment(1) // one token back after windowMs / limit of the limiter's clock
    expect(limiter.take("alice", 2, 1_000).ok).toBe(true)
  })

  it("audit records are stamped on the clock they are given", () => {
    const dir = mkdtempSync(join(tmpdir(), "clock-audit-"))
    try {
      const sim = new SimulatedClock()
      sim.set(Date.UTC(2030, 0, 2, 3, 4, 5))
      const log = AuditLog.open(join(dir, "audit.jsonl"), { clock: sim })
      log.append({ type: "decision", decision: "allow" })
      sim.increment(1_500)
      log.append({ type: "decision", decision: "deny" })
      log.close()
      const times = readFileSync(join(dir, "audit.jsonl"), "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { time: string }).time)
      expect(times).toEqual(["2030-01-02T03:04:05.000Z", "2030-01-02T03:04:06.500Z"])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
