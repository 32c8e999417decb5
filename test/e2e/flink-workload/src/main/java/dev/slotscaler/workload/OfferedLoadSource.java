package dev.slotscaler.workload;

import org.apache.flink.api.connector.source.Boundedness;
import org.apache.flink.api.connector.source.ReaderOutput;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.SourceSplit;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.core.io.InputStatus;
import org.apache.flink.core.io.SimpleVersionedSerializer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A FLIP-27 source that reads {@link OfferedLoad}'s queue: each reader emits what its partitions
 * were offered, as fast as downstream accepts it, and reports the rest as the standard
 * {@code pendingRecords} metric (FLIP-33) through {@code SourceReaderMetricGroup}. Under
 * backpressure the reader is not polled, so {@code pendingRecords} grows at the offered rate minus
 * the rate downstream can take.
 *
 * <p>Partitions are assigned by the readers themselves ({@code k % parallelism == subtask}), not by
 * the enumerator, so there are no splits; the split and enumerator types exist because the Source
 * API requires them. Records are the global record numbers (Long).
 */
public final class OfferedLoadSource
        implements Source<Long, OfferedLoadSource.NoSplit, OfferedLoadSource.NoState> {

    private static final long serialVersionUID = 1L;

    @Override
    public Boundedness getBoundedness() {
        return Boundedness.CONTINUOUS_UNBOUNDED;
    }

    @Override
    public SourceReader<Long, NoSplit> createReader(SourceReaderContext context) {
        return new Reader(context);
    }

    @Override
    public SplitEnumerator<NoSplit, NoState> createEnumerator(
            SplitEnumeratorContext<NoSplit> context) {
        return new Enumerator();
    }

    @Override
    public SplitEnumerator<NoSplit, NoState> restoreEnumerator(
            SplitEnumeratorContext<NoSplit> context, NoState checkpoint) {
        return new Enumerator();
    }

    @Override
    public SimpleVersionedSerializer<NoSplit> getSplitSerializer() {
        return new NoSplitSerializer();
    }

    @Override
    public SimpleVersionedSerializer<NoState> getEnumeratorCheckpointSerializer() {
        return new NoStateSerializer();
    }

    /** Reads the partitions {@code k % parallelism == subtask} of the offered queue. */
    static final class Reader implements SourceReader<Long, NoSplit> {

        /** Records per pollNext call: bounds the time one call keeps the mailbox thread. */
        private static final int MAX_RECORDS_PER_POLL = 512;

        /** Records taken from one partition per visit, so partitions drain evenly. */
        private static final int MAX_RECORDS_PER_PARTITION_VISIT = 8;

        private static final long MIN_WAKE_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
        private static final long MAX_WAKE_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

        /** Completes the availability futures of idle readers; one daemon thread per JVM. */
        private static final ScheduledExecutorService WAKER =
                Executors.newSingleThreadScheduledExecutor(
                        runnable -> {
                            Thread thread = new Thread(runnable, "offered-load-waker");
                            thread.setDaemon(true);
                            return thread;
                        });

        private final SourceReaderContext context;
        private int[] ownedPartitions = new int[0];
        private AtomicLongArray emitted = new AtomicLongArray(0);
        private int partitionCount = 1;
        private int cursor;
        private CompletableFuture<Void> availability = CompletableFuture.completedFuture(null);

        Reader(SourceReaderContext context) {
            this.context = context;
        }

        @Override
        public void start() {
            int parallelism = context.currentParallelism();
            int subtask = context.getIndexOfSubtask();
            partitionCount = OfferedLoad.partitions();
            emitted = OfferedLoad.emitted();
            List<Integer> owned = new ArrayList<>();
            for (int k = subtask; k < partitionCount; k += parallelism) {
                owned.add(k);
            }
            ownedPartitions = owned.stream().mapToInt(Integer::intValue).toArray();
            context.metricGroup().setPendingRecordsGauge(this::pendingRecords);
            OfferedLoad.startClock();
        }

        /** Offered to this reader's partitions and not emitted yet. */
        private Long pendingRecords() {
            long offered = OfferedLoad.offeredRecords();
            long pending = 0;
            for (int k : ownedPartitions) {
                long offeredToK = OfferedLoad.offeredInPartition(offered, k, partitionCount);
                pending += Math.max(0L, offeredToK - emitted.get(k));
            }
            return pending;
        }

        @Override
        public InputStatus pollNext(ReaderOutput<Long> output) {
            int owned = ownedPartitions.length;
            if (owned == 0) {
                return waitForRecords();
            }
            long offered = OfferedLoad.offeredRecords();
            int budget = MAX_RECORDS_PER_POLL;
            int emptyVisits = 0;
            while (budget > 0 && emptyVisits < owned) {
                int k = ownedPartitions[cursor];
                cursor = cursor + 1 == owned ? 0 : cursor + 1;
                long done = emitted.get(k);
                long available = OfferedLoad.offeredInPartition(offered, k, partitionCount) - done;
                int take = (int) Math.min(available, Math.min(budget, MAX_RECORDS_PER_PARTITION_VISIT));
                if (take <= 0 || !emitted.compareAndSet(k, done, done + take)) {
                    emptyVisits++;
                    continue;
                }
                emptyVisits = 0;
                for (long offset = done; offset < done + take; offset++) {
                    output.collect(k + offset * partitionCount);
                }
                budget -= take;
            }
            return budget == 0 ? InputStatus.MORE_AVAILABLE : waitForRecords();
        }

        /** Nothing to emit: wake up about when this reader's next record is offered. */
        private InputStatus waitForRecords() {
            double readerRate =
                    OfferedLoad.recordsPerSecond() * ownedPartitions.length / partitionCount;
            long wakeNanos =
                    readerRate > 0
                            ? Math.max(MIN_WAKE_NANOS, Math.min(MAX_WAKE_NANOS, (long) (1e9 / readerRate)))
                            : MAX_WAKE_NANOS;
            CompletableFuture<Void> next = new CompletableFuture<>();
            availability = next;
            WAKER.schedule(() -> next.complete(null), wakeNanos, TimeUnit.NANOSECONDS);
            return InputStatus.NOTHING_AVAILABLE;
        }

        @Override
        public CompletableFuture<Void> isAvailable() {
            return availability;
        }

        @Override
        public void addSplits(List<NoSplit> splits) {}

        @Override
        public void notifyNoMoreSplits() {}

        @Override
        public List<NoSplit> snapshotState(long checkpointId) {
            return Collections.emptyList();
        }

        @Override
        public void close() {
            availability.complete(null);
        }
    }

    /** Assigns nothing: readers pick their partitions themselves. */
    static final class Enumerator implements SplitEnumerator<NoSplit, NoState> {
        @Override
        public void start() {}

        @Override
        public void handleSplitRequest(int subtaskId, String requesterHostname) {}

        @Override
        public void addSplitsBack(List<NoSplit> splits, int subtaskId) {}

        @Override
        public void addReader(int subtaskId) {}

        @Override
        public NoState snapshotState(long checkpointId) {
            return new NoState();
        }

        @Override
        public void close() {}
    }

    /** Never created; the Source API needs a split type. */
    public static final class NoSplit implements SourceSplit {
        private final String id;

        NoSplit(String id) {
            this.id = id;
        }

        @Override
        public String splitId() {
            return id;
        }
    }

    /** The enumerator has no state. */
    public static final class NoState {}

    static final class NoSplitSerializer implements SimpleVersionedSerializer<NoSplit> {
        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(NoSplit split) {
            return split.splitId().getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public NoSplit deserialize(int version, byte[] serialized) {
            return new NoSplit(new String(serialized, StandardCharsets.UTF_8));
        }
    }

    static final class NoStateSerializer implements SimpleVersionedSerializer<NoState> {
        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(NoState state) {
            return new byte[0];
        }

        @Override
        public NoState deserialize(int version, byte[] serialized) {
            return new NoState();
        }
    }
}
