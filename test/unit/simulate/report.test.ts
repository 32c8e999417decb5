import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { escapeHtml, lineChart, renderReport } from '../../../src/simulate/report.js';
import { simulate, slotscalerPolicy } from '../../../src/simulate/run.js';
import { builtinTrace } from '../../../src/simulate/traces.js';

describe('simulate report', () => {
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
    const result = simulate({
      trace: builtinTrace('flat-with-noise'),
      policy: slotscalerPolicy({}),
      tickIntervalSeconds: 15,
      lagObjectiveSeconds: 60,
    });
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
    assert.throws(
      () => renderReport([], { title: '', settings: [], limitations: [] }),
      /at least one result/,
    );
  });
});
