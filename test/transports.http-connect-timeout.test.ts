/**
 * The HTTP client's connect deadline (`httpRequest`'s `connectTimeoutMs`) runs
 * on the transport's clock (issue 13, "one clock"). The socket is one that
 * never finishes connecting (a socket the agent hands out still `connecting`,
 * no network involved), the deadline 10 virtual minutes: a real timer would
 * leave the request pending for the whole test.
 */
import { Agent } from "node:http"
import { Socket } from "node:net"
import { describe, expect, it } from "vitest"
import { HttpNetworkError } from "../src/transports/http/client/errors.ts"
import { httpRequest } from "../src/transports/http/client/httpRequest.ts"
import { armedClock } from "./support/countingClock.ts"

const TEN_MINUTES = 10 * 60_000
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

/** An agent whose connections never connect (and never fail): only the deadline can end the request. */
class NeverConnects extends Agent {
  readonly sockets_: Array<Socket> = []
  override createConnection(): Socket {
    const socket = new Socket()
    // As a socket between connect() and its "connect" event: writes wait, "connect" never comes.
    ;(socket as { connecting: boolean }).connecting = true
    this.sockets_.push(socket)
    return socket
  }
}

describe("httpRequest connect deadline on the transport's clock", () => {
  it("a connection that never completes fails CONNECT_TIMEOUT (not sent) exactly at connectTimeoutMs of the clock", async () => {
    const { sim, clock, armed: deadlineArmed } = armedClock(TEN_MINUTES)
    const agent = new NeverConnects()
    let outcome: unknown
    const request = httpRequest(new URL("http://127.0.0.1:9/mcp"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
      agent,
      connectTimeoutMs: TEN_MINUTES,
      clock
    }).then((res) => (outcome = res), (e: unknown) => (outcome = e))
    await deadlineArmed
    sim.increment(TEN_MINUTES - 1)
    await nextTurn()
    expect(outcome).toBeUndefined()
    sim.increment(1)
    await request
    expect(outcome).toBeInstanceOf(HttpNetworkError)
    expect(outcome).toMatchObject({ code: "CONNECT_TIMEOUT", reachedServer: false })
    expect((outcome as Error).message).toContain(`connect timed out after ${TEN_MINUTES} ms`)
    expect(agent.sockets_.every((s) => s.destroyed)).toBe(true)
    expect(sim.pending).toBe(0)
    agent.destroy()
  })
})
