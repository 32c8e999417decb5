/**
 * A scale target as the scaler sees it, whatever its kind: what the kind's adapter read from the
 * object (src/kube/adapters/), in plain values.
 */

/** What the scaler reads from one target object. */
export interface TargetView {
  /** The JobManager REST URL. */
  readonly jobManagerUrl: string;
  /** The job to read, when the object names it (else the collector finds the one RUNNING job). */
  readonly jobId: string | undefined;
  /** Task slots per TaskManager from the spec or the annotation; null: read them from Flink. */
  readonly taskSlots: number | null;
  /** TaskManagers asked for now (`scale.spec.replicas`). */
  readonly currentReplicas: number;
  /** TaskManagers ready. */
  readonly readyReplicas: number;
  /** TaskManagers the operator reports (`scale.status.replicas`). */
  readonly statusReplicas: number;
  /** The job's parallelism as the spec says, when it says. */
  readonly currentParallelism: number | null;
  /** Why the operator is busy (an upgrade, savepoint or rollback in progress), or null when it is not. */
  readonly operatorBusy: string | null;
  /** A rescale restarts the job from empty state (FlinkDeployment `upgradeMode: stateless`). */
  readonly stateless: boolean;
  /** Another autoscaler the object's own spec turns on (the Flink operator's), or null. */
  readonly otherAutoscaler: string | null;
  /** The ways its spec lets a rescale reach the job. */
  readonly rescale: RescaleSupport;
}

/** The ways a target's spec lets a rescale reach the job, as its adapter reads the spec. */
export interface RescaleSupport {
  /** The path a rescale takes unless the target forces one (`slotscaler.dev/rescale: auto`). */
  readonly auto: RescalePath;
  /** Why `auto` is that path, for Events and logs ("Flink v1_17 cannot rescale in place"). */
  readonly autoWhy: string;
  /** What the spec lacks for an in-place rescale, or null when it has all it needs. */
  readonly inPlaceMissing: string | null;
  /** How a rescale that is not in place is written: a full upgrade, or the scale fields alone. */
  readonly notInPlace: Exclude<RescalePath, 'in-place'>;
}

/** The object cannot be scaled as it is; `key` names the annotation or field at fault. */
export interface TargetProblem {
  readonly problem: string;
  readonly key: string;
}

/**
 * How a rescale reaches the job, and so what it costs it:
 * - `in-place`: the adaptive scheduler changes the running job's parallelism (Flink ≥ 1.18,
 *   `PUT /jobs/{id}/resource-requirements`); JobManager and TaskManagers stay, the job restarts
 *   internally from its latest checkpoint within seconds;
 * - `redeploy`: the job is stopped (savepoint or last state) and deployed again at the new
 *   parallelism: JobManager and TaskManagers are recreated, 30 to 120 s on a real cluster;
 * - `scale`: only the TaskManager count is written and Flink follows it by itself (reactive mode),
 *   restarting internally from its latest checkpoint like an in-place rescale.
 */
export type RescalePath = 'in-place' | 'redeploy' | 'scale';
