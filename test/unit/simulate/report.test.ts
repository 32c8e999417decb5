import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  escapeHtml,
  lineChart,
  perRescaleRows,
  renderReport,
  summaryRows,
} from '../../../src/simulate/report.js';
import { simulate, slotscalerPolicy } from '../../../src/simulate/run.js';
import type { SimulationResult } from '../../../src/simulate/run.js';
import { builtinTrace } from '../../../src/simulate/traces.js';
import type { BuiltinTraceName } from '../../../src/simulate/traces.js';

function withDefaults(trace: BuiltinTraceName): SimulationResult {
  return simulate({
    trace: builtinTrace(trace),
    policy: slotscalerPolicy({}),
    tickIntervalSeconds: 15,
    lagObjectiveSeconds: 60,
  });
}

/** The values of a chart's y-axis ticks (their labels are anchored at their end). */
function yTicks(html: string, title: string): number[] {
  const from = html.slice(html.indexOf(title));
  const chart = from.slice(0, from.indexOf('</svg>'));
  return [...chart.matchAll(/class="tick" text-anchor="end"[^>]*>([\d.]+)<\/text>/g)].map((m) =>
    Number(m[1]),
  );
}

describe('simulate report', () => {
  it('charts the demand ratio past 1 where the job fell behind (the busy ratio stops at 1)', () => {
    const result = withDefaults('step');
    const peak = Math.max(...result.timeline.map((point) => point.demandRatio ?? 0));
    assert.ok(peak > 1.5, `peak demand ${peak}`);
    // Where the demand peaks the job is saturated: busy at most 1 (clamped), the demand well past it.
    const atPeak = result.timeline.find((point) => point.demandRatio === peak);
    assert.ok(atPeak?.busyRatio !== undefined && atPeak.busyRatio !== null, 'a busy ratio at the peak');
    assert.ok(atPeak.busyRatio <= 1 && peak > atPeak.busyRatio + 0.5, `busy ${atPeak.busyRatio} at ${peak}`);
    const html = renderReport([result], { title: 'step', settings: [], limitations: [] });
    const ratios = html.slice(html.indexOf('Busy, demand and back-pressure ratios'));
    assert.match(ratios, /<text[^>]*>demand<\/text>/);
    // The y axis reaches past the peak demand.
    const ticks = yTicks(html, 'Busy, demand and back-pressure ratios');
    assert.ok(ticks.length >= 3);
    assert.ok(Math.max(...ticks) >= peak, `y ticks ${ticks.join(', ')}`);
  });

  it('escapes text, breaks lines at unavailable values and draws steps', () => {
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    const svg = lineChart({
      title: 'busy <ratio>',
      yLabel: 'ratio',
      durationSeconds: 120,
      yMax: 1,
      series: [
        {
          label: 'busy',
          color: '#000',
          points: [
            [0, 0.5],
            [30, null],
            [60, 0.7],
            [90, 0.8],
          ],
        },
        {
          label: 'TMs',
          color: '#111',
          step: true,
          points: [
            [0, 1],
            [60, 1],
            [90, 2],
          ],
        },
      ],
      markers: [{ x: 60, color: '#f00', title: 'up: "why"' }],
    });
    assert.match(svg, /^<svg [^>]*viewBox="0 0 960 280"/);
    assert.match(svg, /busy &lt;ratio&gt;/);
    assert.match(svg, /<title>up: &quot;why&quot;<\/title>/);
    // Two segments for the broken series, one for the steps.
    assert.equal((svg.match(/<polyline /g) ?? []).length, 3);
    assert.doesNotMatch(svg, /NaN|undefined|Infinity/);
  });

  it('renders one policy without compare charts, and lists no decisions when none were wanted', () => {
    const result = withDefaults('flat-with-noise');
    const html = renderReport([result], {
      title: 'flat',
      settings: [['k', 'v <b>']],
      limitations: ['none & all'],
    });
    assert.equal((html.match(/<svg /g) ?? []).length, 4);
    assert.match(html, /No change was wanted/);
    assert.match(html, /v &lt;b&gt;/);
    assert.match(html, /none &amp; all/);
    assert.doesNotMatch(html, /NaN|undefined|Infinity/);
    // A job that keeps up: the ratios chart stays on 0..1.
    assert.match(html, /Busy, demand and back-pressure ratios/);
    const flatTicks = yTicks(html, 'Busy, demand and back-pressure ratios');
    assert.equal(Math.max(...flatTicks), 1);
    assert.throws(
      () => renderReport([], { title: '', settings: [], limitations: [] }),
      /at least one result/,
    );
  });

  it('tables a run that does not count paths or replays (a real run) with dashes, not zeros', () => {
    const simulated = withDefaults('step');
    const { rescalesByPath: _paths, recordsReprocessed: _replayed, ...counted } = simulated.summary;
    const real: SimulationResult = {
      ...simulated,
      policy: 'real run',
      summary: counted,
      decisions: simulated.decisions.map(({ rescale: _rescale, ...decision }) => decision),
    };
    const rows = summaryRows([simulated, real]);
    const header = rows[0] ?? [];
    const cell = (row: readonly string[] | undefined, name: string): string | undefined =>
      row?.[header.indexOf(name)];
    assert.equal(cell(rows[1], 'records reprocessed'), '31,672');
    assert.equal(cell(rows[1], 'rescales by path'), 'in place 1');
    assert.equal(cell(rows[2], 'records reprocessed'), '-');
    assert.equal(cell(rows[2], 'rescales by path'), '-');
    // Per rescale: the step's one scale-up in place; the real run's replay is unknown.
    assert.deepEqual(perRescaleRows([simulated, real]), [
      ['policy', 'rescales', 'downtime per rescale (s)', 'records reprocessed per rescale'],
      [simulated.policy, '1', '3.3', '31,672'],
      ['real run', '1', '3.3', '-'],
    ]);
    const quiet = withDefaults('flat-with-noise');
    assert.deepEqual(perRescaleRows([quiet])[1], [quiet.policy, '0', '-', '-']);
    const html = renderReport([real], { title: 'real', settings: [], limitations: [] });
    assert.match(html, /<td>real run<\/td><td>1<\/td><td>3\.3<\/td><td>-<\/td>/);
    assert.doesNotMatch(html, /NaN|undefined|Infinity/);
    assert.match(html, /<td>2 → 5<\/td><td>10<\/td><td><\/td><td><\/td><td><\/td>/);
  });
});
