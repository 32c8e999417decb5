/**
 * `slotscaler collect --jobmanager URL [--job ID] [--window 30s] [--interval 5s] [--json]`: samples
 * one job for one window and prints what the autoscaler would see, with the REST calls it made.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { systemClock } from '../runtime/clock.js';
import { parseDuration, ValueError } from '../config/values.js';
import { collectReport, formatCollectReport } from '../flink/collect-report.js';
import { FlinkHttpPool, FlinkRestClient } from '../flink/rest-client.js';
import { isSlotscalerError } from '../errors.js';

export interface CollectCommandOptions {
  readonly jobmanager: string;
  readonly job?: string | undefined;
  readonly window: string;
  readonly interval: string;
  readonly json: boolean;
}

export interface CollectIo {
  readonly write: (text: string) => void;
  readonly writeError: (line: string) => void;
  /** Progress for a person waiting on a window (stderr). */
  readonly progress?: (line: string) => void;
}

/** Runs the command; resolves to the exit code: 0, 1 for a job that cannot be read, 2 for bad options. */
export async function runCollect(options: CollectCommandOptions, io: CollectIo): Promise<number> {
  let windowSeconds: number;
  let intervalSeconds: number;
  try {
    windowSeconds = parseDuration(options.window);
    intervalSeconds = parseDuration(options.interval);
  } catch (err) {
    io.writeError(
      `slotscaler collect: --window/--interval: ${err instanceof ValueError ? err.message : String(err)}`,
    );
    return 2;
  }
  if (windowSeconds <= 0 || intervalSeconds <= 0) {
    io.writeError('slotscaler collect: --window and --interval must be longer than 0s');
    return 2;
  }
  const pool = new FlinkHttpPool();
  try {
    io.progress?.(`sampling ${options.jobmanager} every ${intervalSeconds} s for ${windowSeconds} s...`);
    const report = await collectReport({
      client: new FlinkRestClient(options.jobmanager, pool),
      jobId: options.job,
      windowSeconds,
      sampleIntervalSeconds: intervalSeconds,
      clock: systemClock,
      sleep: (ms) => sleep(ms),
    });
    io.write(formatCollectReport(report, options.json ? 'json' : 'table'));
    return 0;
  } catch (err) {
    if (!isSlotscalerError(err)) throw err;
    io.writeError(`slotscaler collect: ${err.message}`);
    return 1;
  } finally {
    pool.close();
  }
}
