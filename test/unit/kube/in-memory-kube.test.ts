// The in-memory Kubernetes the kube and runtime tests run on (test/fakes/kube): those tests are only
// worth what its answers are worth, so here is what it answers as kube-apiserver does.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { KubeUnreachableError } from '../../../src/errors.js';
import type { WatchEnd, WatchEvent } from '../../../src/kube/kube-client.js';
import type { KubeObject } from '../../../src/kube/objects.js';
import { FLINK_DEPLOYMENT_CRD, InMemoryKube } from '../../fakes/kube/in-memory-kube.js';

const DEPLOYMENTS = '/apis/apps/v1/namespaces/ns/deployments';
const FLINK = '/apis/flink.apache.org/v1beta1/namespaces/ns/flinkdeployments';

function deployment(name: string, labels: Record<string, string> = {}, namespace = 'ns'): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels },
    spec: { replicas: 1 },
    status: { replicas: 1 },
  };
}

type Body = Record<string, unknown> & {
  metadata: { resourceVersion?: string; continue?: string; name?: string; generation?: number };
  items?: KubeObject[];
};

/** Opens a watch and returns what it received, and how to end it. */
function watchOf(kube: InMemoryKube, path: string, query: Record<string, string>) {
  const events: WatchEvent[] = [];
  const controller = new AbortController();
  const ended: Promise<WatchEnd> = kube.watch(path, query, (event) => events.push(event), {
    signal: controller.signal,
    idleTimeoutMs: 60_000,
  });
  const seen = () =>
    events.map(
      (e) =>
        `${e.type} ${(e.object as KubeObject).metadata.name}@${(e.object as KubeObject).metadata.resourceVersion ?? ''}`,
    );
  return { events, seen, ended, stop: () => controller.abort() };
}

