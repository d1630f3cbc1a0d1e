/**
 * A host runs on its own runtime alone: its upstream clients (their era probe, their deadlines) take the host's
 * clock, its gateway's sessions are supervised by it, and no other runtime is made for either. A file of its own: the process's default runtime is made lazily,
 * once per process, so only a process that has not made it yet can tell whether the host did.
 */
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import type { AnyActorRef, InspectionEvent } from "xstate"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { makeGateway, serveGatewayHttp } from "../src/host/gateway.ts"
import { startHost } from "../src/host/McpHost.ts"
import { inspection } from "../src/runtime/inspection.ts"
import { hostReaches } from "./support/hostEvents.ts"

const CLI = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))

describe("a host's runtimes", () => {
  it("a host with a dual-era upstream, and its gateway's sessions, make no runtime but the host's (the era probe and the gateway's endpoint made the process's default one)", async () => {
    // Every runtime's root is made while the hub listens, so each reports its `@xstate.actor`.
    const roots: Array<AnyActorRef> = []
    const stop = inspection.subscribe((e: InspectionEvent) => {
      const ref = e.actorRef as AnyActorRef & { readonly logic?: { readonly id?: string }; readonly _parent?: unknown }
      if (e.type === "@xstate.actor" && ref.logic?.id === "runtime" && ref._parent === undefined) roots.push(ref)
    }, { kinds: ["@xstate.actor"] })
    const host = await startHost({ mcpServers: { demo: { command: process.execPath, args: [CLI, "serve", "--stdio"] } } }, { stateFile: false, onStderr: () => {} })
    try {
      expect(await hostReaches(host, () => host.tools().some((t) => t.name === "demo__echo"), 15_000)).toBe(true)
      expect((await host.callTool("demo__echo", { text: "one runtime" })).isError).not.toBe(true)
      expect(roots).toEqual([host.runtime.root])
      // The gateway's sessions are the host runtime's too (they were the process's default runtime's).
      const gateway = makeGateway(host)
      const http = await serveGatewayHttp(gateway, { port: 0 })
      const client = new Client({ name: "through-the-gateway", version: "1.0.0" })
      try {
        await client.connect(new StreamableHTTPClientTransport(new URL(http.url)))
        expect((await client.callTool({ name: "demo__echo", arguments: { text: "via" } })).isError).not.toBe(true)
        expect(host.runtime.registry.handles().map((h) => h.info()).filter((i) => i.role === "server")).toMatchObject([{ transport: "http", peer: { name: "through-the-gateway" } }])
        expect(roots).toEqual([host.runtime.root])
      } finally {
        await client.close()
        await http.close({ drainMs: 0 })
        gateway.close()
      }
    } finally {
      await host.close()
      stop()
    }
  }, 30_000)
})
