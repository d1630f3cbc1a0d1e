/**
 * Interop: our client drives the reference server
 * `@modelcontextprotocol/server-everything` (built on the official TS SDK) over
 * stdio, as a real child process.
 *
 * The server registers some tools only when the client declared the matching
 * capability (`trigger-sampling-request` ⇐ sampling, `trigger-elicitation-request`
 * ⇐ elicitation, `get-roots-list` ⇐ roots) and, when roots are declared, asks
 * for them on its own shortly after `initialized`. So one session declares
 * everything and answers with our handlers; a second declares nothing.
 *
 * Every frame in either direction is recorded on the client side, so the tests
 * can check what the session API hides: which server→client requests arrived
 * and what we answered.
 */
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ClientSession, type ClientSessionOptions, type Result } from "../src/client/ClientSession.ts"
import { RpcError } from "../src/protocol/requestErrors.ts"
import { McpError } from "../src/protocol/errors.ts"
import { decodeText, type JsonRpcMessage, type JsonRpcNotification, type JsonRpcRequest, type Params } from "../src/protocol/jsonrpc.ts"
import { makeStdioClientTransport, type StdioClientTransport } from "../src/transports/stdioClient.ts"
import type { Transport } from "../src/transports/Transport.ts"

const EVERYTHING = fileURLToPath(new URL("../node_modules/@modelcontextprotocol/server-everything/dist/index.js", import.meta.url))

interface Recorded {
  readonly session: ClientSession
  readonly child: StdioClientTransport
  /** Frames from the server, decoded. */
  readonly received: Array<JsonRpcMessage>
  /** Messages we sent. */
  readonly sent: Array<JsonRpcMessage>
  readonly stderr: Array<string>
  readonly notifications: Array<JsonRpcNotification>
}

/** Spawn server-everything and connect; every frame in both directions is recorded. */
const connectEverything = async (options: ClientSessionOptions): Promise<Recorded> => {
  const stderr: Array<string> = []
  const notifications: Array<JsonRpcNotification> = []
  const child = makeStdioClientTransport({
    command: process.execPath,
    args: [EVERYTHING, "stdio"],
    stderr: (line) => void stderr.push(line),
    closeGraceMs: 3_000
  })
  const received: Array<JsonRpcMessage> = []
  const sent: Array<JsonRpcMessage> = []
  const recording: Transport = {
    kind: child.kind,
    authoritativeLiveness: child.authoritativeLiveness,
    start: (h) =>
      child.start({
        ...h,
        onFrame: (text) => {
          const d = decodeText(text)
          if (d._tag === "Message") received.push(d.message)
          h.onFrame(text)
        }
      }),
    send: (m: JsonRpcMessage) => {
      sent.push(m)
      child.send(m)
    },
    close: () => child.close()
  }
  try {
    await child.spawned
    const session = await ClientSession.connect(recording, {
      clientInfo: { name: "mcp-actors-interop", version: "0.0.1" },
      requestTimeoutMs: 10_000,
      initializeTimeoutMs: 10_000,
      onNotification: (n) => void notifications.push(n),
      ...options
    })
    return { session, child, received, sent, stderr, notifications }
  } catch (e) {
    await child.close()
    throw e
  }
}

const textOf = (result: Result): string => {
  const content = result.content as ReadonlyArray<{ readonly type: string; readonly text?: string }>
  return content.filter((c) => c.type === "text").map((c) => c.text).join("\n")
}
const namesOf = (list: Result, key: string): Array<string> => (list[key] as ReadonlyArray<{ readonly name: string }>).map((x) => x.name)
const serverRequests = (r: Recorded, method: string) =>
  r.received.filter((m): m is JsonRpcRequest => "method" in m && "id" in m && m.method === method)
/** Our answers (results or errors) to the server's requests with these ids. */
const answersTo = (r: Recorded, requests: ReadonlyArray<JsonRpcRequest>) =>
  r.sent.filter((m) => !("method" in m) && requests.some((q) => q.id === m.id))

