/**
 * The gateway tests' usual bench: our upstream `McpServer` over WebSocket, one host holding it as `up`
 * (legacy era unless `protocol` says otherwise), and the host's gateway over Streamable HTTP; `close`
 * takes them down in reverse order.
 */
import { type Gateway, type GatewayHttpHandle, type GatewayOptions, makeGateway, serveGatewayHttp } from "../../src/host/gateway.ts"
import { type McpHost, startHost } from "../../src/host/McpHost.ts"
import type { McpServer } from "../../src/server/McpServer.ts"
import { makeWsServer, type WsServerHandle } from "../../src/server/ws/WsServer.ts"

export interface GatewayOverWs {
  readonly ws: WsServerHandle
  readonly host: McpHost
  readonly gateway: Gateway
  readonly http: GatewayHttpHandle
  close(): Promise<void>
}

export const gatewayOverWs = async (
  upstream: McpServer,
  options: { readonly coalesceMs: number; readonly protocol?: "legacy" | "2026-07-28"; readonly gateway?: (host: McpHost) => GatewayOptions }
): Promise<GatewayOverWs> => {
  const ws = await makeWsServer(upstream, { port: 0 })
  const host = await startHost({ mcpServers: { up: { url: ws.url, protocol: options.protocol ?? "legacy" } } }, { stateFile: false, coalesceMs: options.coalesceMs })
  const gateway = makeGateway(host, options.gateway?.(host))
  const http = await serveGatewayHttp(gateway, { port: 0 })
  return {
    ws, host, gateway, http,
    close: async () => {
      await http.close()
      gateway.close()
      await host.close()
      await ws.close()
    }
  }
}
