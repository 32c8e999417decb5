/**
 * The one place scale target kinds are registered: the three built-in kinds, then one adapter per
 * custom kind named in the config.
 */
import type { ResourceRef } from '../objects.js';
import type { TargetAdapter } from './adapter.js';
import { customResourceAdapter } from './custom-resource.js';
import { deploymentAdapter } from './deployment.js';
import { flinkApplicationAdapter } from './flink-application.js';
import { flinkDeploymentAdapter } from './flink-deployment.js';

export const BUILT_IN_ADAPTERS: readonly TargetAdapter[] = [
  flinkDeploymentAdapter,
  flinkApplicationAdapter,
  deploymentAdapter,
];

/** The built-in adapters and one per extra kind (a kind given twice, or a built-in one, counts once). */
export function adaptersFor(extraKinds: readonly ResourceRef[]): readonly TargetAdapter[] {
  const adapters = [...BUILT_IN_ADAPTERS];
  for (const kind of extraKinds) {
    if (adapters.some((a) => a.resource.group === kind.group && a.resource.plural === kind.plural)) continue;
    adapters.push(customResourceAdapter(kind));
  }
  return adapters;
}
