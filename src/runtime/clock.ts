/**
 * The real `Clock`: the one place that reads the wall clock for the collector.
 */
import type { Clock } from '../domain/ports.js';

export const systemClock: Clock = {
  nowMs: () => Date.now(),
};
