// The opt-in annotation on the real API server: a `slotscaler.dev/enabled` value that is neither
// true nor false gets the same InvalidAnnotation Warning as every other bad value (at creation and
// when an object is changed to one), while objects without it or with false stay silent.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { Scaler } from '../../src/runtime/start-scaler.js';
import { flinkDeploymentYaml, startEnvironment } from './harness/environment.js';
import type { Environment } from './harness/environment.js';
import { waitFor } from './harness/kube.js';
import { eventsFor, fastConfig, patchAnnotations, startTestScaler } from './scaler-helpers.js';
import type { CoreEvent } from './scaler-helpers.js';

let env: Environment;

before(async () => {
  env = await startEnvironment({ flink: false, log: (message) => console.log(`# ${message}`) });
});

after(async () => {
  await env.stop();
});

const path = (name: string): string =>
  `/apis/flink.apache.org/v1beta1/namespaces/${env.namespace}/flinkdeployments/${name}`;

async function createObject(name: string, annotations: Readonly<Record<string, string>>): Promise<void> {
  await env.applyYaml(flinkDeploymentYaml({ name, taskManagers: 1, slotsPerTaskManager: 2, annotations }));
}

async function invalidAnnotationEvents(name: string): Promise<CoreEvent[] | undefined> {
  const found = (await eventsFor(env.controlPlane, env.namespace, name)).filter(
    (event) => event.reason === 'InvalidAnnotation',
  );
  return found.length > 0 ? found : undefined;
}

describe('the opt-in annotation', { timeout: 120_000 }, () => {
  let scaler: Scaler;

  before(async () => {
    await createObject('maybe', { 'slotscaler.dev/enabled': 'yes' });
    await createObject('off', { 'slotscaler.dev/enabled': 'false', 'slotscaler.dev/tolerance': 'lots' });
    await createObject('unmarked', { 'slotscaler.dev/max-taskmanagers': 'lots' });
    scaler = await startTestScaler(env.controlPlane, fastConfig(), 'opt-in');
  });

  after(async () => {
    await scaler.stop();
  });

  it('enabled: "yes" gets a Warning naming the key, the value and what is expected', async () => {
    const [event, ...more] = await waitFor('the InvalidAnnotation Event on maybe', () =>
      invalidAnnotationEvents('maybe'),
    );
    assert.ok(event !== undefined);
    assert.equal(more.length, 0);
    assert.equal(event.type, 'Warning');
    assert.equal(event.involvedObject.kind, 'FlinkDeployment');
    assert.equal(
      event.message,
      'target skipped until fixed: slotscaler.dev/enabled: "yes": expected true or false',
    );
  });

  it('enabled absent or "false" stays silent, whatever its other annotations say', async () => {
    await scaler.tickNow();
    assert.deepEqual(await eventsFor(env.controlPlane, env.namespace, 'off'), []);
    assert.deepEqual(await eventsFor(env.controlPlane, env.namespace, 'unmarked'), []);
    assert.deepEqual(
      scaler.registry
        .list()
        .map((target) => target.ref.name)
        .sort(),
      ['maybe'],
    );
  });

  it('an object changed to a bad value is reported; changed to "false" it is let go', async () => {
    await patchAnnotations(env.controlPlane, path('off'), {
      'slotscaler.dev/enabled': 'on',
      'slotscaler.dev/tolerance': null,
    });
    const [event] = await waitFor('the InvalidAnnotation Event on off', () => invalidAnnotationEvents('off'));
    assert.equal(
      event?.message,
      'target skipped until fixed: slotscaler.dev/enabled: "on": expected true or false',
    );
    await patchAnnotations(env.controlPlane, path('maybe'), { 'slotscaler.dev/enabled': 'false' });
    await waitFor('maybe to be let go', () =>
      Promise.resolve(
        scaler.registry.list().some((target) => target.ref.name === 'maybe') ? undefined : true,
      ),
    );
  });
});
