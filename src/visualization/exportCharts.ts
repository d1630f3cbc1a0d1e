/**
 * Write every chart in `machines/index.ts` as `<id>.mmd` (Mermaid), `<id>.dot`
 * (Graphviz) and `<id>.json` (`machine.toJSON()`, the Stately-compatible
 * definition) into `outDir`. Machines are found by inspecting the module's
 * exports, so a new export in `machines/index.ts` is picked up automatically.
 */
import { mkdir, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { type AnyStateMachine, StateMachine } from "xstate"
import * as machines from "../../machines/index.ts"
import { toDot } from "./toDot.ts"
import { toMermaid } from "./toMermaid.ts"

/** Every machine exported by `machines/index.ts`, keyed by machine id. */
export const allMachines = (): ReadonlyMap<string, AnyStateMachine> => {
  const found = new Map<string, AnyStateMachine>()
  for (const value of Object.values(machines) as ReadonlyArray<unknown>) {
    if (value instanceof StateMachine) found.set(value.id, value as AnyStateMachine)
  }
  return found
}

/** Write the three renderings of every machine; returns the paths written. */
export const exportCharts = async (outDir: string): Promise<ReadonlyArray<string>> => {
  await mkdir(outDir, { recursive: true })
  const written: Array<string> = []
  for (const [id, machine] of allMachines()) {
    const files: ReadonlyArray<readonly [string, string]> = [
      [`${id}.mmd`, toMermaid(machine)],
      [`${id}.dot`, toDot(machine)],
      [`${id}.json`, JSON.stringify(machine.toJSON(), null, 2) + "\n"]
    ]
    for (const [file, text] of files) {
      const path = join(outDir, file)
      await writeFile(path, text, "utf8")
      written.push(path)
    }
  }
  return written
}
