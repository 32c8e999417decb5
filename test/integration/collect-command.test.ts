// `slotscaler collect` end to end against a fake JobManager that answers Flink's real shapes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { runCollect } from '../../src/cli/collect-command.js';
import { startFakeJobManager, typicalJob } from '../fakes/fake-jobmanager.js';
import type { FakeJobManagerServer } from '../fakes/fake-jobmanager.js';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: { write: (text: string) => out.push(text), writeError: (line: string) => err.push(line) },
  };
}

describe('slotscaler collect', () => {
  let server: FakeJobManagerServer;
  let url: string;

  before(async () => {
    const started = await startFakeJobManager({
      jobs: [typicalJob({ vertices: 3, sources: 1, busyRatio: 0.8, backPressureRatio: 0.3 })],
    });
    server = started.server;
    url = started.url;
  });

  after(async () => {
    await server.close();
  });

  it('prints the window as JSON, with the REST calls made', async () => {
    const { out, err, io: output } = io();
    const code = await runCollect({ jobmanager: url, window: '1.5s', interval: '500ms', json: true }, output);
    assert.equal(code, 0, err.join('\n'));
    const report = JSON.parse(out.join('')) as {
      samples: number;
      metrics: { name: string; reading: { value?: number } }[];
      restCalls: { total: number; perSample: number[] };
    };
    assert.ok(report.samples >= 3);
    const busy = report.metrics.find((metric) => metric.name === 'flink_busy_ratio')?.reading.value;
    assert.ok(busy !== undefined && Math.abs(busy - 0.8) < 0.05, `busy ${String(busy)}`);
    assert.ok(
      report.restCalls.perSample.slice(1).every((calls) => calls <= 2),
      JSON.stringify(report.restCalls),
    );
  });

  it('prints a table by default', async () => {
    const { out, io: output } = io();
    assert.equal(
      await runCollect({ jobmanager: url, window: '1s', interval: '500ms', json: false }, output),
      0,
    );
    assert.match(out.join(''), /flink_busy_ratio/);
    assert.match(out.join(''), /REST calls/);
  });

  it('exits 1 with one line for an unreachable JobManager', async () => {
    const { out, err, io: output } = io();
    const code = await runCollect(
      { jobmanager: 'http://127.0.0.1:1', window: '1s', interval: '500ms', json: false },
      output,
    );
    assert.equal(code, 1);
    assert.deepEqual(out, []);
    assert.equal(err.length, 1);
    assert.match(err[0] ?? '', /^slotscaler collect: .*unreachable/);
  });

  it('exits 1 with one line for a server that is not a JobManager', async () => {
    const { err, io: output } = io();
    const code = await runCollect(
      { jobmanager: `${url}/not-flink`, window: '1s', interval: '500ms', json: false },
      output,
    );
    assert.equal(code, 1);
    assert.equal(err.length, 1);
  });

  it('exits 2 for a bad window', async () => {
    const { err, io: output } = io();
    assert.equal(
      await runCollect({ jobmanager: url, window: 'soon', interval: '1s', json: false }, output),
      2,
    );
    assert.match(err[0] ?? '', /expected a duration/);
    assert.equal(await runCollect({ jobmanager: url, window: '0s', interval: '1s', json: false }, output), 2);
  });
});
