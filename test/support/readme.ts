/**
 * The README as tests read it: its sections, the code blocks in them, and its shell commands run as a
 * person runs them (bash, kubectl and helm on the PATH, the cluster in KUBECONFIG).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { kubeToolsBin } from '../../scripts/manifests.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The text of a README section: from its heading line (`## A first HPA`) to the next heading of its
 * level or higher outside code blocks (a `# comment` in a shell block is not a heading).
 */
export function readmeSection(heading: string): string {
  const lines = readFileSync(join(repo, 'README.md'), 'utf8').split('\n');
  const start = lines.indexOf(heading);
  if (start < 0) throw new Error(`README.md has no heading "${heading}"`);
  const level = /^#+/.exec(heading)?.[0].length ?? 0;
  let fenced = false;
  let end = lines.length;
  for (let index = start + 1; index < lines.length; index += 1) {
    const line = lines[index] ?? '';
    if (line.startsWith('```')) fenced = !fenced;
    const depth = /^(#+) /.exec(line)?.[1]?.length;
    if (!fenced && depth !== undefined && depth <= level) {
      end = index;
      break;
    }
  }
  return lines.slice(start, end).join('\n');
}

/** The first fenced block of `language` in a README section; an error when the section has none. */
export function readmeBlock(heading: string, language: string): string {
  const block = new RegExp('```' + language + '\\n([\\s\\S]*?)```').exec(readmeSection(heading))?.[1];
  if (block === undefined) throw new Error(`README.md has no ${language} block under "${heading}"`);
  return block;
}

/** The lines of the first `sh` block of a README section, without blank lines, comment lines and trailing comments. */
export function readmeCommands(heading: string): string[] {
  return readmeBlock(heading, 'sh')
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/**
 * Runs one command line as a person would: in bash, at the repository's root, with kubectl and helm
 * on the PATH and, when given, the cluster in KUBECONFIG. Asynchronous, so the calling process can go
 * on serving what the command reaches. Resolves with its standard output.
 */
export async function runAsUser(
  command: string,
  options: {
    readonly kubeconfig?: string;
    readonly env?: Readonly<Record<string, string>>;
    /** Default 10 min: a first `npm run env:up` may build kube-apiserver. */
    readonly timeoutMs?: number;
  } = {},
): Promise<string> {
  const { stdout } = await promisify(execFile)('bash', ['-c', command], {
    cwd: repo,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 600_000,
    env: {
      ...process.env,
      PATH: `${kubeToolsBin()}:${process.env['PATH'] ?? ''}`,
      ...(options.kubeconfig === undefined ? {} : { KUBECONFIG: options.kubeconfig }),
      ...options.env,
    },
  });
  return stdout;
}
