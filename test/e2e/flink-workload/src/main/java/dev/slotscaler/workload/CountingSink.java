package dev.slotscaler.workload;

import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;

/** Discards every record after counting it in the {@link SinkLedger}. */
final class CountingSink implements Sink<Long> {

    private static final long serialVersionUID = 1L;

    /** The Sink API of Flink 1.20 still declares this one abstract; Flink calls the other. */
    @Override
    @Deprecated
    public SinkWriter<Long> createWriter(InitContext context) {
        return new Writer();
    }

    @Override
    public SinkWriter<Long> createWriter(WriterInitContext context) {
        return new Writer();
    }

    private static final class Writer implements SinkWriter<Long> {
        @Override
        public void write(Long element, Context context) {
            SinkLedger.record(element);
        }

        @Override
        public void flush(boolean endOfInput) {}

        @Override
        public void close() {}
    }
}
