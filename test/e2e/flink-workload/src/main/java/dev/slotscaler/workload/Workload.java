package dev.slotscaler.workload;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.jobgraph.SavepointRestoreSettings;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.runtime.taskexecutor.TaskExecutor;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ArrayNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.graph.StreamGraph;

import java.io.File;
import java.io.IOException;
import java.lang.reflect.Field;
import java.net.URI;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Starts a Flink MiniCluster with its REST API on 127.0.0.1, runs the workload job on it and
 * serves the control endpoint ({@link ControlServer}); a redeploy replaces the MiniCluster with a
 * new one on the same REST port. Prints one line
 * {@code SLOTSCALER_WORKLOAD_READY {json}} on stdout when the job runs; everything else goes to
 * stderr.
 *
 * <p>The job: {@link OfferedLoadSource} -> rebalance -> {@link CostlyMap} -> {@link CountingSink}.
 * The rebalance keeps the source and the map in separate vertices (and exercises the network
 * between TaskManagers); the sink is chained to the map. It checkpoints every
 * {@code --checkpoint-interval-ms}; the source's read positions are its state.
 */
public final class Workload {

    static final String READY_MARKER = "SLOTSCALER_WORKLOAD_READY";
    static final String JOB_NAME = "slotscaler-workload";
    static final String SOURCE_NAME = "offered-load";
    static final String MAP_NAME = "costly-map";

    private static final long READY_TIMEOUT_MS = 120_000;

    private final Options options;
    private final ObjectMapper json = new ObjectMapper();
    /** MiniCluster's indexes of the TaskManagers still running, in start order. */
    private final List<Integer> liveTaskManagers = new ArrayList<>();
    private int nextTaskManagerIndex;
    /**
     * The running cluster; a redeploy closes it and starts another. Volatile: the control server's
     * threads and the shutdown hook read it while a redeploy replaces it.
     */
    private volatile MiniCluster miniCluster;
    /**
     * The Flink configuration every cluster of this JVM starts with: after the first started,
     * {@code rest.bind-port} holds the port it bound, so a redeployed cluster answers on the same
     * URL, as a JobManager's Kubernetes Service keeps its address while the pod behind it changes.
     */
    private Configuration clusterConfiguration;
    private volatile FlinkRest rest;
    private volatile URI restUri;
    /** The running job; a redeploy submits a new one. */
    private volatile JobID jobId;
    private String savepointDir;
    private volatile int redeploys;
    /** liveTaskManagers.size(), readable while a redeploy holds the lock. */
    private volatile int taskManagerCount;

    private Workload(Options options) {
        this.options = options;
    }

    public static void main(String[] args) {
        Options options;
        try {
            options = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.exit(2);
            return;
        }
        try {
            new Workload(options).run();
        } catch (Throwable t) {
            System.err.println("slotscaler workload failed: " + t);
            t.printStackTrace();
            System.exit(1);
        }
    }

    private void run() throws Exception {
        long startedNanos = System.nanoTime();
        OfferedLoad.configure(
                options.partitions,
                options.recordsPerSecond,
                Math.round(options.costMicros * 1000));
        SinkLedger.configure(options.partitions);
        savepointDir = new File(System.getProperty("java.io.tmpdir"), "savepoints").toURI().toString();

        clusterConfiguration = flinkConfiguration();
        Runtime.getRuntime().addShutdownHook(new Thread(this::closeQuietly, "workload-shutdown"));
        startCluster(options.taskManagers);
        clusterConfiguration.setString("rest.bind-port", Integer.toString(restUri.getPort()));

        JobGraph jobGraph = jobGraph(options.parallelism, Map.of());
        jobId = miniCluster.submitJob(jobGraph).get(60, TimeUnit.SECONDS).getJobID();
        awaitRunning();

        ControlServer control = new ControlServer(this, options.controlPort);
        control.start();
        if (options.exitOnStdinEof) {
            watchStdin();
        }

        ObjectNode ready = json.createObjectNode();
        ready.put("restUrl", restUrl());
        ready.put("controlUrl", "http://127.0.0.1:" + control.port());
        ready.put("jobId", jobId.toHexString());
        ready.put("restPort", restUri.getPort());
        ready.put("controlPort", control.port());
        ready.put("startupMillis", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startedNanos));
        System.out.println(READY_MARKER + " " + json.writeValueAsString(ready));
        System.out.flush();

