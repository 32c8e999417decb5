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
}

/** The object cannot be scaled as it is; `key` names the annotation or field at fault. */
export interface TargetProblem {
  readonly problem: string;
  readonly key: string;
}
