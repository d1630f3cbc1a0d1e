/**
 * Fuzzing the real `serve --ws` server (issue 8): seeded hostile frames, each judged
 * by the oracle (test/fuzz/oracle.ts), each followed by a sentinel request that must still
 * get its answer on the same connection, and a new connection served after every window.
 * `FUZZ_SEED=N` replays another campaign; `npm run fuzz` runs 100,000 frames per transport.
 */
import { messageCampaignTest } from "./fuzz/suiteCampaign.ts"

messageCampaignTest("ws")
