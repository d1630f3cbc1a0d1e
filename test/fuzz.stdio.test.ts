/**
 * Fuzzing the real `serve --stdio` server (issue 8): seeded hostile frames, each judged
 * by the oracle (test/fuzz/oracle.ts), each followed by a sentinel request that must still
 * get its answer on the same connection.
 * `FUZZ_SEED=N` replays another campaign; `npm run fuzz` runs 100,000 frames per transport.
 */
import { expect, it } from "vitest"
import { runCampaign } from "./fuzz/campaign.ts"

const SEED = Number(process.env["FUZZ_SEED"] ?? 20_261_205)

it("2,000 hostile frames over stdio: every reply is the one the oracle expects, the sentinel is answered", async () => {
  const r = await runCampaign({ transport: "stdio", frames: 2_000, seed: SEED })
  // The failure names the frame, the session phase, what was expected and got, and the seed.
  if (r.failure !== undefined) expect.fail(r.failure)
  expect(r.serverExit).toBe("ok")
  expect(r.stats.frames).toBeGreaterThanOrEqual(2_000)
  // Every class of answer occurred: results, silence for notifications, and each error code.
  for (const label of ["result", "none", "-32700", "-32600", "-32601", "-32602"]) expect(r.stats.byLabel.get(label) ?? 0, label).toBeGreaterThan(0)
}, 600_000)
