/**
 * The Streamable HTTP traffic of the soak (`bench/soak.ts`) and of the leak hunt
 * (`bench/leakHunt.ts`), written once: the JSON-RPC frames both send, and the six
 * kinds of HTTP operation, each one round of it against a live server.
 *
 * The caller hears of each operation and of each answer that is not what the
 * kind expects through `report` (the soak counts them; the leak hunt fails the op).
 */

export const ACCEPT = { accept: "application/json, text/event-stream", "content-type": "application/json" }
export const rpc = (id: number | string, method: string, params?: object): string =>
  JSON.stringify(params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params })
export const INIT = (v = "2025-11-25") => ({ protocolVersion: v, capabilities: {}, clientInfo: { name: "soak", version: "1" } })
export const MODERN_META = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} }

export type HttpKind = "churn" | "abandoned" | "handshake" | "modern" | "dropped" | "malformed"
export const HTTP_KINDS: ReadonlyArray<HttpKind> = ["churn", "abandoned", "handshake", "modern", "dropped", "malformed"]

export interface TrafficReport {
  /** One operation done (a request answered, a socket dropped on purpose). */
  readonly op: () => void
  /** An answer the kind did not expect (status and body, cut short by the caller). */
  readonly unexpected: (what: string) => void
}

/** One round of each kind of HTTP traffic against `url` (a server of the demo's tools). */
export const httpTraffic = (url: string, report: TrafficReport): Record<HttpKind, () => Promise<void>> => {
  const post = (body: string, headers: Record<string, string> = {}, signal?: AbortSignal) =>
    fetch(url, { method: "POST", headers: { ...ACCEPT, ...headers }, body, ...(signal ? { signal } : {}) })
  const open = async (): Promise<Record<string, string>> => {
    const r = await post(rpc(0, "initialize", INIT()))
    const sid = r.headers.get("mcp-session-id")
    await r.text()
    if (r.status !== 200 || sid === null) throw new Error(`initialize ${r.status}`)
    const h = { "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25" }
    await (await post('{"jsonrpc":"2.0","method":"notifications/initialized"}', h)).text()
    return h
  }
  const expectOk = async (r: Response, what: string) => {
    const text = await r.text()
    report.op()
    if (r.status !== 200 || !text.includes('"result"')) report.unexpected(`${what}: ${r.status} ${text}`)
  }
  let n = 0
  return {
    /** A whole session: open, three calls, DELETE. */
    churn: async () => {
      const h = await open()
      await expectOk(await post(rpc(++n, "tools/call", { name: "echo", arguments: { text: `soak ${n}` } }), h), "echo")
      await expectOk(await post(rpc(++n, "tools/list"), h), "tools/list")
      await expectOk(await post(rpc(++n, "resources/read", { uri: "demo://greeting/soak" }), h), "resources/read")
      const d = await fetch(url, { method: "DELETE", headers: h })
      await d.text()
      if (d.status !== 200) report.unexpected(`DELETE ${d.status}`)
    },
    /** A session left open after one call: the idle timeout reaps it. */
    abandoned: async () => {
      const h = await open()
      await expectOk(await post(rpc(++n, "prompts/get", { name: "greet", arguments: { name: "soak" } }), h), "prompts/get")
    },
    /** An initialize with no initialized after it: the handshake deadline reaps it. */
    handshake: async () => {
      await (await post(rpc(0, "initialize", INIT()))).text()
      report.op()
    },
    /** A sessionless 2026-07-28 call. */
    modern: async () => {
      const r = await post(rpc(++n, "tools/call", { name: "echo", arguments: { text: "modern" }, _meta: MODERN_META }), {
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/call",
        "mcp-name": "echo"
      })
      await expectOk(r, "modern echo")
    },
    /** A call whose progress stream is read a little, then its socket dropped; then DELETE. */
    dropped: async () => {
      const h = await open()
      const ac = new AbortController()
      const r = await post(rpc(++n, "tools/call", { name: "count", arguments: { n: 20, stepMs: 20 }, _meta: { progressToken: n } }), h, ac.signal)
      await r.body!.getReader().read()
      ac.abort()
      report.op()
      await (await fetch(url, { method: "DELETE", headers: h })).text()
    },
    /** A frame that is not JSON: 400. */
    malformed: async () => {
      const r = await post('{"jsonrpc":"2.0","id":1,"method":"constructor"', {})
      await r.text()
      report.op()
      if (r.status !== 400) report.unexpected(`malformed: ${r.status}`)
    }
  }
}
