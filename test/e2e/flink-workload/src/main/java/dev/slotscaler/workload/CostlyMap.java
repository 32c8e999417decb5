package dev.slotscaler.workload;

import org.apache.flink.api.common.functions.MapFunction;

import java.util.concurrent.locks.LockSupport;

/**
 * A map that costs {@link OfferedLoad#costNanos()} per record, so one subtask processes at most
 * {@code 1e9 / costNanos} records per second. It sleeps rather than spins (the machine has 2 cores
 * and several subtasks), and it paces against a deadline instead of sleeping a fixed time per
 * record: {@code parkNanos} overshoots by tens of microseconds, and the next records make up for
 * it, so the average throughput is exactly one record per cost. Credit for time spent idle is
 * capped at {@link #MAX_CREDIT_NANOS}, so an idle map cannot burst. Flink counts the sleep as busy
 * time (a task is busy when it is neither idle nor back-pressured).
 */
final class CostlyMap implements MapFunction<Long, Long> {

    private static final long serialVersionUID = 1L;
    private static final long MAX_CREDIT_NANOS = 2_000_000L;

    /** When this subtask is free again; per subtask, since each subtask has its own instance. */
    private transient long nextFreeNanos;

    @Override
    public Long map(Long value) throws InterruptedException {
        long cost = OfferedLoad.costNanos();
        if (cost > 0) {
            long now = System.nanoTime();
            if (nextFreeNanos - (now - MAX_CREDIT_NANOS) < 0) {
                nextFreeNanos = now - MAX_CREDIT_NANOS;
            }
            nextFreeNanos += cost;
            long remaining;
            while ((remaining = nextFreeNanos - System.nanoTime()) > 0) {
                LockSupport.parkNanos(remaining);
                if (Thread.currentThread().isInterrupted()) {
                    throw new InterruptedException("costly map interrupted");
                }
            }
        }
        return value;
    }
}
