/**
 * Hostile servers against the host (issue s23): a real stdio child per server
 * (`fixtures/hostile-stdio-server.mjs`, one misbehaviour each) beside a well-behaved
 * one, on the host's own clock (a counting `SimulatedClock`) so every interval the
 * host measures is virtual. What must hold: the hostile server's damage stays its own
 * (typed errors, its listing bounded), the other server works, nothing loops.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { afterAll, describe, expect, it } from "vitest"
import { connectHttp } from "../src/client/connectHttp.ts"
import { makeGateway, serveGatewayHttp } from "../src/host/gateway.ts"
import { type McpHost, startHost } from "../src/host/McpHost.ts"
import { MAX_LISTING_ENTRIES } from "../src/host/Catalog.ts"
import { RELIST_BURST, RELIST_WINDOW_MS } from "../src/host/relistBudget.ts"
import { STDERR_TAIL_LINE_CHARS, STDERR_TAIL_LINES } from "../src/host/ServerConnection.ts"
import { RpcError } from "../src/protocol/requestErrors.ts"
import { countingClock } from "./support/countingClock.ts"
import { childProcesses } from "./support/handles.ts"
import { hostReaches } from "./support/hostEvents.ts"

const HOSTILE = fileURLToPath(new URL("./fixtures/hostile-stdio-server.mjs", import.meta.url))
const SCRIPTED = fileURLToPath(new URL("./fixtures/scripted-upstream.mjs", import.meta.url))

/** Scripts for `fixtures/scripted-upstream.mjs` go to files: argv cannot carry a NUL, nor a 100 000-character name. */
const scripts = mkdtempSync(join(tmpdir(), "scripted-upstream-"))
afterAll(() => rmSync(scripts, { recursive: true, force: true }))
let scriptCount = 0
const scripted = (script: Record<string, unknown>, over: Record<string, unknown> = {}) => {
  const file = join(scripts, `${scriptCount++}.json`)
  writeFileSync(file, JSON.stringify(script))
  return { command: process.execPath, args: [SCRIPTED, file], ...over }
}
const tool = (name: string, over: Record<string, unknown> = {}) => ({ name, inputSchema: { type: "object" }, ...over })

/** The official SDK client on the gateway's HTTP endpoint (`/mcp`, or `/mcp/<server>`). */
const sdkClient = async (url: string): Promise<Client> => {
  const client = new Client({ name: "sdk-client", version: "1.0.0" })
  await client.connect(new StreamableHTTPClientTransport(new URL(url)))
  return client
}

/** Event-loop turns (no real time): lets promise chains waiting on a fired timer run. */
/**
 * The host's gateway served over HTTP, with the official SDK client on its aggregate endpoint and one on `/mcp/<name>`
 * for each of `alone`; `close()` ends the clients, the gateway and the host.
 */
const servedGateway = async (host: McpHost, alone: ReadonlyArray<string> = []) => {
  const gateway = makeGateway(host)
  const http = await serveGatewayHttp(gateway, { port: 0 })
  const client = await sdkClient(http.url)
  const perServer = await Promise.all(alone.map((name) => sdkClient(`${http.url}/${name}`)))
  return {
    client,
    perServer,
    close: async () => {
      for (const c of perServer) await c.close()
      await client.close()
      gateway.close()
      await http.close()
      await host.close()
    }
  }
}

const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

const startPair = async (mode: string, clock: ReturnType<typeof countingClock>["clock"]): Promise<McpHost> =>
  startHost({
    mcpServers: {
      bad: { command: process.execPath, args: [HOSTILE, ...mode.split(" ")] },
      good: { command: process.execPath, args: [HOSTILE, "plain"] }
    }
  }, { stateFile: false, clock, onStderr: () => {} })

/** The text of a tool result (the host's, or the SDK client's, whose type also allows a legacy `toolResult`). */
const textOf = (r: unknown): string =>
  (((r as { readonly content?: unknown }).content ?? []) as ReadonlyArray<{ text?: string }>).map((c) => c.text ?? "").join("")

