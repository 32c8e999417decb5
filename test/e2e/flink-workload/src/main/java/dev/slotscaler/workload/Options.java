package dev.slotscaler.workload;

import java.util.LinkedHashMap;
import java.util.Map;

/** Command-line options of {@link Workload}; {@code --help} prints them. */
final class Options {

    static final String USAGE =
            String.join(
                    "\n",
                    "Usage: run.sh [options]",
                    "  --task-managers N            TaskManagers at start (default 1)",
                    "  --slots-per-task-manager S   slots per TaskManager (default 2)",
                    "  --parallelism P              job parallelism (default N*S)",
                    "  --max-parallelism M          job max parallelism (default 128)",
                    "  --records-per-second R       offered rate, all partitions together (default 1000)",
                    "  --cost-micros C              map cost per record in microseconds (default 1000)",
                    "  --partitions K               partitions of the offered queue (default 840)",
                    "  --checkpoint-interval-ms I   checkpoint every I ms (default 2000; 0: never)",
                    "  --rest-port PORT             Flink REST port on 127.0.0.1 (default 0: ephemeral)",
                    "  --control-port PORT          control endpoint port on 127.0.0.1 (default 0)",
                    "  --conf key=value             any Flink option, overrides the defaults (repeatable)",
                    "  --exit-on-stdin-eof          exit when standard input closes (parent died)");

    int taskManagers = 1;
    int slotsPerTaskManager = 2;
    int parallelism = 0;
    int maxParallelism = 128;
    double recordsPerSecond = 1000;
    double costMicros = 1000;
    int partitions = 840;
    long checkpointIntervalMs = 2000;
    int restPort = 0;
    int controlPort = 0;
    boolean exitOnStdinEof;
    final Map<String, String> flinkConf = new LinkedHashMap<>();

    static Options parse(String[] args) {
        Options options = new Options();
        for (int i = 0; i < args.length; i++) {
            String name = args[i];
            if (name.equals("--exit-on-stdin-eof")) {
                options.exitOnStdinEof = true;
                continue;
            }
            if (name.equals("--help") || name.equals("-h")) {
                throw new IllegalArgumentException(USAGE);
            }
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException("missing value for " + name + "\n" + USAGE);
            }
            String value = args[++i];
            switch (name) {
                case "--task-managers" -> options.taskManagers = intAtLeast(name, value, 1);
                case "--slots-per-task-manager" -> options.slotsPerTaskManager = intAtLeast(name, value, 1);
                case "--parallelism" -> options.parallelism = intAtLeast(name, value, 1);
                case "--max-parallelism" -> options.maxParallelism = intAtLeast(name, value, 1);
                case "--records-per-second" -> options.recordsPerSecond = numberAtLeastZero(name, value);
                case "--cost-micros" -> options.costMicros = numberAtLeastZero(name, value);
                case "--partitions" -> options.partitions = intAtLeast(name, value, 1);
                case "--checkpoint-interval-ms" -> options.checkpointIntervalMs = intAtLeast(name, value, 0);
                case "--rest-port" -> options.restPort = intAtLeast(name, value, 0);
                case "--control-port" -> options.controlPort = intAtLeast(name, value, 0);
                case "--conf" -> {
                    int eq = value.indexOf('=');
                    if (eq <= 0) {
                        throw new IllegalArgumentException("--conf wants key=value, got " + value);
                    }
                    options.flinkConf.put(value.substring(0, eq).trim(), value.substring(eq + 1).trim());
                }
                default -> throw new IllegalArgumentException("unknown option " + name + "\n" + USAGE);
            }
        }
        if (options.parallelism == 0) {
            options.parallelism = options.taskManagers * options.slotsPerTaskManager;
        }
        if (options.parallelism > options.maxParallelism) {
            throw new IllegalArgumentException("--parallelism exceeds --max-parallelism");
        }
        return options;
    }

    private static int intAtLeast(String name, String value, int min) {
        try {
            int parsed = Integer.parseInt(value);
            if (parsed >= min) {
                return parsed;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(name + " wants an integer >= " + min + ", got " + value);
    }

    private static double numberAtLeastZero(String name, String value) {
        try {
            double parsed = Double.parseDouble(value);
            if (parsed >= 0 && !Double.isInfinite(parsed)) {
                return parsed;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(name + " wants a number >= 0, got " + value);
    }
}
