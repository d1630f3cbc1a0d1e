/**
 * Interop: the official TypeScript SDK client (`@modelcontextprotocol/sdk`
 * 1.32.x, `Client` + `StdioClientTransport`) drives our stdio server
 * (`src/cli/main.ts serve --stdio`, demo example) as a real child process.
 *
 * Every message the server sends is also recorded on the wire (a transport
 * `onmessage` set before `connect`, which the SDK chains), so the tests can
 * check what the SDK hides: the negotiated protocol version, the absence of a
 * response to a cancelled request, the order of progress notifications.
 */
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import { type JSONRPCMessage, LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const BIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const CWD = fileURLToPath(new URL("..", import.meta.url))

/** A stdio client transport that can rewrite the initialize request's protocolVersion. */
class RecordingStdioTransport extends StdioClientTransport {
  readonly received: Array<JSONRPCMessage> = []
  readonly sent: Array<JSONRPCMessage> = []
  private readonly forcedVersion: string | undefined
  stderrText = ""

  constructor(args: ReadonlyArray<string>, forcedVersion?: string) {
    super({ command: process.execPath, args: [BIN, "serve", "--stdio", ...args], cwd: CWD, stderr: "pipe" })
    this.forcedVersion = forcedVersion
    // Protocol.connect chains a pre-existing onmessage: this sees every message from the server.
    this.onmessage = (message) => void this.received.push(message)
    this.stderr?.on("data", (chunk: Buffer) => (this.stderrText += chunk.toString()))
  }

  override send(message: JSONRPCMessage): Promise<void> {
    let out = message
    if (this.forcedVersion !== undefined && "method" in out && out.method === "initialize" && "id" in out) {
      out = { ...out, params: { ...out.params, protocolVersion: this.forcedVersion } }
    }
    this.sent.push(out)
    return super.send(out)
  }

  /** The InitializeResult as the server sent it. */
  initializeResult(): Record<string, unknown> {
    const init = this.sent.find((m) => "method" in m && m.method === "initialize" && "id" in m) as { id: string | number } | undefined
    const res = this.received.find((m) => "id" in m && init !== undefined && m.id === init.id && "result" in m) as { result: Record<string, unknown> } | undefined
    if (!res) throw new Error("no initialize result recorded")
    return res.result
  }
}

/**
 * How the child exited. StdioClientTransport keeps its ChildProcess private; it is read once, right after
 * `connect`, only to observe the exit. The stdio server installs no signal handler, so `signal: null, code: 0`
 * means it exited by itself on stdin EOF, before the SDK's SIGTERM (sent 2 s after closing stdin).
 */
const exitOf = (transport: StdioClientTransport): Promise<{ code: number | null; signal: string | null }> => {
  const child = (transport as unknown as { _process?: import("node:child_process").ChildProcess })._process
  if (!child) throw new Error("no child process")
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode })
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })))
}

const connect = async (options: { readonly args?: ReadonlyArray<string>; readonly version?: string; readonly capabilities?: Record<string, unknown> } = {}) => {
  const transport = new RecordingStdioTransport(options.args ?? [], options.version)
  const client = new Client({ name: "sdk-interop-test", version: "1.0.0" }, { capabilities: options.capabilities ?? {} })
  await client.connect(transport as unknown as Transport)
  return { client, transport }
}

const textOf = (result: unknown): string => {
  const content = (result as { content: ReadonlyArray<{ type: string; text?: string }> }).content
  expect(content[0]?.type).toBe("text")
  return content[0]!.text!
}

