package dev.slotscaler.workload;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The external queue the job reads, and the knobs a test turns. One per JVM: the MiniCluster runs
 * its tasks in this JVM, so the source readers and the map read this static state directly.
 *
 * <p>The queue has {@code partitions} partitions, like a Kafka topic. Records are offered at
 * {@code recordsPerSecond} in total, round-robin over the partitions: global record {@code n} goes
 * to partition {@code n % partitions}, so every partition is offered {@code recordsPerSecond /
 * partitions}. Source subtask {@code i} of {@code p} reads the partitions {@code k} with {@code k %
 * p == i}, so it is offered {@code recordsPerSecond / p} when {@code p} divides the partition count
 * (the default 840 is divisible by 1..8, 10, 12, 14, 15...). What was offered lives here and not in
 * the job, so the backlog survives a rescale or a failover the way a broker's backlog would: records
 * offered while the job restarts are still pending afterwards.
 *
 * <p>Where each partition is read up to is the source's checkpointed state (its splits, see {@link
 * OfferedLoadSource}), as a Kafka source's offsets are. The readers publish their positions here
 * so that {@code /state} can sum them; a job restored from a checkpoint or savepoint moves them
 * back, and the records after them are read again.
 *
 * <p>The offered count is an integral of the rate over time, started when the first reader starts.
 */
public final class OfferedLoad {

    private static final Object LOCK = new Object();

    private static int partitions = 840;
    private static AtomicLongArray positions = new AtomicLongArray(partitions);

    private static double recordsPerSecond;
    private static double offeredAtBase;
    private static long baseNanos;
    private static boolean clockStarted;

    private static volatile long costNanosPerRecord;

    private OfferedLoad() {}

    /** Sets the initial knobs; call before the job starts. */
    public static void configure(int partitionCount, double rate, long costNanos) {
        if (partitionCount < 1) {
            throw new IllegalArgumentException("partitions must be >= 1");
        }
        synchronized (LOCK) {
            partitions = partitionCount;
            positions = new AtomicLongArray(partitionCount);
            recordsPerSecond = checkRate(rate);
            offeredAtBase = 0;
            clockStarted = false;
        }
        setCostNanos(costNanos);
    }

    /** Starts offering records (idempotent). Called by every source reader when it starts. */
    public static void startClock() {
        synchronized (LOCK) {
            if (!clockStarted) {
                clockStarted = true;
                baseNanos = System.nanoTime();
                offeredAtBase = 0;
            }
        }
    }

    public static int partitions() {
        synchronized (LOCK) {
            return partitions;
        }
    }

    public static double recordsPerSecond() {
        synchronized (LOCK) {
            return recordsPerSecond;
        }
    }

    /** Changes the offered rate from now on; what was offered so far stays offered. */
    public static void setRecordsPerSecond(double rate) {
        double checked = checkRate(rate);
        synchronized (LOCK) {
            if (clockStarted) {
                long now = System.nanoTime();
                offeredAtBase = offeredAt(now);
                baseNanos = now;
            }
            recordsPerSecond = checked;
        }
    }

    /** Records offered so far, over all partitions. */
    public static long offeredRecords() {
        synchronized (LOCK) {
            return clockStarted ? (long) Math.floor(offeredAt(System.nanoTime())) : 0L;
        }
    }

    private static double offeredAt(long nowNanos) {
        return offeredAtBase + recordsPerSecond * (nowNanos - baseNanos) / 1e9;
    }

    /**
     * Records offered to partition {@code k} of {@code partitionCount} when {@code offered} were
     * offered in total: the count of {@code n < offered} with {@code n % partitionCount == k}.
     */
    public static long offeredInPartition(long offered, int k, int partitionCount) {
        return offered > k ? (offered - 1 - k) / partitionCount + 1 : 0L;
    }

    /** Where the readers last said each partition is read up to (the next record's sequence). */
    static AtomicLongArray positions() {
        synchronized (LOCK) {
            return positions;
        }
    }

    /**
     * Records read so far, over all partitions: the sum of the readers' positions. A restore from
     * a checkpoint moves it back by what will be read again.
     */
    public static long emittedRecords() {
        AtomicLongArray read = positions();
        long sum = 0;
        for (int k = 0; k < read.length(); k++) {
            sum += read.get(k);
        }
        return sum;
    }

    public static long costNanos() {
        return costNanosPerRecord;
    }

    public static void setCostNanos(long costNanos) {
        if (costNanos < 0) {
            throw new IllegalArgumentException("cost must be >= 0");
        }
        costNanosPerRecord = costNanos;
    }

    private static double checkRate(double rate) {
        if (!(rate >= 0) || Double.isInfinite(rate)) {
            throw new IllegalArgumentException("recordsPerSecond must be a finite number >= 0");
        }
        return rate;
    }
}
