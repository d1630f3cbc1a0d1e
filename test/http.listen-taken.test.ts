/**
 * `makeHttpServer` on a port that is taken rejects with the listen error and
 * lets go of what it started for it: with `inspect`, the inspector (its
 * listener and its subscription to the inspection hub). Before, the inspector
 * lived on, and `mcp-actors serve --http PORT --inspect` never exited.
 */
import { type AddressInfo, createServer } from "node:net"
import { describe, expect, it } from "vitest"
import { makeDemoServer } from "../examples/demo.ts"
import { inspection } from "../src/runtime/inspection.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"

describe("makeHttpServer on a taken port", () => {
  it("rejects with EADDRINUSE and closes the inspector it started", async () => {
    const taken = createServer()
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r))
    try {
      const before = inspection.listenerCount
      await expect(makeHttpServer(makeDemoServer(), { port: (taken.address() as AddressInfo).port, inspect: true })).rejects.toMatchObject({ code: "EADDRINUSE" })
      expect(inspection.listenerCount).toBe(before)
    } finally {
      await new Promise((r) => taken.close(r))
    }
  })
})
