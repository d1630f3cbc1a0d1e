/**
 * Hostile servers against our client over stdio (issue s23): a real child process
 * (`fixtures/hostile-stdio-server.mjs`, one misbehaviour per mode) and our client in
 * the legacy and the auto era. What must hold: a typed error for the affected call at
 * once (not at its deadline), the session still usable, the process never crashing
 * (vitest fails a run on any unhandled rejection or exception).
 */
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import type { Client } from "../src/client/Client.ts"
import { MAX_SERVER_REQUESTS_IN_FLIGHT } from "../src/client/ClientSession.ts"
import { connectStdio, type StdioConnectOptions } from "../src/client/connectStdio.ts"
import { ConnectionLost, InitializeFailed, RpcError, UnsupportedProtocolVersion } from "../src/protocol/requestErrors.ts"
import { armedClock } from "./support/countingClock.ts"
import { childProcesses } from "./support/handles.ts"

const HOSTILE = fileURLToPath(new URL("./fixtures/hostile-stdio-server.mjs", import.meta.url))
/** No deadline can end these calls within the test's time: an answer must come from the wire. */
const NEVER = 600_000

const connect = (mode: string, options: Partial<StdioConnectOptions> = {}): Promise<Client> =>
  connectStdio({ command: process.execPath, args: [HOSTILE, ...mode.split(" ")], requestTimeoutMs: NEVER, initializeTimeoutMs: NEVER, ...options } as StdioConnectOptions)

const failure = (p: Promise<unknown>): Promise<unknown> => p.then(() => undefined, (e: unknown) => e)

const textOf = (r: { readonly content?: unknown }): string =>
  ((r.content ?? []) as ReadonlyArray<{ text?: string }>).map((c) => c.text ?? "").join("")