        new CountDownLatch(1).await();
    }

    /**
     * The MiniCluster's settings. Defaults suit tests (fast heartbeats, metrics refreshed every
     * second, rescale without the 30 s cooldown); {@code --conf key=value} overrides any of them.
     */
    private Configuration flinkConfiguration() {
        Configuration configuration = new Configuration();
        Map<String, String> defaults =
                Map.ofEntries(
                        Map.entry("rest.bind-address", "127.0.0.1"),
                        Map.entry("rest.address", "127.0.0.1"),
                        Map.entry("rest.bind-port", Integer.toString(options.restPort)),
                        Map.entry("jobmanager.bind-host", "127.0.0.1"),
                        Map.entry("taskmanager.bind-host", "127.0.0.1"),
                        Map.entry("taskmanager.host", "127.0.0.1"),
                        Map.entry("jobmanager.scheduler", "adaptive"),
                        // Rescale as soon as asked (default: 30 s after the last rescale).
                        Map.entry("jobmanager.adaptive-scheduler.scaling-interval.min", "1 s"),
                        // Wait this long for more slots when enough but not all are there (default 10 s).
                        Map.entry("jobmanager.adaptive-scheduler.resource-stabilization-timeout", "1 s"),
                        Map.entry("metrics.fetcher.update-interval", "1000 ms"),
                        Map.entry("heartbeat.interval", "1000"),
                        Map.entry("heartbeat.timeout", "5000"),
                        Map.entry("restart-strategy.type", "fixed-delay"),
                        Map.entry("restart-strategy.fixed-delay.attempts", Integer.toString(Integer.MAX_VALUE)),
                        Map.entry("restart-strategy.fixed-delay.delay", "1 s"),
                        // Small network buffers: backpressure reaches the source after a few thousand
                        // records in flight instead of tens of thousands.
                        Map.entry("taskmanager.memory.segment-size", "4kb"),
                        Map.entry("taskmanager.memory.network.min", "16mb"),
                        Map.entry("taskmanager.memory.network.max", "16mb"),
                        Map.entry("taskmanager.memory.managed.size", "16mb"),
                        Map.entry("pipeline.max-parallelism", Integer.toString(options.maxParallelism)),
                        Map.entry("parallelism.default", Integer.toString(options.parallelism)),
                        Map.entry("execution.checkpointing.savepoint-dir", savepointDir));
        defaults.forEach(configuration::setString);
        if (options.checkpointIntervalMs > 0) {
            configuration.setString("execution.checkpointing.interval", options.checkpointIntervalMs + " ms");
        }
        options.flinkConf.forEach(configuration::setString);
        return configuration;
    }

    /**
     * The job at {@code parallelism}, with per-vertex {@code overrides} (vertex id to parallelism)
     * in the job's {@code pipeline.jobvertex-parallelism-overrides}, which Flink's Dispatcher
     * applies at submission as it does for a deployment the Kubernetes operator submits. The
     * operators' uids keep the vertex ids the same from one submission to the next.
     */
    private JobGraph jobGraph(int parallelism, Map<String, Integer> overrides) {
        Configuration configuration = miniCluster.getConfiguration();
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(configuration);
        env.setParallelism(parallelism);
        env.setMaxParallelism(options.maxParallelism);
        env.fromSource(new OfferedLoadSource(), WatermarkStrategy.noWatermarks(), SOURCE_NAME)
                .uid(SOURCE_NAME)
                .rebalance()
                .map(new CostlyMap())
                .name(MAP_NAME)
                .uid(MAP_NAME)
                .sinkTo(new CountingSink())
                .name("discard")
                .uid("discard");
        StreamGraph streamGraph = env.getStreamGraph();
        streamGraph.setJobName(JOB_NAME);
        JobGraph graph = streamGraph.getJobGraph();
        if (!overrides.isEmpty()) {
            graph.getJobConfiguration()
                    .set(
                            PipelineOptions.PARALLELISM_OVERRIDES,
                            overrides.entrySet().stream()
                                    .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().toString())));
        }
        return graph;
    }

    /** Waits until the job and every vertex are RUNNING, as the REST API reports them. */
    private void awaitRunning() throws Exception {
        long deadline = System.currentTimeMillis() + READY_TIMEOUT_MS;
        String last = "";
        while (System.currentTimeMillis() < deadline) {
            try {
                JsonNode job = rest.get("/jobs/" + jobId);
                last = job.path("state").asText();
                boolean allRunning = "RUNNING".equals(last) && job.path("vertices").size() > 0;
                for (JsonNode vertex : job.path("vertices")) {
                    allRunning &= "RUNNING".equals(vertex.path("status").asText());
                }
                if (allRunning) {
                    return;
                }
            } catch (IOException e) {
                last = e.getMessage();
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("job " + jobId + " not RUNNING after " + READY_TIMEOUT_MS + " ms: " + last);
    }

    /**
     * Starts a MiniCluster (dispatcher, ResourceManager, REST endpoint, {@code taskManagers}
     * TaskManagers) with {@link #clusterConfiguration} and makes it the one every knob talks to.
     */
    private void startCluster(int taskManagers) throws Exception {
        MiniCluster cluster =
                new LoopbackMiniCluster(
                        new MiniClusterConfiguration.Builder()
                                .setConfiguration(clusterConfiguration)
                                .setNumTaskManagers(taskManagers)
                                .setNumSlotsPerTaskManager(options.slotsPerTaskManager)
                                .build());
        cluster.start();
        miniCluster = cluster;
        // A new cluster numbers its TaskManagers from 0 again.
        liveTaskManagers.clear();
        for (nextTaskManagerIndex = 0; nextTaskManagerIndex < taskManagers; nextTaskManagerIndex++) {
            liveTaskManagers.add(nextTaskManagerIndex);
        }
        taskManagerCount = liveTaskManagers.size();
        restUri = cluster.getRestAddress().get(30, TimeUnit.SECONDS);
        rest = new FlinkRest("http://127.0.0.1:" + restUri.getPort());
    }

    /** Exits when the parent closes our standard input, so a killed test leaves no JVM behind. */
    private static void watchStdin() {
        Thread watcher =
                new Thread(
                        () -> {
                            try {
                                while (System.in.read() >= 0) {
                                    // discard
                                }
                            } catch (IOException e) {
                                // treat like end of input
                            }
                            System.err.println("slotscaler workload: standard input closed, exiting");
                            System.exit(0);
                        },
                        "stdin-watchdog");
        watcher.setDaemon(true);
        watcher.start();
    }

    private void closeQuietly() {
        MiniCluster cluster = miniCluster;
        if (cluster == null) {
            return;
        }
        try {
            cluster.closeAsync().get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            System.err.println("slotscaler workload: MiniCluster did not close cleanly: " + e);
        }
    }

    String restUrl() {
        return "http://127.0.0.1:" + restUri.getPort();
    }

    // ---------------------------------------------------------------- knobs (ControlServer)

    /**
     * Starts or stops TaskManagers until {@code count} run; stops the newest first. With {@code
     * idleOnly} it stops only TaskManagers that run no task of the job, as Flink's ResourceManager
     * releases only idle ones, and leaves more than {@code count} running when too few are idle.
     */
    synchronized void setTaskManagers(int count, boolean idleOnly) throws Exception {
        while (liveTaskManagers.size() < count) {
            miniCluster.startTaskManager();
            liveTaskManagers.add(nextTaskManagerIndex++);
            taskManagerCount = liveTaskManagers.size();
        }
        Set<String> busy = idleOnly && liveTaskManagers.size() > count ? busyTaskManagers() : Set.of();
        for (int i = liveTaskManagers.size() - 1; i >= 0 && liveTaskManagers.size() > count; i--) {
            int index = liveTaskManagers.get(i);
            if (busy.contains(resourceIdOf(index))) {
                continue;
            }
            liveTaskManagers.remove(i);
            miniCluster.terminateTaskManager(index).get(30, TimeUnit.SECONDS);
        }
        taskManagerCount = liveTaskManagers.size();
    }

    /** Resource ids of the TaskManagers running a subtask of the job (Flink's REST API). */
    private Set<String> busyTaskManagers() throws Exception {
        Set<String> busy = new HashSet<>();
        JsonNode job = rest.get("/jobs/" + jobId);
        for (JsonNode vertex : job.path("vertices")) {
            JsonNode placed = rest.get("/jobs/" + jobId + "/vertices/" + vertex.path("id").asText() + "/taskmanagers");
            for (JsonNode taskManager : placed.path("taskmanagers")) {
                busy.add(taskManager.path("taskmanager-id").asText());
            }
        }
        return busy;
    }

    /** MiniCluster numbers its TaskManagers by start order and keeps them private; read the list. */
    private String resourceIdOf(int index) throws ReflectiveOperationException {
        Field field = MiniCluster.class.getDeclaredField("taskManagers");
        field.setAccessible(true);
        List<?> taskManagers = (List<?>) field.get(miniCluster);
        return ((TaskExecutor) taskManagers.get(index)).getResourceID().getResourceIdString();
    }

    /**
     * What the Apache Flink Kubernetes operator's full upgrade of an application in native mode
     * does (upgradeMode savepoint), on this JVM. In the operator (release-1.15.0):
     * AbstractJobReconciler.reconcileSpecChange suspends the job with ApplicationReconciler.cancelJob,
     * i.e. AbstractFlinkService.cancelJob with SuspendMode.SAVEPOINT: a stop with a savepoint
     * through the JobManager's REST API, the cluster left up (only STATELESS and LAST_STATE delete
     * it there); then restoreJob calls ApplicationReconciler.deploy, which deletes the cluster
     * (deleteClusterDeployment, NativeFlinkService.deleteClusterInternal: the JobManager
     * Deployment, whose TaskManager pods go with it), gives the job a new id unless last-state
     * (setJobIdIfNecessary) and submits a new application cluster with the savepoint path
     * (submitApplicationCluster): a new JobManager with a new dispatcher, ResourceManager and REST
     * endpoint, new TaskManagers, and the job restored from the savepoint.
     *
     * <p>Here: stop with a savepoint; close the MiniCluster (dispatcher, ResourceManager, REST
     * endpoint and every TaskManager gone: the REST port refuses connections, as the JobManager's
     * Service has no endpoint while its pod is replaced); wait {@code delayMillis}; start a new
     * MiniCluster with the same configuration on the same REST port and {@code taskManagers} new
     * TaskManagers; submit the job from the savepoint at {@code parallelism} with the vertex
     * {@code overrides}, under a new job id. Returns once the new job and all its vertices run.
     *
     * <p>What this still cannot reproduce is what {@code delayMillis} stands for (0 by default):
     * deleting the pods, scheduling new ones, pulling the image, starting the JobManager's and the
     * TaskManagers' JVMs and loading the job's classes (everything here shares one warm JVM), and
     * in native mode the new ResourceManager asking Kubernetes for TaskManager pods only once the
     * job wants slots. What lives outside Flink stays, as it would: the offered load and its
     * backlog ({@link OfferedLoad}) and what came out of the sink ({@link SinkLedger}).
     */
    synchronized ObjectNode redeploy(
            int parallelism, Map<String, Integer> overrides, int taskManagers, long delayMillis)
            throws Exception {
        if (parallelism < 1 || parallelism > options.maxParallelism) {
            throw new IllegalArgumentException(
                    "parallelism must be within [1, " + options.maxParallelism + "], got " + parallelism);
        }
        long started = System.nanoTime();
        JobID previous = jobId;
        String savepoint =
                miniCluster
                        .stopWithSavepoint(previous, savepointDir, false, SavepointFormatType.CANONICAL)
                        .get(120, TimeUnit.SECONDS);
        miniCluster.requestJobResult(previous).get(60, TimeUnit.SECONDS);
        long stoppedMillis = millisSince(started);
        miniCluster.closeAsync().get(60, TimeUnit.SECONDS);
        long closedMillis = millisSince(started);
        System.err.println(
                "slotscaler workload: redeploy: job " + previous + " stopped with savepoint " + savepoint
                        + " in " + stoppedMillis + " ms, cluster closed at " + closedMillis + " ms; waiting "
                        + delayMillis + " ms (stands for pod scheduling, image pull and JVM start)");
        Thread.sleep(delayMillis);
        long startingMillis = millisSince(started);
        startCluster(taskManagers);
        long clusterStartedMillis = millisSince(started);
        JobGraph graph = jobGraph(parallelism, overrides);
        graph.setSavepointRestoreSettings(SavepointRestoreSettings.forPath(savepoint, false));
        jobId = miniCluster.submitJob(graph).get(60, TimeUnit.SECONDS).getJobID();
        redeploys++;
        awaitRunning();
        long runningMillis = millisSince(started);
        System.err.println(
                "slotscaler workload: redeploy: job " + jobId + " RUNNING at parallelism " + parallelism
                        + " " + overrides + " on " + taskManagers() + " TaskManagers of a new cluster, "
                        + runningMillis + " ms after the stop began (cluster start "
                        + (clusterStartedMillis - startingMillis) + " ms)");
        ObjectNode report = json.createObjectNode();
        report.put("previousJobId", previous.toHexString());
        report.put("jobId", jobId.toHexString());
        report.put("savepointPath", savepoint);
        report.put("parallelism", parallelism);
        report.set("overrides", json.valueToTree(overrides));
        report.put("taskManagers", taskManagers());
        report.put("delayMillis", delayMillis);
        report.put("stopMillis", stoppedMillis);
        report.put("closeMillis", closedMillis - stoppedMillis);
        report.put("clusterStartMillis", clusterStartedMillis - startingMillis);
        report.put("runningMillis", runningMillis);
        return report;
    }

    private static long millisSince(long startNanos) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
    }

    /**
     * Records out of the sink per 100 ms, and the pauses between records, between two wall-clock
     * moments.
     */
    ObjectNode outputTimeline(long sinceMillis, long untilMillis) {
        SinkLedger.Timeline timeline = SinkLedger.timeline(sinceMillis, untilMillis);
        ObjectNode answer = json.createObjectNode();
        answer.put("bucketMillis", SinkLedger.BUCKET_MILLIS);
        answer.put("startMillis", timeline.startMillis());
        ArrayNode counts = answer.putArray("counts");
        for (long count : timeline.counts()) {
            counts.add(count);
        }
        answer.put("minSilenceMillis", SinkLedger.MIN_SILENCE_MILLIS);
        ArrayNode silences = answer.putArray("silences");
        for (long[] silence : SinkLedger.silences(sinceMillis, untilMillis)) {
            ObjectNode entry = silences.addObject();
            entry.put("startMillis", silence[0]);
            entry.put("endMillis", silence[1]);
        }
        return answer;
    }

    int taskManagers() {
        return taskManagerCount;
    }

    /**
     * Rescales the running job in place: sets every vertex's parallelism to [1, parallelism]
     * through {@code PUT /jobs/{jid}/resource-requirements}, as the Flink Kubernetes operator does
     * with the adaptive scheduler. The scheduler restarts the job at the new parallelism once the
     * slots are there (it uses fewer if fewer are free, since the lower bound is 1).
     */
    ObjectNode rescale(int parallelism) throws Exception {
        if (parallelism < 1 || parallelism > options.maxParallelism) {
            throw new IllegalArgumentException(
                    "parallelism must be within [1, " + options.maxParallelism + "], got " + parallelism);
        }
        String path = "/jobs/" + jobId + "/resource-requirements";
        JsonNode previous = rest.get(path);
        ObjectNode requirements = json.createObjectNode();
        Iterator<String> vertexIds = previous.fieldNames();
        while (vertexIds.hasNext()) {
            ObjectNode bounds = requirements.putObject(vertexIds.next()).putObject("parallelism");
            bounds.put("lowerBound", 1);
            bounds.put("upperBound", parallelism);
        }
        rest.put(path, requirements);
        ObjectNode report = json.createObjectNode();
        report.put("method", "PUT " + path);
        report.put("parallelism", parallelism);
        report.set("previous", previous);
        report.set("requested", requirements);
        return report;
    }

    /** Everything a test may want to know in one object; REST failures land in restError. */
    ObjectNode state() {
        ObjectNode state = json.createObjectNode();
        state.put("recordsPerSecond", OfferedLoad.recordsPerSecond());
        state.put("costMicros", OfferedLoad.costNanos() / 1000.0);
        state.put("partitions", OfferedLoad.partitions());
        long offered = OfferedLoad.offeredRecords();
        long emitted = OfferedLoad.emittedRecords();
        state.put("offeredRecords", offered);
        state.put("emittedRecords", emitted);
        state.put("pendingRecords", Math.max(0, offered - emitted));
        state.put("recordsOut", SinkLedger.recordsOut());
        state.put("distinctRecordsOut", SinkLedger.distinctRecordsOut());
        state.put("reprocessedRecords", SinkLedger.reprocessedRecords());
        state.put("checkpointIntervalMillis", options.checkpointIntervalMs);
        state.put("redeploys", redeploys);
        state.put("taskManagers", taskManagers());
        state.put("slotsPerTaskManager", options.slotsPerTaskManager);
        state.put("jobId", jobId.toHexString());
        state.put("maxParallelism", options.maxParallelism);
        state.put("restPort", restUri.getPort());
        state.put("restUrl", restUrl());
        try {
            JsonNode job = rest.get("/jobs/" + jobId);
            state.put("jobState", job.path("state").asText());
            int parallelism = 0;
            ArrayNode vertices = state.putArray("vertices");
            for (JsonNode vertex : job.path("vertices")) {
                ObjectNode v = vertices.addObject();
                v.put("id", vertex.path("id").asText());
                v.put("name", vertex.path("name").asText());
                v.put("parallelism", vertex.path("parallelism").asInt());
                v.put("status", vertex.path("status").asText());
                parallelism = Math.max(parallelism, vertex.path("parallelism").asInt());
            }
            state.put("parallelism", parallelism);
            JsonNode overview = rest.get("/overview");
            state.put("taskManagersRegistered", overview.path("taskmanagers").asInt());
            state.put("slotsTotal", overview.path("slots-total").asInt());
            state.put("slotsAvailable", overview.path("slots-available").asInt());
        } catch (Exception e) {
            state.put("restError", e.toString());
        }
        return state;
    }

    /**
     * MiniCluster talks between TaskManagers in memory only when it starts with exactly one
     * TaskManager, and then TaskManagers added later cannot exchange data with it. Always use the
     * network stack (on loopback), so any number can be added at run time.
     */
    @SuppressWarnings("try") // MiniCluster.close() declares InterruptedException; not ours to change
    private static final class LoopbackMiniCluster extends MiniCluster {
        LoopbackMiniCluster(MiniClusterConfiguration configuration) {
            super(configuration);
        }

        @Override
        protected boolean useLocalCommunication() {
            return false;
        }
    }
}
