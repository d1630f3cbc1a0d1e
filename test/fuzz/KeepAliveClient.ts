/**
 * The HTTP fuzzer's client: requests over a keep-alive pool, with the one
 * retry HTTP/1.1 keep-alive needs. A server closes a connection that sat idle
 * past its keep-alive timeout (Node: announced 5 s, closed after 6 s); a
 * client that picks that socket from its pool in the same moment writes into a
 * closed connection and gets ECONNRESET ("read ECONNRESET", "socket hang up")
 * though the server never read the request. On a loaded machine the client's
 * event loop lags by seconds and the window is wide (a 100,000-frame run met it
 * after 7,266 frames). Node's advice is to retry such a request
 * (`request.reusedSocket`); it is retried once, on a new connection, only when
 * the socket had been idle long enough for that to be the cause. Any other
 * failure, and a retry that fails too, is the server's.
 */
import { Agent, request as httpRequest } from "node:http"
import type { Socket } from "node:net"

export interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string | Array<string> | undefined>>
  readonly body: string
}

export interface KeepAliveClientOptions {
  /** Sockets per host. */
  readonly maxSockets: number
  /** How long a request may take. */
  readonly timeoutMs: number
  /**
   * A reused socket idle at least this long may have been closed by the server for idleness.
   * Default 4,000 ms: Node servers announce 5 s, and the client notices a response late when it lags.
   */
  readonly staleMs?: number
}

export class KeepAliveClient {
  /** Requests retried after a reset on a stale pooled socket. */
  retries = 0
  private readonly agent: Agent
  private readonly options: KeepAliveClientOptions
  private readonly freeSince = new WeakMap<Socket, number>()

  constructor(options: KeepAliveClientOptions) {
    this.options = options
    // An agent `timeout` lets the server's Keep-Alive hint apply: the pool drops a socket 1 s before the
    // server would (without one, Node ignores the hint and keeps idle sockets until the server closes them).
    this.agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets, timeout: options.timeoutMs })
    this.agent.on("free", (socket: Socket) => this.freeSince.set(socket, Date.now()))
  }

  async request(url: string, method: string, body: Uint8Array | undefined, headers: Record<string, string>): Promise<Answer> {
    try {
      return await this.once(url, method, body, headers, this.agent)
    } catch (e) {
      if (!(e instanceof StaleSocket)) throw e
      this.retries++
      // `agent: false`: a connection of its own, never one from the pool.
      return this.once(url, method, body, headers, false).catch((again: unknown) => {
        throw new Error(`${e.message}; retried on a new connection: ${(again as Error).message}`)
      })
    }
  }

  destroy(): void {
    this.agent.destroy()
  }

  private once(url: string, method: string, body: Uint8Array | undefined, headers: Record<string, string>, agent: Agent | false): Promise<Answer> {
    const timeoutMs = this.options.timeoutMs
    return new Promise((resolve, reject) => {
      let idleMs: number | undefined
      let answered = false
      const req = httpRequest(url, { method, headers, agent, timeout: timeoutMs }, (res) => {
        answered = true
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }))
        res.on("error", reject)
      })
      req.on("socket", (socket: Socket) => {
        const since = this.freeSince.get(socket)
        if (req.reusedSocket && since !== undefined) idleMs = Date.now() - since
      })
      req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
      req.on("error", (e: NodeJS.ErrnoException) => {
        if (idleMs === undefined) return reject(e)
        const why = `${e.message} (on a pooled socket idle for ${idleMs} ms)`
        const stale = !answered && e.code === "ECONNRESET" && idleMs >= (this.options.staleMs ?? 4_000)
        reject(stale ? new StaleSocket(why) : new Error(why))
      })
      req.end(body)
    })
  }
}

class StaleSocket extends Error {}
