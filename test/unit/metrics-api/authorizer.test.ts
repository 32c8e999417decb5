import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { CachingAuthorizer } from '../../../src/metrics-api/auth/authorizer.js';
import type { AccessAttributes } from '../../../src/domain/auth.js';
import { FakeSubjectAccessReviewer } from '../../fakes/auth.js';

const read: AccessAttributes = {
  kind: 'resource',
  verb: 'list',
  group: 'external.metrics.k8s.io',
  version: 'v1beta1',
  resource: 'flink_busy_ratio',
  namespace: 'flink',
};

describe('CachingAuthorizer', () => {
  it('asks once for concurrent identical questions, caches 10 s, then asks again', async () => {
    const clock = {
      now: 0,
      nowMs() {
        return this.now;
      },
    };
    const reviewer = new FakeSubjectAccessReviewer(() => true);
    const authorizer = new CachingAuthorizer(reviewer, clock);
    const user = { name: 'u', groups: ['b', 'a'], extra: { k: ['v'] } };
    const answers = await Promise.all([authorizer.authorize(user, read), authorizer.authorize(user, read)]);
    assert.deepEqual(
      answers.map((answer) => answer.allowed),
      [true, true],
    );
    assert.equal(reviewer.calls.length, 1);
    // Group order does not matter to the cache.
    await authorizer.authorize({ ...user, groups: ['a', 'b'] }, read);
    assert.equal(reviewer.calls.length, 1);
    clock.now = 10_001;
    await authorizer.authorize(user, read);
    assert.equal(reviewer.calls.length, 2);
  });

  it('never asks for system:masters', async () => {
    const reviewer = new FakeSubjectAccessReviewer(() => false);
    const authorizer = new CachingAuthorizer(reviewer, { nowMs: () => 0 });
    const decision = await authorizer.authorize({ name: 'x', groups: ['system:masters'], extra: {} }, read);
    assert.equal(decision.allowed, true);
    assert.equal(reviewer.calls.length, 0);
  });

  it('does not cache a failed review', async () => {
    const reviewer = new FakeSubjectAccessReviewer(() => true);
    reviewer.failReviews();
    const authorizer = new CachingAuthorizer(reviewer, { nowMs: () => 0 });
    const user = { name: 'x', groups: [], extra: {} };
    await assert.rejects(Promise.resolve(authorizer.authorize(user, read)), { code: 'KUBE_API_FAILED' });
    reviewer.failWith = undefined;
    assert.equal((await authorizer.authorize(user, read)).allowed, true);
  });
});
