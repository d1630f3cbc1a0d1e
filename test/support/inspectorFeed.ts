/**
 * The inspector feed's client side in tests (the page's side of the channel): a WebSocket
 * that collects every message and can wait for one.
 */
import { WebSocket } from "ws"

export type Msg = Record<string, any>

/** A feed client that collects every message and can wait for one. */
export const openFeed = (url: string, headers: Record<string, string> = {}) =>
  new Promise<{ ws: WebSocket; messages: Array<Msg>; waitFor: (p: (m: Msg) => boolean, what: string) => Promise<Msg> }>((resolve, reject) => {
    const ws = new WebSocket(url, { headers })
    const messages: Array<Msg> = []
    const waiters = new Set<{ p: (m: Msg) => boolean; done: (m: Msg) => void }>()
    ws.on("message", (data) => {
      for (const line of data.toString().split("\n")) {
        const m = JSON.parse(line) as Msg
        messages.push(m)
        for (const w of waiters) if (w.p(m)) {
          waiters.delete(w)
          w.done(m)
        }
      }
    })
    ws.on("unexpected-response", (_req, res) => reject(Object.assign(new Error(`refused ${res.statusCode}`), { status: res.statusCode })))
    ws.on("error", reject)
    ws.on("open", () =>
      resolve({
        ws,
        messages,
        waitFor: (p, what) => {
          const seen = messages.find(p)
          if (seen !== undefined) return Promise.resolve(seen)
          return new Promise((done, fail) => {
            const t = setTimeout(() => fail(new Error(`timed out waiting for ${what}; got ${messages.map((m) => m.type).join(", ")}`)), 20_000)
            waiters.add({ p, done: (m) => (clearTimeout(t), done(m)) })
          })
        }
      }))
  })