describe("SDK Client over stdio (latest version 2025-11-25)", () => {
  let client: Client
  let transport: RecordingStdioTransport

  beforeAll(async () => {
    ;({ client, transport } = await connect())
  }, 15_000)
  afterAll(async () => {
    await client?.close()
  })

  it("initialize: version, serverInfo, capabilities and instructions", () => {
    expect(transport.initializeResult().protocolVersion).toBe("2025-11-25")
    expect(client.getServerVersion()).toEqual({ name: "mcp-actors-demo", version: "0.1.0" })
    const caps = client.getServerCapabilities()
    expect(caps).toMatchObject({ tools: {}, resources: {}, prompts: {}, logging: {}, completions: {} })
    expect(client.getInstructions()).toBe("A demo server: try echo, count, log and slow.")
    // The SDK sent notifications/initialized right after the result.
    expect(transport.sent.some((m) => "method" in m && m.method === "notifications/initialized")).toBe(true)
  })

  it("tools/list lists the demo tools with their schemas", async () => {
    const { tools } = await client.listTools()
    expect(tools.map((t) => t.name).sort()).toEqual(["count", "echo", "log", "slow"])
    const count = tools.find((t) => t.name === "count")!
    expect(count.outputSchema).toMatchObject({ type: "object", required: ["counted"] })
    expect(tools.find((t) => t.name === "echo")!.inputSchema).toMatchObject({ required: ["text"] })
  })

  it("tools/call echo returns the exact text (unicode, quotes, newlines)", async () => {
    const text = "héllo \"wörld\"\n\t😀 {json} \\ end"
    const result = await client.callTool({ name: "echo", arguments: { text } })
    expect(result.isError).toBeFalsy()
    expect(textOf(result)).toBe(text)
  })

  it("tools/call count: 3 increasing progress notifications before the response, all delivered to onprogress, then structuredContent", async () => {
    const progress: Array<{ progress: number; total?: number; message?: string }> = []
    const result = await client.callTool({ name: "count", arguments: { n: 3, stepMs: 20 } }, undefined, {
      onprogress: (p) => void progress.push(p)
    })
    expect(result.structuredContent).toEqual({ counted: 3 })
    expect(textOf(result)).toBe("counted to 3")
    // The wire: exactly 3 progress notifications for this request's token, increasing, all before the response.
    const call = transport.sent.findLast((m) => "method" in m && m.method === "tools/call") as { id: number; params: { _meta: { progressToken: number } } }
    const token = call.params._meta.progressToken
    const wire = transport.received.filter((m) =>
      ("id" in m && m.id === call.id) || ("method" in m && m.method === "notifications/progress" && (m.params as { progressToken: unknown }).progressToken === token)
    ) as Array<{ method?: string; params?: { progress: number; total: number; message: string } }>
    expect(wire.map((m) => (m.method ? m.params!.progress : "response"))).toEqual([1, 2, 3, "response"])
    expect(wire.slice(0, 3).map((m) => [m.params!.total, m.params!.message])).toEqual([[3, "step 1 of 3"], [3, "step 2 of 3"], [3, "step 3 of 3"]])
    // What the SDK hands to onprogress: all three. SDK 1.32 runs notification handlers in a microtask but drops the
    // progress handler synchronously on the response, so progress read in the same chunk as the response would be
    // lost (typescript-sdk#2580); the server's progress barrier (src/server/progressBarrier.ts) pings after the last
    // progress and answers only after the pong, by which time the client has handled every notification, however
    // late it reads. Deterministic: no timing is involved.
    expect(progress.map((p) => p.progress)).toEqual([1, 2, 3])
    const afterLast = transport.received.slice(transport.received.findLastIndex((m) => "method" in m && m.method === "notifications/progress"))
    const ping = afterLast.find((m) => "method" in m && m.method === "ping") as { id: string | number } | undefined
    expect(ping).toBeDefined()
    expect(afterLast.findIndex((m) => m === ping)).toBeLessThan(afterLast.findIndex((m) => "id" in m && m.id === call.id && !("method" in m)))
    expect(transport.sent.some((m) => "id" in m && m.id === ping!.id && "result" in m)).toBe(true)
    expect(progress.every((p) => p.total === 3 && p.message === `step ${p.progress} of 3`)).toBe(true)
  })

  it("cancellation: an aborted slow call rejects, no response is ever sent for it, the server stays usable", async () => {
    const controller = new AbortController()
    const pending = client.callTool({ name: "slow", arguments: { ms: 10_000 } }, undefined, { signal: controller.signal })
    const rejected = expect(pending).rejects.toThrow()
    await client.ping() // answered after the call's line was read (stdio keeps order): the call is in flight
    controller.abort("user cancelled")
    await rejected
    const call = transport.sent.findLast((m) => "method" in m && m.method === "tools/call") as unknown as { id: number; params: { name: string } }
    expect(call.params.name).toBe("slow")
    expect(transport.sent.at(-1)).toMatchObject({ method: "notifications/cancelled", params: { requestId: call.id } })
    // A following call works, and by the time it is answered, the cancelled one got no response.
    const echo = await client.callTool({ name: "echo", arguments: { text: "after cancel" } })
    expect(textOf(echo)).toBe("after cancel")
    expect(transport.received.some((m) => "id" in m && m.id === call.id)).toBe(false)
  })

  it("ping answers {}", async () => {
    await expect(client.ping()).resolves.toEqual({})
  })

  it("logging: setLevel(warning) filters info; error arrives through the SDK's notification handler", async () => {
    const logs: Array<{ level: string; data: unknown; logger?: string }> = []
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params))
    await client.setLoggingLevel("warning")
    await client.callTool({ name: "log", arguments: { level: "info", message: "filtered" } })
    await client.callTool({ name: "log", arguments: { level: "warning", message: "at threshold" } })
    await client.callTool({ name: "log", arguments: { level: "error", message: "boom" } })
    // Each notification is written before its call's response, so all have arrived.
    expect(logs).toEqual([
      { level: "warning", data: "at threshold", logger: "demo" },
      { level: "error", data: "boom", logger: "demo" }
    ])
    await client.setLoggingLevel("debug")
    await client.callTool({ name: "log", arguments: { level: "info", message: "now visible" } })
    expect(logs.at(-1)).toEqual({ level: "info", data: "now visible", logger: "demo" })
  })

  it("resources: list, read demo://readme, read the template demo://greeting/{name}", async () => {
    const { resources } = await client.listResources()
    expect(resources.map((r) => r.uri)).toEqual(["demo://readme"])
    const { resourceTemplates } = await client.listResourceTemplates()
    expect(resourceTemplates.map((t) => t.uriTemplate)).toEqual(["demo://greeting/{name}"])
    const readme = await client.readResource({ uri: "demo://readme" })
    expect(readme.contents).toEqual([{ uri: "demo://readme", mimeType: "text/plain", text: "mcp-actors demo server" }])
    const greeting = await client.readResource({ uri: "demo://greeting/Ada%20L" })
    expect(greeting.contents[0]).toMatchObject({ uri: "demo://greeting/Ada%20L", text: "Hello, Ada L!" })
    await expect(client.readResource({ uri: "demo://nope" })).rejects.toMatchObject({ code: -32002 })
  })

  it("prompts: list and get greet", async () => {
    const { prompts } = await client.listPrompts()
    expect(prompts.map((p) => p.name)).toEqual(["greet"])
    const prompt = await client.getPrompt({ name: "greet", arguments: { name: "Grace" } })
    expect(prompt.messages).toEqual([{ role: "user", content: { type: "text", text: "Please greet Grace." } }])
    await expect(client.getPrompt({ name: "greet", arguments: {} })).rejects.toMatchObject({ code: -32602 })
  })

  it("completion/complete on argument name", async () => {
    const r = await client.complete({ ref: { type: "ref/prompt", name: "greet" }, argument: { name: "name", value: "a" } })
    expect(r.completion).toEqual({ values: ["Ada", "Alan"], total: 2, hasMore: false })
    const none = await client.complete({ ref: { type: "ref/prompt", name: "greet" }, argument: { name: "other", value: "a" } })
    expect(none.completion.values).toEqual([])
  })

  it("protocol errors reach the SDK as McpError codes", async () => {
    await expect(client.callTool({ name: "no-such-tool", arguments: {} })).rejects.toMatchObject({ code: -32602 })
    // SEP-1303: invalid arguments are a tool execution error, not a protocol error.
    const bad = await client.callTool({ name: "echo", arguments: { text: 42 } })
    expect(bad.isError).toBe(true)
    expect(textOf(bad)).toMatch(/text/)
  })
})

