/**
 * Bind a `node:http` (or any `net`) server and wait until it listens: the one
 * "listen and resolve" step of every listener the project opens (the MCP HTTP and
 * WebSocket servers, the host gateway, the inspector, the metrics endpoint).
 *
 * Why one: each copy must take `error` only while binding (EADDRINUSE, EACCES
 * reject the promise) and drop that listener once bound, so a later socket error
 * is not mistaken for a failed listen and no listener is left behind per server.
 */
import type { AddressInfo, Server } from "node:net"

/** Where a server listens: the bound port (the OS's pick for port 0) and the host as written in a URL. */
export interface Listening {
  readonly port: number
  /** `host`, bracketed when it is an IPv6 address (`[::1]`), ready for `http://${urlHost}:${port}`. */
  readonly urlHost: string
}

/** Listen on `host:port` (0: any free port); resolves once bound, rejects with the bind error. */
export const listenHttp = (server: Server, port: number, host: string): Promise<Listening> =>
  new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e)
    server.once("error", onError)
    server.listen(port, host, () => {
      server.off("error", onError)
      resolve({ port: (server.address() as AddressInfo).port, urlHost: host.includes(":") ? `[${host}]` : host })
    })
  })
