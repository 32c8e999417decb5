package dev.slotscaler.workload;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.HashSet;
import java.util.Set;

/**
 * What reached the sink, kept in the JVM (the sink's subtasks run here): records out per 100 ms
 * (the output timeline), every silence of at least {@link #MIN_SILENCE_MILLIS} between two records
 * (the output gap of a rescale, to the millisecond: an in-place restart on a MiniCluster can be
 * shorter than a bucket), and records seen more than once (the records a restart from a checkpoint
 * made the job process again).
 *
 * <p>A record is {@code partition + sequence * partitions} (see {@link OfferedLoadSource}). A
 * record is reprocessed when its (partition, sequence) was seen before. "Sequence at most the
 * highest seen" would not do: the rebalance between source and map lets records of one partition
 * overtake each other on their way through different map subtasks. So the ledger keeps, per
 * partition, the sequence below which all were seen and the few seen above it.
 */
final class SinkLedger {

    /** Width of one timeline bucket. */
    static final long BUCKET_MILLIS = 100;

    /** Shorter pauses between records are the job at work (polling, a collection), not a gap. */
    static final long MIN_SILENCE_MILLIS = 10;

    private static final int MAX_SILENCES = 10_000;

    private static final Object LOCK = new Object();

    private static int partitions = 1;
    /** Per partition: every sequence below this was seen. */
    private static long[] contiguous = new long[1];
    /** Per partition: sequences seen above {@code contiguous} (records that overtook others). */
    private static Set<Long>[] ahead = newSets(1);

    private static long firstBucket;
    private static long[] counts = new long[0];
    private static long recordsOut;
    private static long lastRecordMillis;
    /** Silences as (start, end) pairs, oldest first; the oldest dropped beyond MAX_SILENCES. */
    private static final ArrayDeque<long[]> silences = new ArrayDeque<>();
    private static long reprocessed;

    private SinkLedger() {}

    /** Starts an empty ledger for {@code partitionCount} partitions, its timeline at now. */
    static void configure(int partitionCount) {
        synchronized (LOCK) {
            partitions = partitionCount;
            contiguous = new long[partitionCount];
            ahead = newSets(partitionCount);
            firstBucket = System.currentTimeMillis() / BUCKET_MILLIS;
            counts = new long[600];
            recordsOut = 0;
            reprocessed = 0;
            lastRecordMillis = System.currentTimeMillis();
            silences.clear();
        }
    }

    /** Counts one record out of the job. */
    static void record(long value) {
        long now = System.currentTimeMillis();
        synchronized (LOCK) {
            int k = (int) (value % partitions);
            long sequence = value / partitions;
            recordsOut++;
            if (now - lastRecordMillis >= MIN_SILENCE_MILLIS) {
                silences.addLast(new long[] {lastRecordMillis, now});
                if (silences.size() > MAX_SILENCES) {
                    silences.removeFirst();
                }
            }
            lastRecordMillis = Math.max(lastRecordMillis, now);
            int bucket = (int) (now / BUCKET_MILLIS - firstBucket);
            if (bucket >= 0) {
                if (bucket >= counts.length) {
                    counts = Arrays.copyOf(counts, Math.max(bucket + 1, counts.length * 2));
                }
                counts[bucket]++;
            }
            if (sequence < contiguous[k] || ahead[k].contains(sequence)) {
                reprocessed++;
            } else if (sequence == contiguous[k]) {
                long next = sequence + 1;
                while (ahead[k].remove(next)) {
                    next++;
                }
                contiguous[k] = next;
            } else {
                ahead[k].add(sequence);
            }
        }
    }

    /** Records out of the job, each time it came out (replays included). */
    static long recordsOut() {
        synchronized (LOCK) {
            return recordsOut;
        }
    }

    /** Records that came out again: their (partition, sequence) had come out before. */
    static long reprocessedRecords() {
        synchronized (LOCK) {
            return reprocessed;
        }
    }

    /** Distinct records out of the job; equals the records read once nothing is in flight. */
    static long distinctRecordsOut() {
        synchronized (LOCK) {
            long sum = 0;
            for (int k = 0; k < partitions; k++) {
                sum += contiguous[k] + ahead[k].size();
            }
            return sum;
        }
    }

    /**
     * Records out per {@link #BUCKET_MILLIS} from the bucket holding {@code sinceMillis} to the one
     * holding {@code untilMillis} (wall clock, both clamped to the ledger's life).
     */
    static Timeline timeline(long sinceMillis, long untilMillis) {
        synchronized (LOCK) {
            long nowBucket = System.currentTimeMillis() / BUCKET_MILLIS;
            long from = Math.max(firstBucket, sinceMillis / BUCKET_MILLIS);
            long to = Math.min(nowBucket, untilMillis / BUCKET_MILLIS);
            int length = (int) Math.max(0, to - from + 1);
            long[] slice = new long[length];
            for (int i = 0; i < length; i++) {
                int index = (int) (from - firstBucket) + i;
                slice[i] = index < counts.length ? counts[index] : 0;
            }
            return new Timeline(from * BUCKET_MILLIS, slice);
        }
    }

    /**
     * The silences overlapping [sinceMillis, untilMillis], clipped to it; the one going on now
     * (since the last record) included.
     */
    static List<long[]> silences(long sinceMillis, long untilMillis) {
        synchronized (LOCK) {
            List<long[]> overlapping = new ArrayList<>();
            long now = System.currentTimeMillis();
            List<long[]> all = new ArrayList<>(silences);
            if (now - lastRecordMillis >= MIN_SILENCE_MILLIS) {
                all.add(new long[] {lastRecordMillis, now});
            }
            for (long[] silence : all) {
                long start = Math.max(silence[0], sinceMillis);
                long end = Math.min(silence[1], untilMillis);
                if (end > start) {
                    overlapping.add(new long[] {start, end});
                }
            }
            return overlapping;
        }
    }

    /** Records out per bucket, the first bucket starting at {@code startMillis}. */
    record Timeline(long startMillis, long[] counts) {}

    @SuppressWarnings("unchecked")
    private static Set<Long>[] newSets(int count) {
        Set<Long>[] sets = new Set[count];
        for (int i = 0; i < count; i++) {
            sets[i] = new HashSet<>();
        }
        return sets;
    }
}
