// `npm run docs`: regenerates the parts of the README that come from code.
import { readFile, writeFile } from 'node:fs/promises';

import { replaceReference } from '../src/config/reference.js';

const readme = new URL('../README.md', import.meta.url);
const before = await readFile(readme, 'utf8');
const after = replaceReference(before);
if (after === before) {
  console.log('README.md is up to date');
} else {
  await writeFile(readme, after);
  console.log('README.md: config reference regenerated');
}
