import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import { afterAll, describe, expect, it } from "vitest"
import { callHostTool, Host, hostTools } from "../src/host/effect.ts"
import { ServerUnavailable, UnknownName } from "../src/host/errors.ts"
import { processGroupAlive } from "./support/processes.ts"

const VARIABLE = fileURLToPath(new URL("./fixtures/host-variable-server.ts", import.meta.url))
const dir = mkdtempSync(join(tmpdir(), "host-effect-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("Host as an Effect service", { timeout: 30_000 }, () => {
  it("the layer starts the host, calls are Effects with typed errors, the scope closes it (no child left)", async () => {
    const tools = join(dir, "tools.json")
    writeFileSync(tools, JSON.stringify(["hello"]))
    let pgid = 0
    const out = await Effect.runPromise(
      Effect.gen(function*() {
        const host = yield* Host
        pgid = host.connection("v")!.pid!
        const names = (yield* hostTools).map((t) => t.name)
        const result = yield* callHostTool("v__hello", {})
        const unknown = yield* Effect.flip(callHostTool("nobody__x", {}))
        return { names, result, unknown }
      }).pipe(Effect.provide(Host.layer({ mcpServers: { v: { command: process.execPath, args: [VARIABLE, tools] } } }, { stateFile: false })))
    )
    expect(out.names).toEqual(["v__hello"])
    expect(out.result).toMatchObject({ content: [{ type: "text", text: "hello ran" }] })
    expect(out.unknown).toBeInstanceOf(UnknownName)
    expect(out.unknown).not.toBeInstanceOf(ServerUnavailable)
    expect(pgid).toBeGreaterThan(0)
    expect(processGroupAlive(pgid)).toBe(false)
  })
})
