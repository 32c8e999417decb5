package dev.slotscaler.workload;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executors;

/**
 * The knobs a test turns, as JSON over HTTP on 127.0.0.1:
 *
 * <ul>
 *   <li>{@code GET /state}
 *   <li>{@code POST /rate {"recordsPerSecond": n}} (answers the state)
 *   <li>{@code POST /cost {"microsPerRecord": n}} (answers the state)
 *   <li>{@code POST /taskmanagers {"count": n}} (returns once they started or stopped; answers the state)
 *   <li>{@code POST /rescale {"parallelism": n}} (answers what it asked Flink for)
 *   <li>{@code POST /redeploy {"parallelism": n, "overrides": {vertexId: p}, "taskManagers": t,
 *       "delayMs": d}} (stop with savepoint, close the MiniCluster, wait d, start a new one on the
 *       same REST port, resubmit from the savepoint; answers once the new job runs)
 *   <li>{@code GET /output?sinceMs=a&untilMs=b} (records out of the sink per 100 ms)
 * </ul>
 *
 * Errors answer 400 (bad request) or 500 with {@code {"error": "..."}}.
 */
final class ControlServer {

    private static final int MAX_TASK_MANAGERS = 64;

    private final Workload workload;
    private final HttpServer server;
    private final ObjectMapper json = new ObjectMapper();

    ControlServer(Workload workload, int port) throws IOException {
        this.workload = workload;
        this.server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 16);
        server.setExecutor(
                Executors.newFixedThreadPool(
                        4,
                        runnable -> {
                            Thread thread = new Thread(runnable, "control-http");
                            thread.setDaemon(true);
                            return thread;
                        }));
        server.createContext("/", this::handle);
    }

    void start() {
        server.start();
    }

    int port() {
        return server.getAddress().getPort();
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String route = exchange.getRequestMethod() + " " + exchange.getRequestURI().getPath();
            Map<String, String> query = query(exchange);
            try {
                JsonNode answer =
                        switch (route) {
                            case "GET /state" -> workload.state();
                            case "POST /rate" -> {
                                OfferedLoad.setRecordsPerSecond(number(exchange, "recordsPerSecond"));
                                yield workload.state();
                            }
                            case "POST /cost" -> {
                                OfferedLoad.setCostNanos(Math.round(atLeastZero(number(exchange, "microsPerRecord"), "microsPerRecord") * 1000));
                                yield workload.state();
                            }
                            case "POST /taskmanagers" -> {
                                JsonNode body = body(exchange);
                                workload.setTaskManagers(
                                        integer(number(body, "count"), 0, MAX_TASK_MANAGERS, "count"),
                                        body.path("idleOnly").asBoolean(false));
                                yield workload.state();
                            }
                            case "POST /redeploy" -> {
                                JsonNode body = body(exchange);
                                Map<String, Integer> overrides = new LinkedHashMap<>();
                                body.path("overrides").fields().forEachRemaining(entry -> overrides.put(
                                        entry.getKey(), integer(entry.getValue().asDouble(), 1, Integer.MAX_VALUE, "overrides." + entry.getKey())));
                                yield workload.redeploy(
                                        integer(number(body, "parallelism"), 1, Integer.MAX_VALUE, "parallelism"),
                                        overrides,
                                        integer(number(body, "taskManagers"), 0, MAX_TASK_MANAGERS, "taskManagers"),
                                        body.has("delayMs") ? (long) atLeastZero(number(body, "delayMs"), "delayMs") : 0L);
                            }
                            case "GET /output" -> workload.outputTimeline(
                                    Long.parseLong(query.getOrDefault("sinceMs", "0")),
                                    Long.parseLong(query.getOrDefault("untilMs", Long.toString(Long.MAX_VALUE))));
                            case "POST /rescale" -> workload.rescale(integer(number(exchange, "parallelism"), 1, Integer.MAX_VALUE, "parallelism"));
                            default -> throw new NotFound(route);
                        };
                respond(exchange, 200, answer);
            } catch (NotFound e) {
                respond(exchange, 404, error("no such route: " + e.getMessage()));
            } catch (IllegalArgumentException e) {
                respond(exchange, 400, error(e.getMessage()));
            } catch (Exception e) {
                respond(exchange, 500, error(e.toString()));
            }
        }
    }

    private double number(HttpExchange exchange, String field) throws IOException {
        return number(body(exchange), field);
    }

    private JsonNode body(HttpExchange exchange) throws IOException {
        byte[] body = exchange.getRequestBody().readAllBytes();
        JsonNode parsed;
        try {
            parsed = json.readTree(body);
        } catch (IOException e) {
            throw new IllegalArgumentException("body is not JSON: " + e.getMessage());
        }
        if (parsed == null || !parsed.isObject()) {
            throw new IllegalArgumentException("body is not a JSON object");
        }
        return parsed;
    }

    private static double number(JsonNode body, String field) {
        JsonNode value = body.get(field);
        if (value == null || !value.isNumber()) {
            throw new IllegalArgumentException("body wants {\"" + field + "\": <number>}");
        }
        return value.asDouble();
    }

    private static Map<String, String> query(HttpExchange exchange) {
        Map<String, String> query = new LinkedHashMap<>();
        String raw = exchange.getRequestURI().getRawQuery();
        if (raw != null) {
            for (String pair : raw.split("&")) {
                int eq = pair.indexOf('=');
                if (eq > 0) {
                    query.put(
                            URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
                            URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
                }
            }
        }
        return query;
    }

    private static double atLeastZero(double value, String field) {
        if (!(value >= 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException(field + " must be a finite number >= 0");
        }
        return value;
    }

    private static int integer(double value, int min, int max, String field) {
        if (value != Math.rint(value) || value < min || value > max) {
            throw new IllegalArgumentException(field + " must be an integer within [" + min + ", " + max + "]");
        }
        return (int) value;
    }

    private ObjectNode error(String message) {
        ObjectNode error = json.createObjectNode();
        error.put("error", message);
        return error;
    }

    private void respond(HttpExchange exchange, int status, JsonNode body) throws IOException {
        byte[] bytes = json.writeValueAsBytes(body);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    private static final class NotFound extends Exception {
        NotFound(String route) {
            super(route, null, false, false);
        }
    }
}