describe("SDK Client over stdio: version negotiation", () => {
  for (const version of ["2024-11-05", "2025-03-26", "2025-06-18"]) {
    it(`a client asking for ${version} gets ${version} and a working session`, async () => {
      const { client, transport } = await connect({ version })
      try {
        expect(transport.sent.find((m) => "method" in m && m.method === "initialize")).toMatchObject({ params: { protocolVersion: version } })
        expect(transport.initializeResult().protocolVersion).toBe(version)
        expect(client.getServerVersion()?.name).toBe("mcp-actors-demo")
        const echo = await client.callTool({ name: "echo", arguments: { text: version } })
        expect(textOf(echo)).toBe(version)
        await expect(client.ping()).resolves.toEqual({})
      } finally {
        await client.close()
      }
    }, 15_000)
  }

  it("an unsupported requested version (1999-01-01) is answered with the server's latest, 2025-11-25", async () => {
    const { client, transport } = await connect({ version: "1999-01-01" })
    try {
      expect(transport.initializeResult().protocolVersion).toBe("2025-11-25")
      const echo = await client.callTool({ name: "echo", arguments: { text: "negotiated" } })
      expect(textOf(echo)).toBe("negotiated")
    } finally {
      await client.close()
    }
  }, 15_000)
})

describe("SDK Client over stdio: shutdown", () => {
  it("the cancelled handler really stopped: after stdin closes, the server exits by itself at once (no 10 s timer left)", async () => {
    const { client, transport } = await connect()
    const controller = new AbortController()
    const pending = client.callTool({ name: "slow", arguments: { ms: 10_000 } }, undefined, { signal: controller.signal })
    await client.ping() // answered after the call's line was read (stdio keeps order): the call is in flight
    controller.abort()
    await expect(pending).rejects.toThrow()
    // The server removed the request from its in-flight table on cancel, so only the
    // handler's own AbortSignal listener can clear its 10 s timer. Were it still pending,
    // the process would outlive stdin EOF and the SDK would need SIGTERM after 2 s.
    const exited = exitOf(transport)
    await client.close()
    expect(await exited).toEqual({ code: 0, signal: null })
    expect(transport.stderrText).toContain("session ended (stdin ended)")
  }, 15_000)

  it("closing stdin mid-call ends the session (the in-flight handler is aborted) and the process exits promptly", async () => {
    const { client, transport } = await connect()
    const pending = client.callTool({ name: "slow", arguments: { ms: 10_000 } })
    const settled = pending.then(() => "resolved", () => "rejected")
    await client.ping() // answered after the call's line was read (stdio keeps order): the call is in flight
    const exited = exitOf(transport)
    await client.close()
    expect(await exited).toEqual({ code: 0, signal: null })
    expect(await settled).toBe("rejected")
    expect(transport.stderrText).toContain("session ended (stdin ended)")
  }, 15_000)
})
