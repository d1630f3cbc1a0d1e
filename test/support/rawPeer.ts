/**
 * A raw peer for server tests over the memory transport: our server on one side,
 * plain JSON-RPC frames on the other — what the server sent, a way to send, and
 * `ask` (send, let the transport deliver, return the first response).
 */
import { decodeText, type JsonRpcMessage } from "../../src/protocol/jsonrpc.ts"
import type { McpServer } from "../../src/server/McpServer.ts"
import { type ServeOptions, serveTransport } from "../../src/server/serveTransport.ts"
import { makeMemoryTransportPair } from "../../src/transports/memory.ts"
import { flush } from "./wireTap.ts"

export const rawPeer = (server: McpServer, options: ServeOptions = {}) => {
  const [clientSide, serverSide] = makeMemoryTransportPair()
  const session = serveTransport(server, serverSide, options)
  const received: Array<JsonRpcMessage> = []
  clientSide.start({
    onFrame: (text) => {
      const d = decodeText(text)
      if (d._tag === "Message") received.push(d.message)
    },
    onOversized: () => {},
    onClose: () => {}
  })
  const send = (m: unknown) => clientSide.send(m as JsonRpcMessage)
  const ask = async (m: unknown): Promise<Record<string, any>> => {
    const before = received.length
    send(m)
    await flush()
    const reply = received.slice(before).find((r) => !("method" in r))
    if (reply === undefined) throw new Error("no response")
    return reply as Record<string, any>
  }
  return { session, received, send, ask }
}
