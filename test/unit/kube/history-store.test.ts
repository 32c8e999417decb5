// The histories' stores: in memory, and taken from the status annotation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { AnnotationHistoryStore, encodeStatus } from '../../../src/kube/status-annotation.js';
import {
  InMemoryHistoryStore,
  NO_HISTORY,
  NO_TRANSIENTS,
  planHistoryOf,
} from '../../../src/scaler/history-store.js';

const NOW = Date.UTC(2026, 0, 1);
const ID = 'flinkdeployment/flink/job';

function annotation(rescaledAt: number, recommendations: [number, number][]): string {
  return encodeStatus({
    lastDecision: null,
    lastRescaleAtMs: rescaledAt,
    rescaleDoneAtMs: null,
    recommendations: recommendations.map(([replicas, timestampMs]) => ({ replicas, timestampMs })),
    scaleEvents: [{ replicaChange: 1, timestampMs: rescaledAt }],
  });
}

describe('InMemoryHistoryStore', () => {
  it('keeps, replaces and forgets a target', () => {
    const store = new InMemoryHistoryStore();
    assert.equal(store.get(ID), undefined);
    store.set(ID, { ...NO_HISTORY, lastRescaleAtMs: 5 });
    assert.equal(store.get(ID)?.lastRescaleAtMs, 5);
    store.delete(ID);
    assert.equal(store.get(ID), undefined);
  });

  it('gives a plan no recommendations at all for a target never seen, and the stored ones after', () => {
    assert.equal(planHistoryOf(undefined).recommendations, null);
    assert.deepEqual(planHistoryOf({ ...NO_HISTORY }, { ...NO_TRANSIENTS, backoffUntilMs: 7 }), {
      ...NO_HISTORY,
      backoffUntilMs: 7,
      inFlight: null,
      notTaken: null,
    });
  });
});

describe('AnnotationHistoryStore', () => {
  it('takes scale events and the last rescale from the annotation, and merges recommendations with its own', () => {
    const store = new AnnotationHistoryStore();
    store.set(ID, { ...NO_HISTORY, recommendations: [{ replicas: 3, timestampMs: NOW - 1000 }] });
    const problems = store.take(ID, annotation(NOW - 5000, [[2, NOW - 2000]]), NOW, true);
    assert.deepEqual(problems, []);
    const history = store.get(ID);
    assert.equal(history?.lastRescaleAtMs, NOW - 5000);
    assert.deepEqual(history.scaleEvents, [{ replicaChange: 1, timestampMs: NOW - 5000 }]);
    assert.deepEqual(
      [...history.recommendations].sort((a, b) => a.timestampMs - b.timestampMs),
      [
        { replicas: 2, timestampMs: NOW - 2000 },
        { replicas: 3, timestampMs: NOW - 1000 },
      ],
    );
  });

  it('does not take the same text twice unless forced, nor back what it wrote itself', () => {
    const store = new AnnotationHistoryStore();
    const text = annotation(NOW - 5000, []);
    store.take(ID, text, NOW, true);
    store.set(ID, { ...NO_HISTORY, lastRescaleAtMs: NOW });
    store.take(ID, text, NOW, false);
    assert.equal(store.get(ID)?.lastRescaleAtMs, NOW, 'an unchanged annotation is not news');
    store.take(ID, text, NOW, true);
    assert.equal(store.get(ID)?.lastRescaleAtMs, NOW - 5000, 'a new leader takes it again');
    const ours = annotation(NOW - 1000, []);
    store.wrote(ID, ours);
    store.set(ID, { ...NO_HISTORY, lastRescaleAtMs: NOW });
    store.take(ID, ours, NOW, false);
    assert.equal(store.get(ID)?.lastRescaleAtMs, NOW, 'its own write is not taken back');
  });

  it('reports what it could not take as it is, and forgets a deleted target', () => {
    const store = new AnnotationHistoryStore();
    assert.ok(store.take(ID, '{not json', NOW, true).length > 0);
    assert.equal(store.get(ID), undefined);
    store.take(ID, annotation(NOW, []), NOW, true);
    store.delete(ID);
    assert.equal(store.get(ID), undefined);
  });
});
