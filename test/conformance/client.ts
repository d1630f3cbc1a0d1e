/**
 * Our conformance client: what `@modelcontextprotocol/conformance client`
 * runs as `--command "node <abs path>/test/conformance/client.ts"`. The tool
 * appends the scenario server's URL as the last argument and names the
 * scenario in `MCP_CONFORMANCE_SCENARIO` (conformance.md §0, §4.2).
 *
 * Built only on our client API (`connectHttp` → the one `Client`, an `HttpClientSession` over
 * `HttpClientTransport`), so the scenarios test our client, not a helper:
 *
 * - `initialize`: connect (initialize + initialized), close.
 * - `tools_call`: list the tools, call `add_numbers` {a, b}.
 * - `elicitation-sep1034-client-defaults`: call `test_client_elicitation_defaults`
 *   and answer its `elicitation/create` with `accept` and every default of the
 *   requested schema applied (SEP-1034).
 * - `sse-retry`: call `test_reconnection`; the server closes the POST stream
 *   after a `retry: 500` priming event, and the transport must resume with
 *   GET + `Last-Event-ID` after that delay, where the result arrives.
 *
 * Exit code 0 when the scenario's calls succeeded, 1 otherwise (the tool
 * treats a non-zero exit as a failed scenario). Anything else is "unknown
 * scenario" (exit 2).
 */
import { pathToFileURL } from "node:url"
import { connectHttp } from "../../src/client/connectHttp.ts"
import type { Client } from "../../src/client/Client.ts"
import type { Params } from "../../src/protocol/jsonrpc.ts"

const CLIENT_INFO = { name: "mcp-actors-conformance-client", version: "0.1.0" } as const

const log = (text: string) => process.stderr.write(`[conformance-client] ${text}\n`)

/** The schema's defaults (SEP-1034): each property's `default`, for properties the user did not fill in. */
export const applySchemaDefaults = (schema: unknown, content: Record<string, unknown> = {}): Record<string, unknown> => {
  const properties = (schema as { properties?: Record<string, { default?: unknown }> } | undefined)?.properties ?? {}
  const out: Record<string, unknown> = { ...content }
  for (const [name, prop] of Object.entries(properties)) {
    if (out[name] === undefined && prop !== null && typeof prop === "object" && "default" in prop) out[name] = prop.default
  }
  return out
}

const textOf = (result: { readonly [k: string]: unknown }): string =>
  ((result.content as ReadonlyArray<{ type: string; text?: string }> | undefined) ?? []).filter((c) => c.type === "text").map((c) => c.text).join(" ")

const withSession = async (url: string, options: Parameters<typeof connectHttp>[1], body: (s: Client) => Promise<void>) => {
  const session = await connectHttp(url, { clientInfo: CLIENT_INFO, ...options })
  log(`connected: protocol ${session.protocolVersion}, server ${session.serverInfo?.name ?? "?"}`)
  try {
    await body(session)
  } finally {
    await session.close({ drainMs: 1_000 })
  }
}

const scenarios: Readonly<Record<string, (url: string) => Promise<void>>> = {
  initialize: (url) => withSession(url, {}, async () => {}),

  tools_call: (url) =>
    withSession(url, {}, async (s) => {
      const { tools } = (await s.listTools()) as { tools: ReadonlyArray<{ name: string }> }
      log(`tools: ${tools.map((t) => t.name).join(", ")}`)
      if (!tools.some((t) => t.name === "add_numbers")) throw new Error("add_numbers is not listed")
      const result = await s.callTool("add_numbers", { a: 5, b: 3 })
      log(`add_numbers → ${textOf(result)}`)
      if (result.isError === true) throw new Error(`add_numbers failed: ${textOf(result)}`)
    }),

  "elicitation-sep1034-client-defaults": (url) =>
    withSession(url, {
      onElicitation: (params: Params | undefined) => {
        const content = applySchemaDefaults(params?.requestedSchema)
        log(`elicitation/create → accept ${JSON.stringify(content)}`)
        return { action: "accept", content }
      }
    }, async (s) => {
      const result = await s.callTool("test_client_elicitation_defaults", {})
      log(`test_client_elicitation_defaults → ${textOf(result)}`)
      if (result.isError === true) throw new Error(textOf(result))
    }),

  "sse-retry": (url) =>
    // The scenario's server answers a pending call on *any* GET. Our standalone GET stream,
    // opened after `initialized`, races the tools/call POST: when it lands second (a loaded
    // machine) the answer arrives there and the resumption this scenario measures never
    // happens. Without it, the POST stream's resumption (retry + Last-Event-ID) is what runs.
    withSession(url, { standaloneStream: false }, async (s) => {
      const started = Date.now()
      const result = await s.callTool("test_reconnection", {}, { timeoutMs: 10_000 })
      log(`test_reconnection → ${textOf(result)} (${Date.now() - started} ms)`)
      if (result.isError === true) throw new Error(textOf(result))
    })
}

const main = async (): Promise<number> => {
  const url = process.argv[process.argv.length - 1]
  const name = process.env.MCP_CONFORMANCE_SCENARIO
  if (url === undefined || !/^https?:\/\//.test(url)) {
    log("usage: MCP_CONFORMANCE_SCENARIO=<scenario> node test/conformance/client.ts <server url>")
    return 2
  }
  const run = name === undefined ? undefined : scenarios[name]
  if (run === undefined) {
    log(`unknown scenario ${JSON.stringify(name)} (known: ${Object.keys(scenarios).join(", ")})`)
    return 2
  }
  log(`scenario ${name} against ${url}`)
  await run(url)
  return 0
}

// Only when run as the entry point, so tests can import applySchemaDefaults.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => {
      process.exitCode = code
    },
    (e: unknown) => {
      log(`failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
      process.exitCode = 1
    }
  )
}
