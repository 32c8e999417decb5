package dev.slotscaler.workload;

import org.apache.flink.api.connector.source.Boundedness;
import org.apache.flink.api.connector.source.ReaderOutput;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.SourceSplit;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.connector.source.SplitsAssignment;
import org.apache.flink.core.io.InputStatus;
import org.apache.flink.core.io.SimpleVersionedSerializer;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
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
 * <p>One split per partition, carrying the partition's read position, as a Kafka source's splits
 * carry offsets. The positions are checkpointed state: the readers' splits are snapshotted with
 * every checkpoint and savepoint, and a restored job reads again from there, so whatever was read
 * after the last checkpoint is read (and reaches the sink) twice. The enumerator hands partition
 * {@code k} to subtask {@code k % parallelism} on a fresh start; on a restore at another
 * parallelism Flink redistributes the readers' split state itself (round-robin list state).
 *
 * <p>A record is the long {@code partition + sequence * partitions}: it carries its partition and
 * its sequence number within the partition (see {@link SinkLedger#record}).
 */
public final class OfferedLoadSource
        implements Source<Long, OfferedLoadSource.PartitionSplit, List<OfferedLoadSource.PartitionSplit>> {

    private static final long serialVersionUID = 1L;

    @Override
    public Boundedness getBoundedness() {
        return Boundedness.CONTINUOUS_UNBOUNDED;
    }

    @Override
    public SourceReader<Long, PartitionSplit> createReader(SourceReaderContext context) {
        return new Reader(context);
    }

    @Override
    public SplitEnumerator<PartitionSplit, List<PartitionSplit>> createEnumerator(
            SplitEnumeratorContext<PartitionSplit> context) {
        List<PartitionSplit> all = new ArrayList<>();
        for (int k = 0; k < OfferedLoad.partitions(); k++) {
            all.add(new PartitionSplit(k, 0));
        }
        return new Enumerator(context, all);
    }

    @Override
    public SplitEnumerator<PartitionSplit, List<PartitionSplit>> restoreEnumerator(
            SplitEnumeratorContext<PartitionSplit> context, List<PartitionSplit> checkpoint) {
        return new Enumerator(context, checkpoint);
    }

    @Override
    public SimpleVersionedSerializer<PartitionSplit> getSplitSerializer() {
        return new PartitionSplitSerializer();
    }

    @Override
    public SimpleVersionedSerializer<List<PartitionSplit>> getEnumeratorCheckpointSerializer() {
        return new SplitListSerializer();
    }

    /** Reads the partitions of its splits, from each split's position on. */
    static final class Reader implements SourceReader<Long, PartitionSplit> {

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
        /** Splits arrive before start() when restored, so the partition count is read here. */
        private final int partitionCount = OfferedLoad.partitions();
        private final AtomicLongArray published = OfferedLoad.positions();
        /** Read by the metric thread (pendingRecords), written by the task thread. */
        private volatile int[] ownedPartitions = new int[0];
        /** Next sequence to read, per owned partition (same index as ownedPartitions). */
        private long[] next = new long[0];
        private int cursor;
        private CompletableFuture<Void> availability = CompletableFuture.completedFuture(null);

        Reader(SourceReaderContext context) {
            this.context = context;
        }

        @Override
        public void start() {
            context.metricGroup().setPendingRecordsGauge(this::pendingRecords);
            OfferedLoad.startClock();
        }

        /** Offered to this reader's partitions and not read yet. */
        private Long pendingRecords() {
            long offered = OfferedLoad.offeredRecords();
            long pending = 0;
            for (int k : ownedPartitions) {
                long offeredToK = OfferedLoad.offeredInPartition(offered, k, partitionCount);
                pending += Math.max(0L, offeredToK - published.get(k));
            }
            return pending;
        }

        @Override
        public InputStatus pollNext(ReaderOutput<Long> output) {
            int[] owned = ownedPartitions;
            if (owned.length == 0) {
                return waitForRecords();
            }
            long offered = OfferedLoad.offeredRecords();
            int budget = MAX_RECORDS_PER_POLL;
            int emptyVisits = 0;
            while (budget > 0 && emptyVisits < owned.length) {
                int i = cursor;
                cursor = cursor + 1 == owned.length ? 0 : cursor + 1;
                int k = owned[i];
                long done = next[i];
                long available = OfferedLoad.offeredInPartition(offered, k, partitionCount) - done;
                int take = (int) Math.min(available, Math.min(budget, MAX_RECORDS_PER_PARTITION_VISIT));
                if (take <= 0) {
                    emptyVisits++;
                    continue;
                }
                emptyVisits = 0;
                for (long sequence = done; sequence < done + take; sequence++) {
                    output.collect(k + sequence * partitionCount);
                }
                next[i] = done + take;
                published.set(k, done + take);
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
            CompletableFuture<Void> wake = new CompletableFuture<>();
            availability = wake;
            WAKER.schedule(() -> wake.complete(null), wakeNanos, TimeUnit.NANOSECONDS);
            return InputStatus.NOTHING_AVAILABLE;
        }

        @Override
        public CompletableFuture<Void> isAvailable() {
            return availability;
        }

        /** New splits (from the enumerator, or restored from a checkpoint): read from their position. */
        @Override
        public void addSplits(List<PartitionSplit> splits) {
            int[] owned = Arrays.copyOf(ownedPartitions, ownedPartitions.length + splits.size());
            long[] positions = Arrays.copyOf(next, next.length + splits.size());
            int at = ownedPartitions.length;
            for (PartitionSplit split : splits) {
                owned[at] = split.partition;
                positions[at] = split.position;
                published.set(split.partition, split.position);
                at++;
            }
            next = positions;
            ownedPartitions = owned;
            availability.complete(null);
        }

        @Override
        public void notifyNoMoreSplits() {}

        @Override
        public List<PartitionSplit> snapshotState(long checkpointId) {
            int[] owned = ownedPartitions;
            List<PartitionSplit> splits = new ArrayList<>(owned.length);
            for (int i = 0; i < owned.length; i++) {
                splits.add(new PartitionSplit(owned[i], next[i]));
            }
            return splits;
        }

        @Override
        public void close() {
            availability.complete(null);
        }
    }

    /**
     * Hands partition {@code k} to subtask {@code k % parallelism} once that reader registers. Its
     * state is the splits not handed out yet; splits of a failed reader come back here.
     */
    static final class Enumerator implements SplitEnumerator<PartitionSplit, List<PartitionSplit>> {
        private final SplitEnumeratorContext<PartitionSplit> context;
        private final TreeMap<Integer, PartitionSplit> unassigned = new TreeMap<>();

        Enumerator(SplitEnumeratorContext<PartitionSplit> context, List<PartitionSplit> unassignedSplits) {
            this.context = context;
            for (PartitionSplit split : unassignedSplits) {
                unassigned.put(split.partition, split);
            }
        }

        @Override
        public void start() {}

        @Override
        public void handleSplitRequest(int subtaskId, String requesterHostname) {}

        @Override
        public void addSplitsBack(List<PartitionSplit> splits, int subtaskId) {
            for (PartitionSplit split : splits) {
                unassigned.put(split.partition, split);
            }
            assignToRegisteredReaders();
        }

        @Override
        public void addReader(int subtaskId) {
            assignToRegisteredReaders();
        }

        private void assignToRegisteredReaders() {
            int parallelism = context.currentParallelism();
            Map<Integer, List<PartitionSplit>> assignment = new HashMap<>();
            Iterator<PartitionSplit> splits = unassigned.values().iterator();
            while (splits.hasNext()) {
                PartitionSplit split = splits.next();
                int owner = split.partition % parallelism;
                if (context.registeredReaders().containsKey(owner)) {
                    assignment.computeIfAbsent(owner, ignored -> new ArrayList<>()).add(split);
                    splits.remove();
                }
            }
            if (!assignment.isEmpty()) {
                context.assignSplits(new SplitsAssignment<>(assignment));
            }
        }

        @Override
        public List<PartitionSplit> snapshotState(long checkpointId) {
            return new ArrayList<>(unassigned.values());
        }

        @Override
        public void close() {}
    }

    /** One partition of the queue and the sequence number of its next record to read. */
    public static final class PartitionSplit implements SourceSplit {
        final int partition;
        final long position;

        PartitionSplit(int partition, long position) {
            this.partition = partition;
            this.position = position;
        }

        @Override
        public String splitId() {
            return Integer.toString(partition);
        }
    }

    static final class PartitionSplitSerializer implements SimpleVersionedSerializer<PartitionSplit> {
        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(PartitionSplit split) {
            return SplitListSerializer.write(List.of(split));
        }

        @Override
        public PartitionSplit deserialize(int version, byte[] serialized) throws IOException {
            return SplitListSerializer.read(serialized).get(0);
        }
    }

    static final class SplitListSerializer implements SimpleVersionedSerializer<List<PartitionSplit>> {
        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(List<PartitionSplit> splits) {
            return write(splits);
        }

        @Override
        public List<PartitionSplit> deserialize(int version, byte[] serialized) throws IOException {
            return read(serialized);
        }

        static byte[] write(List<PartitionSplit> splits) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(4 + 12 * splits.size());
            try (DataOutputStream out = new DataOutputStream(bytes)) {
                out.writeInt(splits.size());
                for (PartitionSplit split : splits) {
                    out.writeInt(split.partition);
                    out.writeLong(split.position);
                }
            } catch (IOException e) {
                throw new IllegalStateException("writing to memory cannot fail", e);
            }
            return bytes.toByteArray();
        }

        static List<PartitionSplit> read(byte[] serialized) throws IOException {
            try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized))) {
                int count = in.readInt();
                List<PartitionSplit> splits = new ArrayList<>(count);
                for (int i = 0; i < count; i++) {
                    splits.add(new PartitionSplit(in.readInt(), in.readLong()));
                }
                return splits;
            }
        }
    }
}