describe("hostile servers over stdio: our client", { timeout: 20_000 }, () => {
  for (const era of ["legacy", "auto", "modern"] as const) {
    it(`${era}: a response that is not valid JSON-RPC fails its call at once with RpcError, and the session goes on`, async () => {
      for (const [mode, why] of [
        ["call-result-null", "result must be an object"],
        ["call-result-string", "result must be an object"],
        ["call-bad-error", "error must have an integer code and a string message"]
      ] as const) {
        const client = await connect(mode, { era })
        try {
          // It was: the response was dropped as invalid and the call waited out its deadline.
          const error = await client.callTool("echo", {}).then(() => undefined, (e: unknown) => e)
          expect(error, mode).toBeInstanceOf(RpcError)
          expect((error as RpcError).message).toBe(`invalid response from the server: ${why}`)
          expect((await client.listTools()).tools).toEqual([{ name: "echo", inputSchema: { type: "object" } }])
        } finally {
          await client.close()
        }
      }
    })

  }

  for (const era of ["legacy", "auto"] as const) {
    it(`${era}: a list result that is null or an array fails listTools at once`, async () => {
      for (const mode of ["result-null", "result-array"]) {
        const client = await connect(mode, { era })
        try {
          await expect(client.listTools()).rejects.toThrow("invalid response from the server: result must be an object")
          expect(textOf(await client.callTool("echo", {}))).toBe("echo")
        } finally {
          await client.close()
        }
      }
    })

    it(`${era}: garbage lines, 100 000 '[', a batch, a 5 MB line, unknown and mistyped ids: ignored, and the real answer is taken`, async () => {
      const client = await connect("garbage", { era })
      try {
        expect(textOf(await client.callTool("echo", {}))).toBe("echo")
        expect(textOf(await client.callTool("echo", {}))).toBe("echo")
      } finally {
        await client.close()
      }
    })

    it(`${era}: undeclared server→client requests (prototype names included) get -32601, stray responses and progress are dropped`, async () => {
      const client = await connect("call-proto-requests", { era })
      try {
        const codes = JSON.parse(textOf(await client.callTool("echo", {}))) as Record<string, unknown>
        expect(Object.keys(codes).sort()).toEqual(
          ["__proto__", "constructor", "elicitation/create", "hasOwnProperty", "roots/list", "sampling/createMessage", "toString"].map((m) => `s-${m}`)
        )
        for (const code of Object.values(codes)) expect(code).toBe(-32601)
      } finally {
        await client.close()
      }
    })
  }

  it("a server that never answers initialize: InitializeFailed when the deadline passes on the client's clock", async () => {
    const deadline = 777_000
    const { sim, clock, armed } = armedClock(deadline)
    const connecting = connect("never-initialize", { clock, initializeTimeoutMs: deadline }).then(() => undefined, (e: unknown) => e)
    await armed
    sim.increment(deadline - 1)
    sim.increment(1)
    const error = await connecting
    expect(error).toBeInstanceOf(InitializeFailed)
    expect((error as Error).message).toBe(`could not initialize: no initialize response within ${deadline} ms`)
  })

  it("initialize answered with capabilities and serverInfo that are not objects: taken as none / unknown", async () => {
    const client = await connect("init-null-result-fields")
    try {
      const session = client.client as { serverCapabilities?: unknown; serverInfo?: unknown }
      expect(session.serverCapabilities).toEqual({})
      expect(session.serverInfo).toEqual({ name: "unknown", version: "unknown" })
    } finally {
      await client.close()
    }
  })

  it("a server that closes its stdout and keeps running: the call fails with ConnectionLost after closeGraceMs (client's clock)", async () => {
    const grace = 321_000
    const { sim, clock, armed } = armedClock(grace)
    const client = await connect("close-stdout", { clock, closeGraceMs: grace })
    try {
      const call = failure(client.callTool("echo", {}))
      // It was: nothing noticed, and the call waited out its deadline (the process was alive).
      await armed
      sim.increment(grace - 1)
      sim.increment(1)
      const error = await call
      expect(error).toBeInstanceOf(ConnectionLost)
      expect((error as Error).message).toBe("tools/call: connection lost (server closed its stdout (the process is still running))")
    } finally {
      await client.close()
    }
  })

  it("a server that exits in the middle of a response line: ConnectionLost with its exit code", async () => {
    const client = await connect("exit-mid-response")
    try {
      const error = await failure(client.callTool("echo", {}))
      expect(error).toBeInstanceOf(ConnectionLost)
      expect((error as Error).message).toBe("tools/call: connection lost (server process exited with code 3)")
    } finally {
      await client.close()
    }
  })

  it("a flood of elicitations waiting on a slow handler: 32 wait, the rest are refused at once with -32603", async () => {
    let started = 0
    const client = await connect(`elicit-flood ${MAX_SERVER_REQUESTS_IN_FLIGHT}`, {
      // A user who never answers (until the session closes).
      onElicitation: (_params, ctx) => {
        started++
        return new Promise((_resolve, reject) => ctx.signal.addEventListener("abort", () => reject(new Error("closed"))))
      }
    })
    try {
      // It was: all 200 waited on the handler (no bound), and none was answered.
      const reply = JSON.parse(textOf(await client.callTool("echo", {}))) as { answered: number; error: unknown }
      expect(reply).toEqual({
        answered: 200 - MAX_SERVER_REQUESTS_IN_FLIGHT,
        error: { code: -32603, message: `elicitation/create: refused, ${MAX_SERVER_REQUESTS_IN_FLIGHT} requests from the server are already in flight` }
      })
      expect(started).toBe(MAX_SERVER_REQUESTS_IN_FLIGHT)
    } finally {
      await client.close()
    }
  })

  it("a server→client request whose id is already in flight is refused with -32600 (the first keeps its handler)", async () => {
    let started = 0
    const client = await connect("dup-request-id", {
      onElicitation: (_params, ctx) => {
        started++
        return new Promise((_resolve, reject) => ctx.signal.addEventListener("abort", () => reject(new Error("closed"))))
      }
    })
    try {
      // It was: both ran under one id, and the first answer removed the other's abort handle.
      const reply = JSON.parse(textOf(await client.callTool("echo", {}))) as { answered: number; error: unknown }
      expect(reply).toEqual({ answered: 1, error: { code: -32600, message: "Invalid Request: request id \"d\" is already in flight" } })
      expect(started).toBe(1)
    } finally {
      await client.close()
    }
  })

  it("a 64 MB line with no newline: skipped past the size limit (not buffered), and the next line's answer taken", async () => {
    const client = await connect("endless-line 64")
    try {
      expect(textOf(await client.callTool("echo", {}))).toBe("after the endless line")
    } finally {
      await client.close()
    }
  })

  it("auto era: a legacy server that answers server/discover (like any unknown method) with {} is spoken to in legacy", async () => {
    const client = await connect("lax", { era: "auto" })
    try {
      // It was: any result meant modern, with no version in common.
      expect(client.era).toBe("legacy")
      expect(textOf(await client.callTool("echo", {}))).toBe("echo")
    } finally {
      await client.close()
    }
  })

  it("initialize answered with a version we do not speak (a date, a number, an object): UnsupportedProtocolVersion", async () => {
    for (const received of ["1999-01-01", 42, { v: 1 }]) {
      const error = await failure(connect(`bad-version ${JSON.stringify(received)}`))
      expect(error, JSON.stringify(received)).toBeInstanceOf(UnsupportedProtocolVersion)
      expect((error as UnsupportedProtocolVersion).received).toEqual(received)
    }
  })

  for (const era of ["legacy", "modern"] as const) {
    it(`${era}: a response over maxMessageBytes fails its call at once (its id read from either end), the session goes on`, async () => {
      for (const where of ["id-first", "id-last"]) {
        const client = await connect(`oversized-response ${where}`, { era })
        try {
          // It was: dropped unread, and the call waited out its deadline. The oversized request that
          // reuses the call's id before it is no answer and changes nothing.
          const error = await failure(client.callTool("echo", {}))
          expect(error, where).toBeInstanceOf(RpcError)
          expect((error as Error).message).toMatch(/^invalid response from the server: \d+ bytes, over the client's maxMessageBytes$/)
          expect((await client.listTools()).tools).toEqual([{ name: "echo", inputSchema: { type: "object" } }])
        } finally {
          await client.close()
        }
      }
    })
  }

  it("after all of the above: no child process is left (each close reaped its server)", () => {
    expect(childProcesses()).toEqual([])
  })
})
