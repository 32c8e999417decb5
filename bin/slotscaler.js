#!/usr/bin/env node
// Entry point installed as `slotscaler`. The compiled code lives in dist/ (built by `npm run build`,
// which `npm ci` runs through the `prepare` script).
import { main } from '../dist/main.js';

process.exitCode = await main(process.argv.slice(2));
