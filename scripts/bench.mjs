#!/usr/bin/env node
// `npm run bench`: every benchmark, one after the other (they share 2 cores: never at once), each
// printing its own table and writing bench-results-<name>.json. Figures, never pass/fail.
//   npm run bench                 collector and metrics API (a few minutes)
//   npm run bench -- --all        also the API-server load of the scaler (real control plane, 6 min)
//   npm run bench -- collector    only the named ones
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const all = args.includes('--all');
const named = args.filter((arg) => !arg.startsWith('--'));
const SLOW = new Set(['api-load']);

const benches = readdirSync(new URL('../bench/', import.meta.url))
  .filter((file) => file.endsWith('.bench.ts'))
  .map((file) => file.replace(/\.bench\.ts$/, ''))
  .filter((name) => (named.length > 0 ? named.includes(name) : all || !SLOW.has(name)))
  .sort();

let failed = 0;
for (const name of benches) {
  console.log(`\n== bench ${name}`);
  const started = Date.now();
  const result = spawnSync(process.execPath, ['--import', 'tsx', `bench/${name}.bench.ts`], {
    cwd: root,
    stdio: 'inherit',
  });
  console.log(
    `== bench ${name}: ${result.status === 0 ? 'done' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
  if (result.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
