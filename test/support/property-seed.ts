/**
 * One seed for every property test of a run (loaded by scripts/test.mjs with `--import`). A
 * developer's runs draw a new seed each time, so the fuzzers keep exploring; CI (`CI=true`) uses a
 * fixed one, so a submission's result does not depend on the draw. Either way the seed is printed,
 * and `FAST_CHECK_SEED=<seed> npm test` replays a failure.
 */
import fc from 'fast-check';

const FIXED_CI_SEED = 20_261_204;

const given = process.env['FAST_CHECK_SEED'];
const seed =
  given !== undefined && given !== ''
    ? Number(given)
    : process.env['CI'] === 'true'
      ? FIXED_CI_SEED
      : Math.floor(Math.random() * 0x7fffffff);
if (!Number.isSafeInteger(seed)) throw new Error(`FAST_CHECK_SEED must be an integer, not ${String(given)}`);
fc.configureGlobal({ seed });
console.log(`# property tests: FAST_CHECK_SEED=${seed}`);