describe('InMemoryKube', () => {
  it('lists with the collection resourceVersion, in pages, and a continue from compacted history is 410', async () => {
    const kube = new InMemoryKube();
    for (const name of ['c', 'a', 'b']) kube.apply(deployment(name));
    kube.apply(deployment('elsewhere', {}, 'other'));
    const first = await kube.request({ method: 'GET', path: `${DEPLOYMENTS}?limit=2` });
    const body = first.body as Body;
    assert.equal(first.status, 200);
    assert.equal(first.headers['content-type'], 'application/json');
    assert.equal(body['kind'], 'DeploymentList');
    assert.equal(body.metadata.resourceVersion, String(kube.revision));
    assert.deepEqual(
      body.items?.map((item) => item.metadata.name),
      ['a', 'b'],
    );
    assert.deepEqual(
      (body.items ?? []).map((item) => item.kind),
      [undefined, undefined],
      'items of a built-in kind carry no kind',
    );
    kube.apply(deployment('d'));
    const token = body.metadata.continue ?? '';
    const second = await kube.request({ method: 'GET', path: `${DEPLOYMENTS}?limit=2&continue=${token}` });
    assert.deepEqual(
      (second.body as Body).items?.map((item) => item.metadata.name),
      ['c'],
      'the rest of the list as it was, d not in it',
    );
    kube.compact();
    const expired = await kube.request({ method: 'GET', path: `${DEPLOYMENTS}?limit=2&continue=${token}` });
    assert.equal(expired.status, 410);
    assert.equal((expired.body as Body)['reason'], 'Expired');
  });

  it('filters by label and field selectors as the API server reads them, and refuses a field it does not index', async () => {
    const kube = new InMemoryKube();
    kube.apply(deployment('web', { app: 'shop', tier: 'front' }));
    kube.apply(deployment('api', { app: 'shop', tier: 'back' }));
    kube.apply(deployment('old', { app: 'shop', tier: 'back', legacy: 'yes' }));
    kube.apply(deployment('db', { app: 'data' }));
    const names = async (query: string): Promise<string[] | number> => {
      const answer = await kube.request({ method: 'GET', path: `${DEPLOYMENTS}?${query}` });
      return answer.status === 200
        ? ((answer.body as Body).items ?? []).map((i) => i.metadata.name)
        : answer.status;
    };
    assert.deepEqual(
      await names(`labelSelector=${encodeURIComponent('app=shop,tier in (front,back),!legacy')}`),
      ['api', 'web'],
    );
    assert.deepEqual(await names(`labelSelector=${encodeURIComponent('app!=shop')}`), ['db']);
    assert.deepEqual(await names(`labelSelector=legacy`), ['old']);
    assert.deepEqual(await names(`fieldSelector=${encodeURIComponent('metadata.name=db')}`), ['db']);
    assert.equal(await names(`fieldSelector=${encodeURIComponent('spec.replicas=1')}`), 400);
  });

  it('watches replay the changes after a resourceVersion, and an object leaving the selection is DELETED for that watch', async () => {
    const kube = new InMemoryKube();
    const a = kube.apply(deployment('a', { app: 'x' }));
    const from = a.metadata.resourceVersion ?? '';
    const b = kube.apply(deployment('b', { app: 'x' }));
    const watch = watchOf(kube, DEPLOYMENTS, { resourceVersion: from, labelSelector: 'app=x' });
    await Promise.resolve();
    await Promise.resolve();
    const moved = kube.patchObject(`${DEPLOYMENTS}/a`, { metadata: { labels: { app: 'y' } } });
    const back = kube.patchObject(`${DEPLOYMENTS}/a`, { metadata: { labels: { app: 'x' } } });
    kube.deleteObject(`${DEPLOYMENTS}/b`);
    watch.stop();
    assert.deepEqual(await watch.ended, { kind: 'closed' });
    assert.deepEqual(watch.seen(), [
      `ADDED b@${b.metadata.resourceVersion ?? ''}`,
      `DELETED a@${moved.metadata.resourceVersion ?? ''}`,
      `ADDED a@${back.metadata.resourceVersion ?? ''}`,
      `DELETED b@${kube.revision}`,
    ]);
  });

  it('a watch from compacted history gets an ERROR event with 410 Expired and ends', async () => {
    const kube = new InMemoryKube();
    const a = kube.apply(deployment('a'));
    kube.apply(deployment('b'));
    kube.compact();
    const watch = watchOf(kube, DEPLOYMENTS, { resourceVersion: a.metadata.resourceVersion ?? '' });
    assert.deepEqual(await watch.ended, { kind: 'closed' });
    const [error] = watch.events;
    assert.ok(error !== undefined);
    assert.equal(error.type, 'ERROR');
    const status = error.object as Body;
    assert.deepEqual([status['code'], status['reason']], [410, 'Expired']);
  });

  it('guards writes by resourceVersion, refuses a second create, and wants a version on a custom resource update', async () => {
    const kube = new InMemoryKube();
    kube.apply(FLINK_DEPLOYMENT_CRD);
    const created = await kube.request({
      method: 'POST',
      path: FLINK,
      body: {
        apiVersion: 'flink.apache.org/v1beta1',
        kind: 'FlinkDeployment',
        metadata: { name: 'job' },
        spec: { job: { parallelism: 2 } },
      },
    });
    assert.equal(created.status, 201);
    const version = (created.body as Body).metadata.resourceVersion;
    const again = await kube.request({ method: 'POST', path: FLINK, body: created.body });
    assert.deepEqual([again.status, (again.body as Body)['reason']], [409, 'AlreadyExists']);
    const guarded = (resourceVersion: string | undefined) =>
      kube.request({
        method: 'PATCH',
        path: `${FLINK}/job`,
        body: { metadata: { resourceVersion }, spec: { job: { parallelism: 4 } } },
      });
    const fresh = await guarded(version);
    assert.equal(fresh.status, 200);
    assert.equal((fresh.body as Body).metadata.generation, 2, 'a spec change moves the generation');
    const stale = await guarded(version);
    assert.equal(stale.status, 409);
    assert.equal(
      (stale.body as Body)['message'],
      'Operation cannot be fulfilled on flinkdeployments.flink.apache.org "job": the object has been modified; please apply your changes to the latest version and try again',
    );
    const put = await kube.request({
      method: 'PUT',
      path: `${FLINK}/job`,
      body: { metadata: { name: 'job' }, spec: {} },
    });
    assert.equal(put.status, 422);
    const missing = await kube.request({ method: 'GET', path: `${FLINK}/nope` });
    assert.deepEqual(
      [missing.status, (missing.body as Body)['message']],
      [404, 'flinkdeployments.flink.apache.org "nope" not found'],
    );
  });

  it('deletes only while the preconditions of the DeleteOptions hold, as kube-apiserver does', async () => {
    const kube = new InMemoryKube();
    kube.apply(deployment('web'));
    const stored = kube.read(`${DEPLOYMENTS}/web`);
    assert.ok(stored !== undefined);
    const remove = (preconditions: Record<string, string>) =>
      kube.request({ method: 'DELETE', path: `${DEPLOYMENTS}/web`, body: { preconditions } });
    const stale = await remove({ resourceVersion: '1' });
    assert.deepEqual(
      [stale.status, (stale.body as Body)['message']],
      [
        409,
        `Operation cannot be fulfilled on deployments.apps "web": Precondition failed: ResourceVersion in precondition: 1, ResourceVersion in object meta: ${stored.metadata.resourceVersion ?? ''}`,
      ],
    );
    assert.equal((await remove({ uid: 'another' })).status, 409);
    assert.notEqual(kube.read(`${DEPLOYMENTS}/web`), undefined, 'still there');
    const ok = await remove({
      uid: stored.metadata.uid ?? '',
      resourceVersion: stored.metadata.resourceVersion ?? '',
    });
    assert.equal(ok.status, 200);
    assert.equal(kube.read(`${DEPLOYMENTS}/web`), undefined);
  });

  it('keeps status to the status subresource and serves /scale at the CRD’s paths', async () => {
    const kube = new InMemoryKube();
    kube.apply(FLINK_DEPLOYMENT_CRD);
    kube.apply({
      apiVersion: 'flink.apache.org/v1beta1',
      kind: 'FlinkDeployment',
      metadata: { name: 'job', namespace: 'ns' },
      spec: { taskManager: { replicas: 2 } },
      status: { taskManager: { replicas: 2, labelSelector: 'app=job' } },
    });
    const ignored = await kube.request({
      method: 'PATCH',
      path: `${FLINK}/job`,
      body: { status: { taskManager: { replicas: 9 } }, metadata: { labels: { a: 'b' } } },
    });
    assert.equal(ignored.status, 200);
    assert.deepEqual((ignored.body as KubeObject).status, {
      taskManager: { replicas: 2, labelSelector: 'app=job' },
    });
    assert.equal((ignored.body as Body).metadata.generation, 1, 'metadata and status leave the generation');
    const scale = await kube.request({ method: 'GET', path: `${FLINK}/job/scale` });
    assert.deepEqual(
      [(scale.body as KubeObject).spec, (scale.body as KubeObject).status],
      [{ replicas: 2 }, { replicas: 2, selector: 'app=job' }],
    );
    const scaled = await kube.request({
      method: 'PATCH',
      path: `${FLINK}/job/scale`,
      body: { spec: { replicas: 3 } },
    });
    assert.equal(scaled.status, 200);
    assert.deepEqual(kube.read(`${FLINK}/job`)?.spec, { taskManager: { replicas: 3 } });
    assert.equal((scaled.body as Body).metadata.resourceVersion, String(kube.revision));
  });

  it('answers injected faults as the API server and HttpKubeClient would, for as many requests as asked', async () => {
    const kube = new InMemoryKube({ origin: 'https://api:6443' });
    kube.apply(deployment('a'));
    const throttled = kube.inject(
      { verb: 'get', resource: 'deployments', skip: 1, times: 2 },
      { status: 429 },
    );
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await kube.request({ method: 'GET', path: `${DEPLOYMENTS}/a` })).status);
    assert.deepEqual(statuses, [200, 429, 429, 200]);
    assert.equal(throttled.hits, 2);
    kube.inject({ verb: 'list' }, { status: 429 });
    const answer = await kube.request({ method: 'GET', path: DEPLOYMENTS });
    assert.equal(answer.headers['retry-after'], '1');
    assert.deepEqual(
      [(answer.body as Body)['reason'], (answer.body as Body)['details']],
      ['TooManyRequests', { retryAfterSeconds: 1 }],
    );
    kube.inject({ verb: 'patch' }, { network: 'read ECONNRESET' });
    await assert.rejects(
      kube.request({ method: 'PATCH', path: `${DEPLOYMENTS}/a`, body: {} }),
      (err: unknown) =>
        err instanceof KubeUnreachableError &&
        err.message === `Kubernetes API server https://api:6443: PATCH ${DEPLOYMENTS}/a: read ECONNRESET`,
    );
  });

  it('ends a watch with what its listener throws', async () => {
    const kube = new InMemoryKube();
    const controller = new AbortController();
    const ended = kube.watch(
      DEPLOYMENTS,
      {},
      () => {
        throw new Error('listener failed');
      },
      { signal: controller.signal, idleTimeoutMs: 1_000 },
    );
    await Promise.resolve();
    await Promise.resolve();
    kube.apply(deployment('a'));
    await assert.rejects(ended, /listener failed/);
    assert.equal(kube.openWatches, 0);
  });

  it('answers TokenReviews and SubjectAccessReviews from the test’s rules, storing neither', async () => {
    const kube = new InMemoryKube();
    kube.reviewToken = (token) => (token === 'good' ? { username: 'alice', groups: ['dev'] } : null);
    kube.reviewAccess = (spec) => ({ allowed: spec['user'] === 'alice' });
    const review = (token: string) =>
      kube.request({
        method: 'POST',
        path: '/apis/authentication.k8s.io/v1/tokenreviews',
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
      });
    const good = await review('good');
    assert.equal(good.status, 201);
    assert.deepEqual((good.body as KubeObject).status, {
      authenticated: true,
      user: { username: 'alice', groups: ['dev'] },
      audiences: [],
    });
    assert.deepEqual(((await review('bad')).body as KubeObject).status, { user: {} });
    const access = await kube.request({
      method: 'POST',
      path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
      body: { spec: { user: 'bob' } },
    });
    assert.deepEqual([access.status, (access.body as KubeObject).status], [201, { allowed: false }]);
    const list = await kube.request({ method: 'GET', path: '/apis/authentication.k8s.io/v1/tokenreviews' });
    assert.equal(list.status, 405);
  });
});
