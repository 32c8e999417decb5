// `npm run demo` in its quick mode, as a user runs it: a real environment, slotscaler serve, a load
// ramp up and down; it must record at least one scale-up and one scale-down, every one applied in
// place on the same job, measure a rescale each way, and exit 0.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const demo = fileURLToPath(new URL('../../scripts/demo.ts', import.meta.url));

describe('npm run demo (quick)', { timeout: 600_000 }, () => {
  it('scales up and down in place on the real environment, measures both paths, writes its report and exits 0', async () => {
    const report = join(await mkdtemp(join(tmpdir(), 'slotscaler-demo-')), 'demo-report.html');
    const child = spawn(process.execPath, ['--import', 'tsx', demo, '--quick', '--report', report], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    assert.equal(code, 0, output.slice(-4000));

    const summary =
      /(\d+) scale-up\(s\), (\d+) scale-down\(s\) decided; the operator applied (\d+) spec change/.exec(
        output,
      );
    assert.ok(summary, output.slice(-2000));
    const [, ups = '0', downs = '0', applied = '0'] = summary;
    assert.ok(Number(ups) >= 1 && Number(downs) >= 1);
    assert.equal(Number(applied), Number(ups) + Number(downs), 'one spec change per decision');
    const paths = /one restart per decision, (\d+) of them in place \(the same job id throughout\)/.exec(
      output,
    );
    assert.ok(paths, `every rescale in place on the same job: ${output.slice(-2000)}`);
    assert.equal(Number(paths[1]), Number(applied), 'every spec change applied in place');
    const downtime = /^downtime per rescale: in place (\d+(?:\.\d+)?) s, redeploy (\d+(?:\.\d+)?) s/m.exec(
      output,
    );
    assert.ok(downtime, `the downtime line: ${output.slice(-2000)}`);
    const [, inPlaceSeconds = '', redeploySeconds = ''] = downtime;
    console.log(
      `# path: ${applied} rescale(s), all in place; downtime per rescale: in place ${inPlaceSeconds} s, redeploy ${redeploySeconds} s`,
    );

    const html = await readFile(report, 'utf8');
    assert.match(html, /<svg/);
    assert.match(html, /Slotscaler demo: a real run/);
    assert.match(html, /DesiredWithinRange|ScaleDownStabilized/);
    assert.ok(
      html.includes(
        `<td>downtime per rescale</td><td>in place ${inPlaceSeconds} s, redeploy ${redeploySeconds} s</td>`,
      ),
      'the report carries the figures the run printed',
    );
  });
});
