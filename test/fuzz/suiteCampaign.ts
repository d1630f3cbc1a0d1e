/**
 * The suite's fuzz campaigns (`test/fuzz.*.test.ts`): 2,000 frames against one
 * real server, seed `FUZZ_SEED` (default fixed, so a failure replays).
 */
import { expect, it } from "vitest"
import { type CampaignResult, runCampaign, type Transport } from "./campaign.ts"

const SEED = Number(process.env["FUZZ_SEED"] ?? 20_261_205)
const FRAMES = 2_000

/** Run the campaign; fails with the failure's report (frame, session phase, expected and got, seed) or an unclean server exit. */
export const cleanCampaign = async (transport: Transport): Promise<CampaignResult> => {
  const r = await runCampaign({ transport, frames: FRAMES, seed: SEED })
  if (r.failure !== undefined) expect.fail(r.failure)
  expect(r.serverExit).toBe("ok")
  expect(r.stats.frames).toBeGreaterThanOrEqual(FRAMES)
  return r
}

/** The test of a message-framed transport (stdio lines, WebSocket frames). */
export const messageCampaignTest = (transport: "stdio" | "ws"): void => {
  it(`2,000 hostile frames over ${transport}: every reply is the one the oracle expects, the sentinel is answered`, async () => {
    const r = await cleanCampaign(transport)
    // Every class of answer occurred: results, silence for notifications, and each error code.
    for (const label of ["result", "none", "-32700", "-32600", "-32601", "-32602"]) expect(r.stats.byLabel.get(label) ?? 0, label).toBeGreaterThan(0)
  }, 600_000)
}
