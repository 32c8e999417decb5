/**
 * The seed of the property tests, imported by every test file that uses fast-check. Unset (a
 * developer's run), each run draws a new seed, so the fuzzers keep exploring; `npm test` under CI
 * (`CI=true`) sets a fixed one (scripts/test.mjs), so a submission's result does not depend on the
 * draw. A failure prints its seed (fast-check's report); `FAST_CHECK_SEED=<seed> npm test` replays it.
 */
import fc from 'fast-check';

const given = process.env['FAST_CHECK_SEED'];
if (given !== undefined && given !== '') {
  const seed = Number(given);
  if (!Number.isSafeInteger(seed)) throw new Error(`FAST_CHECK_SEED must be an integer, not ${given}`);
  fc.configureGlobal({ seed });
}