describe("hostile servers: the host", { timeout: 30_000 }, () => {
  it("list_changed after every tools/list: none is lost, and re-listing is bounded by the relist budget on the host's clock", async () => {
    const { clock, increment } = countingClock()
    const host = await startPair("list-changed-loop", clock)
    // The connection's listing is set before the host's `listing` event (the catalog after it).
    const badTools = () => (host.connection("bad")?.listing?.tools ?? []).map((t) => `bad__${t.name}`)
    try {
      // The server answers listing n with tool `t<n>`, then says its list changed. The
      // notification that follows the handshake's listing must not be dropped (it was: the
      // catalog stayed at t1): the host lists again, up to the budget, at once.
      expect(await hostReaches(host, () => badTools()[0] === `bad__t${RELIST_BURST}`, 15_000)).toBe(true)
      // Then nothing more until the window has passed on the host's clock: the call is
      // answered after any listing the host would have sent (stdio keeps order).
      await turns()
      expect(textOf(await host.callTool("bad__t4", {}))).toBe(`lists=${RELIST_BURST}`)
      increment(RELIST_WINDOW_MS - 1)
      await turns()
      expect(textOf(await host.callTool("bad__t4", {}))).toBe(`lists=${RELIST_BURST}`)
      increment(1)
      expect(await hostReaches(host, () => badTools()[0] === `bad__t${2 * RELIST_BURST}`, 15_000)).toBe(true)
      await turns()
      expect(textOf(await host.callTool(`bad__t${2 * RELIST_BURST}`, {}))).toBe(`lists=${2 * RELIST_BURST}`)
      // The other server is untouched.
      expect(textOf(await host.callTool("good__echo", {}))).toBe("echo")
    } finally {
      await host.close()
    }
  })

  it("malformed entries in tools/list are left out and reported; the server's good tools and the other server stay up", async () => {
    const { clock } = countingClock()
    const host = await startPair("bad-tools", clock)
    try {
      const bad = host.connection("bad")!
      // It was: the first `null` entry threw in the listing hash, the handshake failed, and the server
      // went round restarting with no tools at all.
      expect(host.status().find((s) => s.name === "bad")?.state).toBe("ready")
      // A name outside SEP-986 is advertised with its space and slash as `_`, and still reaches the server.
      expect(host.tools().map((t) => t.name).sort()).toEqual(["bad__bad_name_x", "bad__ok", "good__echo"])
      expect(textOf(await host.callTool("bad__bad_name_x", {}))).toBe("called bad name/x")
      expect(bad.listingProblems).toEqual([
        "tools: not an object (×3)",
        "tools: no string name",
        "tools: tool \"noschema\": inputSchema is not an object schema"
      ])
      expect(textOf(await host.callTool("good__echo", {}))).toBe("echo")
    } finally {
      await host.close()
    }
  })

  it("a nextCursor that never ends: listing stops at the first repeated cursor, and says so", async () => {
    const { clock } = countingClock()
    const host = await startPair("endless-cursor", clock)
    try {
      // It was: 100 pages of the same cursor, taken as a complete listing.
      expect(host.tools().map((t) => t.name).sort()).toEqual(["bad__t1", "bad__t2", "good__echo"])
      expect(host.connection("bad")!.listingProblems).toEqual(["tools/list: the server repeated a cursor, listing stopped"])
    } finally {
      await host.close()
    }
  })

  it("a flood of roots/list (and elicitation, sampling) from one server: its roots are gathered once at a time, not once per request", async () => {
    const { clock } = countingClock()
    const host = await startPair("input-flood", clock)
    let asked = 0
    let open!: () => void
    const gate = new Promise<void>((resolve) => (open = resolve))
    // A roots source as a gateway adds one: each ask is a request to every downstream client.
    host.addRootsSource(async () => {
      asked++
      await gate
      return [{ uri: "file:///work" }]
    })
    try {
      // The server writes 2 000 requests (667 of them roots/list), then answers the call: by then
      // every roots/list has reached the host (stdio keeps order).
      expect(textOf(await host.callTool("bad__echo", {}))).toMatch(/^flooded after \d+ answers$/)
      await turns()
      // It was 667: one fan-out to every downstream client per roots/list.
      expect(asked).toBe(1)
      open()
      expect(textOf(await host.callTool("good__echo", {}))).toBe("echo")
      expect(await host.rootsFor("bad")).toEqual([{ uri: "file:///work" }])
    } finally {
      await host.close()
    }
  })

  it("thousands of tools are advertised; beyond 10 000 per server the rest are left out and reported", async () => {
    const { clock } = countingClock()
    for (const [count, kept] of [[5_000, 5_000], [20_000, MAX_LISTING_ENTRIES]] as const) {
      const host = await startPair(`many-tools ${count}`, clock)
      try {
        expect(host.tools().filter((t) => t.name.startsWith("bad__"))).toHaveLength(kept)
        expect(host.connection("bad")!.listingProblems).toEqual(count > kept ? [`tools: more than ${MAX_LISTING_ENTRIES} entries, the rest left out`] : [])
        expect(textOf(await host.callTool("good__echo", {}))).toBe("echo")
      } finally {
        await host.close()
      }
    }
  })

  it("tools named like Object.prototype members (no prefix) are advertised and routed by the host and its gateway", async () => {
    const { clock } = countingClock()
    const names = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"]
    const host = await startHost({
      mcpServers: {
        bad: { command: process.execPath, args: [HOSTILE, "proto-tools"], toolPrefix: "" },
        good: { command: process.execPath, args: [HOSTILE, "plain"] }
      }
    }, { stateFile: false, clock, onStderr: () => {} })
    const gateway = await serveGatewayHttp(makeGateway(host), { port: 0 })
    const client = await connectHttp(gateway.url)
    try {
      expect(((await client.listTools()).tools as ReadonlyArray<{ name: string }>).map((t) => t.name).sort()).toEqual([...names, "good__echo"].sort())
      for (const name of names) {
        expect(textOf(await host.callTool(name, {}))).toBe(`called ${name}`)
        expect(textOf(await client.callTool(name, {}))).toBe(`called ${name}`)
      }
      await expect(client.callTool("nope", {})).rejects.toThrow('unknown tool "nope"')
    } finally {
      await client.close()
      await gateway.close()
      await host.close()
    }
  })

  it("a server that writes megabyte lines to stderr: the host keeps a short tail of short lines", async () => {
    const { clock } = countingClock()
    let heard = 0
    let allHeard!: () => void
    const heardAll = new Promise<void>((resolve) => (allHeard = resolve))
    const host = await startHost({
      mcpServers: { bad: { command: process.execPath, args: [HOSTILE, "stderr-flood"] }, good: { command: process.execPath, args: [HOSTILE, "plain"] } }
    }, { stateFile: false, clock, onStderr: (server) => void (server === "bad" && ++heard === 25 && allHeard()) })
    try {
      expect(textOf(await host.callTool("bad__echo", {}))).toBe("after the flood")
      // stderr and stdout are separate pipes: wait until all 25 lines were heard.
      await heardAll
      const tail = host.connection("bad")!.stderrTail
      // It was: the last 20 lines whole, 20 MB held for the host's lifetime.
      expect(tail).toHaveLength(STDERR_TAIL_LINES)
      for (const line of tail) expect(line).toBe(`${"e".repeat(STDERR_TAIL_LINE_CHARS)}…`)
    } finally {
      await host.close()
    }
  })

  it("names an upstream picks (prototype names, the separator, control characters, 100 000 characters, one name twice, none): each reaches its own server, from the host and from the SDK client through the gateway", async () => {
    const { clock } = countingClock()
    const proto = ["constructor", "__proto__", "toString", "hasOwnProperty"]
    const long = "l".repeat(100_000)
    // Original name → the name the host serves it under (SEP-986: a newline, BEL or CR becomes `_`).
    const served: ReadonlyArray<readonly [string, string]> = [
      ...proto.map((n) => [n, `bad__${n}`] as const),
      ["good__echo", "bad__good__echo"],
      ["x__y", "bad__x__y"],
      ["a\nb", "bad__a_b"],
      ["c\u0007d\r", "bad__c_d_"],
      [long, `bad__${long}`]
    ]
    const host = await startHost({
      mcpServers: {
        bad: scripted({
          label: "bad",
          tools: [...served.map(([n]) => tool(n)), tool(""), tool("dup", { description: "first" }), tool("dup", { description: "second" })],
          prompts: [...proto, "good__p", "n\nl", ""].map((name) => ({ name })),
          resources: [{ uri: "__proto__", name: "constructor" }, { uri: "toString", name: "toString" }, { uri: "mem://n\nl", name: "hasOwnProperty" }]
        }),
        good: scripted({ label: "good", tools: [tool("echo")], prompts: [{ name: "p" }], resources: [{ uri: "mem://good", name: "good" }] })
      }
    }, { stateFile: false, clock, onStderr: () => {} })
    const gw = await servedGateway(host, ["bad"])
    const { client } = gw
    const perServer = gw.perServer[0]!
    try {
      const tools = [...served.map(([, s]) => s), "bad__dup", "good__echo"].sort()
      expect(host.tools().map((t) => t.name).sort()).toEqual(tools)
      // The empty names and the second `dup` are left out, and said so.
      expect(host.connection("bad")!.listingProblems).toEqual(["tools: no string name", "tools: \"dup\" listed more than once, the first kept", "prompts: no string name"])
      const listed = (await client.listTools()).tools
      expect(listed.map((t) => t.name).sort()).toEqual(tools)
      for (const [original, name] of served) expect(textOf(await client.callTool({ name, arguments: {} })), name.slice(0, 40)).toBe(`bad called ${JSON.stringify(original)}`)
      expect(textOf(await client.callTool({ name: "good__echo", arguments: {} }))).toBe(`good called "echo"`)
      // A name listed twice: its first definition, on the aggregate and on /mcp/bad alike.
      expect(listed.find((t) => t.name === "bad__dup")?.description).toBe("first")
      expect((await perServer.listTools()).tools.filter((t) => t.name === "dup").map((t) => t.description)).toEqual(["first"])
      expect(textOf(await client.callTool({ name: "bad__dup", arguments: {} }))).toBe(`bad called "dup"`)
      await expect(client.callTool({ name: "bad__nope", arguments: {} })).rejects.toThrow(/unknown tool/i)

      const prompts = (await client.listPrompts()).prompts.map((p) => p.name).sort()
      expect(prompts).toEqual([...proto.map((n) => `bad__${n}`), "bad__good__p", "bad__n\nl", "good__p"].sort())
      for (const name of [...proto, "good__p", "n\nl"]) {
        const r = await client.getPrompt({ name: `bad__${name}` })
        expect((r.messages[0]!.content as { text: string }).text).toBe(`bad prompt ${JSON.stringify(name)}`)
      }
      expect(((await client.getPrompt({ name: "good__p" })).messages[0]!.content as { text: string }).text).toBe(`good prompt "p"`)

      expect((await client.listResources()).resources.map((r) => r.uri).sort()).toEqual(["__proto__", "mem://good", "mem://n\nl", "toString"])
      for (const uri of ["__proto__", "toString", "mem://n\nl"]) {
        expect((await client.readResource({ uri })).contents[0]).toMatchObject({ uri, text: `bad read ${JSON.stringify(uri)}` })
      }
      expect((await client.readResource({ uri: "mem://good" })).contents[0]).toMatchObject({ text: `good read "mem://good"` })
      await expect(client.readResource({ uri: "constructor" })).rejects.toThrow(/not found/i)
    } finally {
      await gw.close()
    }
  })

  it("an upstream with no prefix that lists names in another server's namespace (good__echo, good__p): those names stay the other server's, whatever the config order", async () => {
    const { clock } = countingClock()
    const host = await startHost({
      mcpServers: {
        // First in config order: under the `prefix` policy the first server keeps a clashing name.
        bare: scripted({ label: "bare", tools: [tool("good__echo"), tool("constructor")], prompts: [{ name: "good__p" }] }, { toolPrefix: "" }),
        good: scripted({ label: "good", tools: [tool("echo")], prompts: [{ name: "p" }] })
      }
    }, { stateFile: false, clock, onStderr: () => {} })
    try {
      // It was: `good__echo` and `good__p` were bare's (the first in config order), good's own unreachable.
      expect(textOf(await host.callTool("good__echo", {}))).toBe(`good called "echo"`)
      expect(((await host.getPrompt("good__p")).messages as ReadonlyArray<{ content: { text: string } }>)[0]!.content.text).toBe(`good prompt "p"`)
      expect(textOf(await host.callTool("constructor", {}))).toBe(`bare called "constructor"`)
      expect(host.catalog.collisions).toEqual([
        { kind: "tool", name: "good__echo", kept: "good", dropped: ["bare"] },
        { kind: "prompt", name: "good__p", kept: "good", dropped: ["bare"] }
      ])
    } finally {
      await host.close()
    }
  })

  it("list results of the wrong shape, fields an SDK client cannot read, cursors that never repeat: left out and reported, the listing bounded, and the SDK client lists and calls the rest", async () => {
    const { clock } = countingClock()
    const host = await startHost({
      mcpServers: {
        bad: scripted({
          label: "bad",
          pages: {
            "tools/list": {
              // Not an array; then a page whose entries each break one field of the spec's Tool; then a cursor that is no string.
              "": { tools: "echo", nextCursor: "2" },
              "2": {
                tools: [
                  tool("ok"),
                  tool("counts"),
                  tool("described", { description: 42 }),
                  { name: "schema-string", inputSchema: "object" },
                  tool("props", { inputSchema: { type: "object", properties: 5 } }),
                  tool("required", { inputSchema: { type: "object", required: "x" } }),
                  tool("output", { outputSchema: { type: "array" } }),
                  tool("annotated", { annotations: "readOnly" }),
                  tool("titled", { title: ["t"] })
                ],
                nextCursor: 3
              }
            },
            "prompts/list": { "": { prompts: [{ name: "args", arguments: "x" }, { name: "okp", arguments: [{ name: "a" }] }, { name: "described", description: {} }] } },
            "resources/list": {
              "": { resources: { uri: "mem://x", name: "x" }, nextCursor: "2" },
              "2": {
                resources: [
                  { uri: "mem://ok", name: "ok", annotations: { lastModified: "2025-01-31T12:00:00Z", priority: 1 } },
                  { uri: "mem://when", name: "when", annotations: { lastModified: "2025-02-30T12:00:00Z" } },
                  { uri: "mem://size", name: "size", size: "big" }
                ]
              }
            }
          },
          // 100 pages, each with a new cursor.
          endlessCursor: "resources/templates/list"
        }),
        good: scripted({ label: "good", tools: [tool("echo")], prompts: [{ name: "p" }] })
      }
    }, { stateFile: false, clock, onStderr: () => {} })
    const gw = await servedGateway(host)
    const { client } = gw
    try {
      expect(host.status().find((s) => s.name === "bad")?.state).toBe("ready")
      expect(host.tools().map((t) => t.name).sort()).toEqual(["bad__counts", "bad__ok", "good__echo"])
      expect(host.connection("bad")!.listingProblems).toEqual([
        "tools/list: tools is not an array, that page left out",
        "tools: tool \"described\": description is not a string",
        "tools: tool \"schema-string\": inputSchema is not an object schema",
        "tools: tool \"props\": inputSchema is not an object schema",
        "tools: tool \"required\": inputSchema is not an object schema",
        "tools: tool \"output\": outputSchema is not an object schema",
        "tools: tool \"annotated\": annotations is not tool annotations",
        "tools: tool \"titled\": title is not a string",
        "resources/list: resources is not an array, that page left out",
        "resources: resource \"mem://when\": annotations is not annotations",
        "resources: resource \"mem://size\": size is not a number",
        "resources/templates/list: more than 100 pages, listing stopped",
        "prompts: prompt \"args\": arguments is not an array of prompt arguments",
        "prompts: prompt \"described\": description is not a string"
      ])
      // The listing stopped after 100 pages of templates (and asked for no more).
      expect(host.resourceTemplates()).toHaveLength(100)
      expect(JSON.parse(textOf(await host.callTool("bad__counts", {})))).toMatchObject({ "tools/list": 2, "resources/templates/list": 100 })
      // The official SDK client reads a whole list or nothing: one entry it cannot read would hide every server's.
      expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(["bad__counts", "bad__ok", "good__echo"])
      expect((await client.listPrompts()).prompts.map((p) => p.name).sort()).toEqual(["bad__okp", "good__p"])
      expect((await client.listResources()).resources.map((r) => r.uri)).toEqual(["mem://ok"])
      expect((await client.listResourceTemplates()).resourceTemplates).toHaveLength(100)
      expect(textOf(await client.callTool({ name: "good__echo", arguments: {} }))).toBe(`good called "echo"`)
      expect(textOf(await client.callTool({ name: "bad__ok", arguments: {} }))).toBe(`bad called "ok"`)
    } finally {
      await gw.close()
    }
  })

  it("a 5 MB answer (over maxMessageBytes), garbage lines, a 12 MB line with no newline: the call fails with a clear error or gets its answer, the connection stays up, the other server is untouched", async () => {
    const { clock } = countingClock()
    for (const [mode, outcome] of [
      ["oversized-response id-first", /^invalid response from the server: \d+ bytes, over the client's maxMessageBytes$/],
      ["garbage", "echo"],
      ["endless-line 12", "after the endless line"]
    ] as const) {
      const host = await startPair(mode, clock)
      try {
        const before = host.status().find((s) => s.name === "bad")!
        const got = await host.callTool("bad__echo", {}).then(textOf, (e: unknown) => e)
        if (typeof outcome === "string") expect(got, mode).toBe(outcome)
        else {
          expect(got, mode).toBeInstanceOf(RpcError)
          expect((got as RpcError).message, mode).toMatch(outcome)
        }
        // The same connection serves on: no restart, no error recorded against it.
        await turns()
        const after = host.status().find((s) => s.name === "bad")!
        expect({ state: after.state, generation: after.generation, restarts: after.restarts, lastError: after.lastError }, mode)
          .toEqual({ state: "ready", generation: before.generation, restarts: 0, lastError: undefined })
        expect(textOf(await host.callTool("good__echo", {})), mode).toBe("echo")
        if (mode === "garbage") expect(textOf(await host.callTool("bad__echo", {}))).toBe("echo")
      } finally {
        await host.close()
      }
    }
  })

  it("10 000 list_changed in one burst (tools, prompts, resources): folded into one more listing, none later on the host's clock", async () => {
    const { clock, increment } = countingClock()
    const host = await startHost({
      mcpServers: {
        bad: scripted({ label: "bad", tools: [tool("flood"), tool("counts")], numbered: true, flood: 10_000 }),
        good: scripted({ label: "good", tools: [tool("echo")] })
      }
    }, { stateFile: false, clock, onStderr: () => {} })
    // The server adds a tool `n<k>` to its k-th tools/list: the connection's listing (set before the host's
    // `listing` event) says which listing the host has.
    const listed = (k: number) => (host.connection("bad")?.listing?.tools ?? []).some((t) => t.name === `n${k}`)
    const toolsLists = async () => (JSON.parse(textOf(await host.callTool("bad__counts", {}))) as Record<string, number>)["tools/list"]
    try {
      expect(listed(1)).toBe(true)
      expect(textOf(await host.callTool("bad__flood", {}))).toBe("flooded 10000")
      // Every notification came before the answer (stdio keeps order): the first started a listing, the
      // other 9 999 came while it was under way and fold into one more after it.
      expect(await hostReaches(host, () => listed(3), 15_000)).toBe(true)
      // Any listing the host would start now goes out before the next call (stdio keeps order).
      await turns()
      expect(await toolsLists()).toBe(3)
      // Nothing was left deferred on the host's clock either.
      for (let i = 0; i < 5; i++) {
        increment(RELIST_WINDOW_MS)
        await turns()
      }
      expect(await toolsLists()).toBe(3)
      expect(textOf(await host.callTool("good__echo", {}))).toBe(`good called "echo"`)
    } finally {
      await host.close()
    }
  })

  it("requests named like Object.prototype members, undeclared inputs and answers to ids never sent, from an upstream during a call: each answered with its code (host and SDK client through the gateway), the call and the other server go on", async () => {
    const { clock } = countingClock()
    const host = await startPair("call-proto-requests", clock)
    const gw = await servedGateway(host)
    const { client } = gw
    try {
      const generation = host.status().find((s) => s.name === "bad")!.generation
      // The server answers the call with the code (or "result") each of its requests got back, once all are answered;
      // before them it sent the same methods as notifications, and answers to the ids `__proto__` and `constructor`.
      const expected = {
        "s-__proto__": -32601,
        "s-constructor": -32601,
        "s-toString": -32601,
        "s-hasOwnProperty": -32601,
        // Declined (elicitation) and the host's roots (none); sampling refused as an input the client cannot give
        // (the host's own refusal, and a gateway client that declared none: -32601, not an internal error).
        "s-elicitation/create": "result",
        "s-roots/list": "result",
        "s-sampling/createMessage": -32601
      }
      expect(JSON.parse(textOf(await host.callTool("bad__echo", {})))).toEqual(expected)
      // Through the gateway the call's requests go to its client, which declared none of them: the same answers.
      expect(JSON.parse(textOf(await client.callTool({ name: "bad__echo", arguments: {} })))).toEqual(expected)
      expect(host.status().find((s) => s.name === "bad")).toMatchObject({ state: "ready", generation, restarts: 0 })
      expect(textOf(await client.callTool({ name: "good__echo", arguments: {} }))).toBe("echo")
    } finally {
      await gw.close()
    }
  })

  it("a resource template with seven variables in a row: a read of a 100-character URI it does not match is answered at once (not after minutes of regex backtracking), one it matches reaches its server", async () => {
    const { clock } = countingClock()
    const host = await startHost({
      mcpServers: {
        bad: scripted({ label: "bad", resourceTemplates: [{ uriTemplate: "x://{a}{b}{c}{d}{e}{f}{g}/end", name: "t" }] }),
        good: scripted({ label: "good", resources: [{ uri: "mem://good", name: "good" }] })
      }
    }, { stateFile: false, clock, onStderr: () => {} })
    const gw = await servedGateway(host, ["bad"])
    const { client } = gw
    const perServer = gw.perServer[0]!
    try {
      const uri = `x://${"a".repeat(100)}`
      // It was: each of the gateway's matches of this URI (its own templates, then the host's catalog) took
      // minutes with the event loop blocked (every server and session of the process stalled).
      for (const c of [client, perServer]) {
        const t0 = performance.now()
        await expect(c.readResource({ uri })).rejects.toThrow(/not found/i)
        expect(performance.now() - t0).toBeLessThan(5_000)
      }
      expect((await client.readResource({ uri: "x://abcdefg/end" })).contents[0]).toMatchObject({ text: `bad read "x://abcdefg/end"` })
      expect((await client.readResource({ uri: "mem://good" })).contents[0]).toMatchObject({ text: `good read "mem://good"` })
    } finally {
      await gw.close()
    }
  })

  it("after all of the above: no child process is left (each host's close reaped its servers' groups)", () => {
    expect(childProcesses()).toEqual([])
  })
})
