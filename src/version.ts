/**
 * Slotscaler's own version: the `version` of package.json, read once. The file sits one folder up
 * from this module both in the sources (src/) and in the build (dist/), and the image copies it.
 */
import { readFileSync } from 'node:fs';

function readVersion(): string {
  const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8');
  const version = (JSON.parse(text) as { version?: unknown }).version;
  if (typeof version !== 'string' || version === '') throw new Error('package.json has no version');
  return version;
}

/** The package version, e.g. `0.1.0`. */
export const SLOTSCALER_VERSION: string = readVersion();