/**
 * The conditional tools are registered in the server's `oninitialized`, which
 * runs when our `notifications/initialized` arrives; list until they show up
 * (the server then also sends `notifications/tools/list_changed`).
 */
const listToolsWhen = async (session: ClientSession, ready: (names: ReadonlyArray<string>) => boolean): Promise<Result> => {
  for (let i = 0; ; i++) {
    const list = await session.listTools()
    if (ready(namesOf(list, "tools")) || i === 20) return list
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

// ------------------------------------------------------------------ everything declared

describe("server-everything over stdio, sampling + elicitation + roots declared", () => {
  let r: Recorded
  const sampling: Array<Params | undefined> = []
  const elicitations: Array<Params | undefined> = []
  let rootsCalls = 0
  let elicitationAnswer: Result = { action: "accept", content: { name: "Ada Lovelace", check: true, integer: 7 } }

  beforeAll(async () => {
    r = await connectEverything({
      onSampling: (params) => {
        sampling.push(params)
        const messages = params?.messages as ReadonlyArray<{ content: { text: string } }>
        if (messages[0]?.content.text.includes("please fail")) throw new McpError(-32001, "sampling refused by the user")
        return {
          role: "assistant",
          model: "mcp-actors-test-model",
          stopReason: "endTurn",
          content: { type: "text", text: `SAMPLED<${messages[0]?.content.text}> maxTokens=${String(params?.maxTokens)}` }
        }
      },
      onElicitation: (params) => {
        elicitations.push(params)
        return elicitationAnswer
      },
      onRoots: () => {
        rootsCalls++
        return { roots: [{ uri: "file:///work/mcp-actors", name: "mcp-actors checkout" }] }
      }
    })
  }, 20_000)

  afterAll(async () => {
    if (!r) return
    await r.session.close({ drainMs: 2_000 })
    // The child exited on its own once its stdin closed (no SIGTERM/SIGKILL needed).
    expect(await r.child.exited).toEqual({ exitCode: 0, signal: null })
  }, 15_000)

  it("handshake: latest version, the reference server's identity and capabilities, our declared capabilities", () => {
    expect(r.session.protocolVersion).toBe("2025-11-25")
    expect(r.session.serverInfo).toMatchObject({ name: "mcp-servers/everything", version: expect.any(String) })
    expect(r.session.serverCapabilities).toMatchObject({
      tools: { listChanged: true },
      prompts: { listChanged: true },
      resources: { subscribe: true, listChanged: true },
      logging: {}
    })
    expect(r.session.instructions).toEqual(expect.any(String))
    const init = r.sent.find((m): m is JsonRpcRequest => "method" in m && m.method === "initialize")!
    expect(init.params?.capabilities).toEqual({ sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } })
    expect(r.stderr.join("\n")).toMatch(/Starting default \(STDIO\) server/)
  })

  it("lists tools, including the ones gated on the capabilities we declared", async () => {
    const gated = ["trigger-sampling-request", "trigger-elicitation-request", "get-roots-list"]
    const list = await listToolsWhen(r.session, (names) => gated.every((g) => names.includes(g)))
    const names = namesOf(list, "tools")
    expect(names).toEqual(expect.arrayContaining(["echo", "get-sum", ...gated]))
    for (const tool of list.tools as ReadonlyArray<{ inputSchema: { type: string } }>) expect(tool.inputSchema.type).toBe("object")
    // Registering them after `initialized` was announced to us.
    expect(r.notifications.some((n) => n.method === "notifications/tools/list_changed")).toBe(true)
  })

  it("calls tools: echo, get-sum, and a validation failure comes back as an isError result", async () => {
    expect(textOf(await r.session.callTool("echo", { message: "hello from mcp-actors" }))).toBe("Echo: hello from mcp-actors")
    expect(textOf(await r.session.callTool("get-sum", { a: 2, b: 40 }))).toBe("The sum of 2 and 40 is 42.")
    const bad = await r.session.callTool("get-sum", { a: "two", b: 40 })
    expect(bad.isError).toBe(true)
    expect(textOf(bad)).toMatch(/Invalid arguments for tool get-sum/)
  })

  it("reads resources: a static document and a templated one; a missing one is an RpcError", async () => {
    const list = await r.session.listResources()
    const resources = list.resources as ReadonlyArray<{ uri: string; mimeType?: string }>
    expect(resources.length).toBeGreaterThan(0)
    const doc = resources.find((x) => x.uri.endsWith(".md"))!
    const read = await r.session.readResource(doc.uri)
    const contents = read.contents as ReadonlyArray<{ uri: string; text?: string }>
    expect(contents[0]!.uri).toBe(doc.uri)
    expect(contents[0]!.text!.length).toBeGreaterThan(0)

    const templates = await r.session.listResourceTemplates()
    expect((templates.resourceTemplates as ReadonlyArray<{ uriTemplate: string }>).map((t) => t.uriTemplate)).toContain(
      "demo://resource/dynamic/text/{resourceId}"
    )
    const dynamic = await r.session.readResource("demo://resource/dynamic/text/7")
    expect((dynamic.contents as ReadonlyArray<{ text: string }>)[0]!.text).toMatch(/^Resource 7: /)

    const missing = await r.session.readResource("demo://resource/nope").catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(RpcError)
    expect((missing as RpcError).code).toBe(-32602)
  })

  it("lists and gets prompts (with and without arguments) and completes an argument", async () => {
    const prompts = await r.session.listPrompts()
    expect(namesOf(prompts, "prompts")).toEqual(expect.arrayContaining(["simple-prompt", "args-prompt"]))
    const simple = await r.session.getPrompt("simple-prompt")
    expect((simple.messages as ReadonlyArray<{ content: { text: string } }>)[0]!.content.text).toBe("This is a simple prompt without arguments.")
    const args = await r.session.getPrompt("args-prompt", { city: "Lyon", state: "Rhône" })
    expect((args.messages as ReadonlyArray<{ content: { text: string } }>)[0]!.content.text).toBe("What's weather in Lyon, Rhône?")
    const completion = await r.session.complete({ type: "ref/prompt", name: "completable-prompt" }, { name: "department", value: "E" })
    expect(completion.completion).toMatchObject({ values: ["Engineering"] })
  })

  it("sampling: the server's sampling/createMessage reaches onSampling and our answer is the tool's result", async () => {
    const before = sampling.length
    const result = await r.session.callTool("trigger-sampling-request", { prompt: "tell me a joke", maxTokens: 42 })
    expect(sampling.length).toBe(before + 1)
    const params = sampling.at(-1)!
    expect(params.maxTokens).toBe(42)
    expect(params.systemPrompt).toBe("You are a helpful test server.")
    const text = textOf(result)
    expect(text).toContain("mcp-actors-test-model")
    expect(text).toContain("SAMPLED<Resource trigger-sampling-request context: tell me a joke> maxTokens=42")
    // On the wire: one request from the server, one result from us.
    const requests = serverRequests(r, "sampling/createMessage")
    expect(answersTo(r, requests).filter((m) => "result" in m)).toHaveLength(requests.length)
  })

  it("sampling: an error thrown by onSampling reaches the server with its code", async () => {
    const result = await r.session.callTool("trigger-sampling-request", { prompt: "please fail" })
    expect(result.isError).toBe(true)
    expect(textOf(result)).toMatch(/-32001.*sampling refused by the user/)
    const last = serverRequests(r, "sampling/createMessage").at(-1)!
    expect(answersTo(r, [last])).toEqual([{ jsonrpc: "2.0", id: last.id, error: { code: -32001, message: "sampling refused by the user" } }])
  })

  it("elicitation: accepted content and a decline are both reflected in the tool's result", async () => {
    const accepted = textOf(await r.session.callTool("trigger-elicitation-request", {}))
    expect(elicitations.at(-1)).toMatchObject({ message: expect.any(String), requestedSchema: { type: "object", required: ["name"] } })
    expect(accepted).toContain("User provided the requested information")
    expect(accepted).toContain("- Name: Ada Lovelace")
    expect(accepted).toContain("- Agreed to terms: true")
    expect(accepted).toContain("- Favorite Integer: 7")

    elicitationAnswer = { action: "decline" }
    const declined = textOf(await r.session.callTool("trigger-elicitation-request", {}))
    expect(declined).toContain("User declined to provide the requested information")
    expect(declined).not.toContain("Ada Lovelace")
  })

  it("roots: the server asks for them, and reports exactly what onRoots answered", async () => {
    const text = textOf(await r.session.callTool("get-roots-list", {}))
    expect(rootsCalls).toBeGreaterThanOrEqual(1)
    expect(text).toContain("Current MCP Roots (1 total)")
    expect(text).toContain("1. mcp-actors checkout\n   URI: file:///work/mcp-actors")
    const requests = serverRequests(r, "roots/list")
    expect(requests.length).toBe(rootsCalls)
    expect(answersTo(r, requests)).toContainEqual({
      jsonrpc: "2.0",
      id: requests[0]!.id,
      result: { roots: [{ uri: "file:///work/mcp-actors", name: "mcp-actors checkout" }] }
    })
  })

  it("server-initiated requests never needed a ping, and the session is still operating", async () => {
    expect(r.session.state).toMatch(/^operating\./)
    // stdio reports liveness itself: keepalive is off by default.
    expect(r.session.state).toContain("keepalive.disabled")
    await expect(r.session.ping()).resolves.toEqual({})
  })
})

// ------------------------------------------------------------------ nothing declared

describe("server-everything over stdio, no client capabilities", () => {
  let r: Recorded

  beforeAll(async () => {
    r = await connectEverything({})
  }, 20_000)

  afterAll(async () => {
    if (!r) return
    await r.session.close({ drainMs: 2_000 })
    expect((await r.child.exited).signal).toBeNull()
  }, 15_000)

  it("declares nothing, and the capability-gated tools are not offered", async () => {
    const init = r.sent.find((m): m is JsonRpcRequest => "method" in m && m.method === "initialize")!
    expect(init.params?.capabilities).toEqual({})
    // Give the server's `oninitialized` the same chance as in the other session, then list.
    await r.session.ping()
    const names = namesOf(await r.session.listTools(), "tools")
    expect(names).toContain("echo")
    expect(names).not.toContain("trigger-sampling-request")
    expect(names).not.toContain("trigger-elicitation-request")
    expect(names).not.toContain("get-roots-list")
  })

  it("calling a tool gated on sampling fails cleanly: an isError result, no sampling request, session intact", async () => {
    const result = await r.session.callTool("trigger-sampling-request", { prompt: "hi" })
    expect(result.isError).toBe(true)
    expect(textOf(result)).toMatch(/Tool trigger-sampling-request not found/)
    const serverToClient = r.received.filter((m) => "method" in m && "id" in m)
    expect(serverToClient).toEqual([])
    expect(r.session.state).toMatch(/^operating\./)
    expect(textOf(await r.session.callTool("echo", { message: "still here" }))).toBe("Echo: still here")
  })

  it("a server→client request for an undeclared capability would get -32601 from us", async () => {
    // The reference server never sends one (it checks our capabilities first), so inject it on our side.
    r.session.receive({ jsonrpc: "2.0", id: "forged-1", method: "sampling/createMessage", params: { messages: [], maxTokens: 1 } })
    await new Promise((resolve) => setImmediate(resolve))
    expect(r.sent.filter((m) => !("method" in m) && m.id === "forged-1")).toEqual([
      { jsonrpc: "2.0", id: "forged-1", error: { code: -32601, message: expect.stringMatching(/sampling\/createMessage/) } }
    ])
  })
})
