/**
 * Bytes allocated by a piece of code, as V8's sampling heap profiler sees them (objects collected
 * since included), by the source file of the function that allocated them: for tests that pin an
 * allocation per call that no counter can see (an object literal, a boxed number, a function's
 * context). Sampled: assert over many calls, with a margin (the sampling interval is 32 bytes on
 * average; 10 000 calls of a few hundred bytes give tens of thousands of samples).
 */
import { Session } from "node:inspector/promises"

interface ProfileNode {
  readonly callFrame: { readonly functionName: string; readonly url: string }
  readonly selfSize: number
  readonly children: ReadonlyArray<ProfileNode>
}

/** Bytes `run` allocated, by allocating function (`name file`), and in total per file. */
export const sampledAllocations = async (run: () => void): Promise<{ readonly byFunction: ReadonlyMap<string, number>; readonly byFile: ReadonlyMap<string, number> }> => {
  const session = new Session()
  session.connect()
  try {
    await session.post("HeapProfiler.enable")
    await session.post("HeapProfiler.startSampling", { samplingInterval: 32, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never)
    run()
    const { profile } = await session.post("HeapProfiler.stopSampling") as unknown as { profile: { head: ProfileNode } }
    const byFunction = new Map<string, number>()
    const byFile = new Map<string, number>()
    const walk = (n: ProfileNode): void => {
      if (n.selfSize > 0) {
        const file = n.callFrame.url.split("?")[0]!.split("/").pop() ?? ""
        const key = `${n.callFrame.functionName || "(anonymous)"} ${file}`
        byFunction.set(key, (byFunction.get(key) ?? 0) + n.selfSize)
        byFile.set(file, (byFile.get(file) ?? 0) + n.selfSize)
      }
      for (const c of n.children) walk(c)
    }
    walk(profile.head)
    return { byFunction, byFile }
  } finally {
    await session.post("HeapProfiler.disable").catch(() => undefined)
    session.disconnect()
  }
}
