/**
 * The simulate report in a real browser: headless Chromium (Debian's `chromium`, or $CHROMIUM)
 * loads it with no console message at all (the page has no script, so any message is a fault), and
 * a screenshot is kept as a test artifact in .cache/test-artifacts/ (git-ignored). Skipped, saying
 * so, when no Chromium is installed (`apt-get install -y chromium`).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { runSimulate } from '../../../src/cli/simulate-command.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const ARTIFACTS = join(root, '.cache', 'test-artifacts');

function findChromium(): string | undefined {
  const explicit = process.env['CHROMIUM'];
  if (explicit !== undefined && explicit !== '') return explicit;
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    for (const name of ['chromium', 'chromium-browser']) {
      const candidate = join(dir, name);
      if (existsSync(candidate)) return candidate;
    }
  }
  return undefined;
}

const chromium = findChromium();

function runChromium(args: readonly string[], profile: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      chromium ?? 'chromium',
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-extensions',
        `--user-data-dir=${profile}`,
        ...args,
      ],
      { timeout: 90_000, maxBuffer: 32 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error !== null) reject(new Error(`chromium failed: ${error.message}\n${stderr}`));
        else resolve({ stdout, stderr });
      },
    );
  });
}

describe(
  'the simulate report in headless Chromium',
  { skip: chromium === undefined ? 'chromium is not installed' : false },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'slotscaler-report-'));
    after(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('renders with no console message, and a screenshot is saved as an artifact', async () => {
      const reportPath = join(dir, 'report.html');
      const code = runSimulate(
        { trace: 'builtin:spike', compare: true, report: reportPath },
        {
          write: () => undefined,
          writeError: (line) => {
            throw new Error(line);
          },
          writeFile: (path, text) => {
            writeFileSync(path, text);
          },
        },
      );
      assert.equal(code, 0);
      const url = pathToFileURL(reportPath).href;

      const dom = await runChromium(
        ['--enable-logging=stderr', '--v=0', '--dump-dom', url],
        join(dir, 'profile-dom'),
      );
      const consoleLines = dom.stderr.split('\n').filter((line) => line.includes(':CONSOLE'));
      assert.deepEqual(consoleLines, []);
      // The browser parsed every chart.
      assert.equal((dom.stdout.match(/<svg /g) ?? []).length, 6);
      assert.match(dom.stdout, /<h1>slotscaler simulate: builtin:spike<\/h1>/);

      mkdirSync(ARTIFACTS, { recursive: true });
      const screenshot = join(ARTIFACTS, 'simulate-report.png');
      rmSync(screenshot, { force: true });
      await runChromium(
        ['--hide-scrollbars', '--window-size=1050,2400', `--screenshot=${screenshot}`, url],
        join(dir, 'profile-shot'),
      );
      const png = readFileSync(screenshot);
      assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
      assert.ok(png.length > 20_000, `${png.length} bytes`);
    });
  },
);
