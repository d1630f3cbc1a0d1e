/**
 * DNS-rebinding protection for a local Streamable HTTP server
 * (2025-11-25/basic/transports.mdx:L74-L84: "Servers MUST validate the Origin
 * header on all incoming connections"; an invalid Origin gets 403).
 *
 * A rebinding page reaches 127.0.0.1 under its own hostname, so both headers
 * are checked against an allow-list of host names (ports ignored): `Host` on
 * every request, `Origin` when present. By default only loopback names pass.
 */
import type { IncomingMessage } from "node:http"
import { header } from "./wire.ts"

export const DEFAULT_ALLOWED_HOSTS: ReadonlyArray<string> = ["localhost", "127.0.0.1", "[::1]"]

export interface HostGuardOptions {
  /** Host names (no port) accepted in `Host` and in `Origin`; "any" disables the check. Default: loopback names. */
  readonly allowedHosts?: ReadonlyArray<string> | "any"
  /** Extra exact origins accepted in `Origin` (e.g. "https://app.example.com"). */
  readonly allowedOrigins?: ReadonlyArray<string>
}

/** The host name of a `Host` value (`name:port`, `[v6]:port`), lower-cased. */
export const hostNameOf = (host: string): string => {
  const h = host.trim().toLowerCase()
  if (h.startsWith("[")) {
    const end = h.indexOf("]")
    return end === -1 ? h : h.slice(0, end + 1)
  }
  const colon = h.indexOf(":")
  return colon === -1 ? h : h.slice(0, colon)
}

/** Returns a function that gives the reason a request must be refused, or undefined when it may pass. */
export const makeHostGuard = (options: HostGuardOptions = {}): ((req: IncomingMessage) => string | undefined) => {
  const hosts = options.allowedHosts ?? DEFAULT_ALLOWED_HOSTS
  if (hosts === "any" && options.allowedOrigins === undefined) return () => undefined
  const allowedHosts = hosts === "any" ? undefined : new Set(hosts.map((h) => h.toLowerCase()))
  const allowedOrigins = new Set((options.allowedOrigins ?? []).map((o) => o.toLowerCase()))
  // Nearly every request carries the same Host: remember the last one allowed.
  let lastAllowedHost: string | undefined
  return (req) => {
    if (allowedHosts !== undefined) {
      const host = header(req, "host")
      if (host === undefined || (host !== lastAllowedHost && !allowedHosts.has(hostNameOf(host)))) {
        return `Host ${JSON.stringify(host ?? "")} is not allowed`
      }
      lastAllowedHost = host
    }
    const origin = header(req, "origin")
    if (origin === undefined) return undefined
    const o = origin.trim().toLowerCase()
    if (allowedOrigins.has(o)) return undefined
    if (allowedHosts === undefined) return allowedOrigins.size === 0 ? undefined : `Origin ${JSON.stringify(origin)} is not allowed`
    // "null" (opaque origins: sandboxed frames, file://) never matches.
    const m = /^https?:\/\/([^/]+)$/.exec(o)
    if (m !== null && allowedHosts.has(hostNameOf(m[1]!))) return undefined
    return `Origin ${JSON.stringify(origin)} is not allowed`
  }
}
