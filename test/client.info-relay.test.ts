/**
 * `Client` (and the host's `UpstreamGeneration`, same pattern) relays the changes of the client in
 * charge to its own listeners only while it has some: a relay nobody hears cost two notifications per
 * request through every wrapper (a host's upstream client's usual case). These tests prove a listener
 * still hears every change (request start and end) while it listens, and that the wrapped client
 * carries no relay of ours before the first listener and after the last one left.
 */
import { afterEach, describe, expect, it } from "vitest"
import type { Client } from "../src/client/Client.ts"
import { connectAuto } from "../src/client/connectAuto.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"

const server = () =>
  new McpServer({ name: "relay", version: "1.0.0" })
    .tool({ name: "echo", description: "echo" }, (args) => ({ content: [{ type: "text", text: String(args.text) }] }))

const clients: Array<Client> = []
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close()
})

/** How many listeners the wrapped client (the era's client) has: our relay is one of them, when relaying. */
const sideListeners = (client: Client): number =>
  (client.client as unknown as { readonly listeners: { readonly size: number } }).listeners.size

describe("Client: the wrapped client's changes relayed only while someone listens", () => {
  for (const era of ["modern", "legacy"] as const) {
    it(`${era}: no relay before the first listener and after the last; every request's start and end heard in between`, async () => {
      const [serverSide, clientSide] = makeMemoryTransportPair()
      serveTransport(server(), serverSide)
      const client = await connectAuto(clientSide, { era })
      clients.push(client)
      expect(client.era).toBe(era)
      const baseline = sideListeners(client)
      await client.callTool("echo", { text: "unheard" })
      expect(sideListeners(client)).toBe(baseline)

      const signals: Array<number> = []
      const infos: Array<number> = []
      const offSignal = client.onInfoChange(() => signals.push(client.info().inFlight))
      const offInfo = client.subscribe((info) => infos.push(info.inFlight))
      // One relay for both listeners.
      expect(sideListeners(client)).toBe(baseline + 1)
      await client.callTool("echo", { text: "heard" })
      // The request's start (one in flight) and its end (none): each listener heard both.
      expect(signals).toContain(1)
      expect(signals.at(-1)).toBe(0)
      expect(infos).toContain(1)
      expect(infos.at(-1)).toBe(0)

      offSignal()
      expect(sideListeners(client)).toBe(baseline + 1)
      offInfo()
      expect(sideListeners(client)).toBe(baseline)
      const heard = infos.length
      await client.callTool("echo", { text: "unheard again" })
      expect(infos.length).toBe(heard)

      // A listener added later is heard again.
      const late: Array<number> = []
      const offLate = client.subscribe((info) => late.push(info.inFlight))
      await client.callTool("echo", { text: "late" })
      expect(late).toContain(1)
      offLate()
      expect(sideListeners(client)).toBe(baseline)
    })
  }
})
