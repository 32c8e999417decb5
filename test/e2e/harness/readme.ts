/** The README's code blocks, for tests that run its commands and apply its manifests as written. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../..', import.meta.url));

/** The first fenced block of `language` after a README heading, as text. */
export async function readmeBlock(heading: string, language: string): Promise<string> {
  const readme = await readFile(join(repo, 'README.md'), 'utf8');
  const at = readme.indexOf(heading);
  if (at < 0) throw new Error(`README.md has no heading ${heading}`);
  const block = new RegExp('```' + language + '\\n([\\s\\S]*?)```').exec(readme.slice(at))?.[1];
  if (block === undefined) throw new Error(`README.md has no ${language} block after ${heading}`);
  return block;
}

/** The shell lines of the first `sh` block after a README heading (comments and blank lines left out). */
export async function readmeCommands(heading: string): Promise<string[]> {
  return (await readmeBlock(heading, 'sh'))
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}
