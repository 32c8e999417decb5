package dev.slotscaler.workload;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** A tiny client of the MiniCluster's own REST API (the one an autoscaler talks to). */
final class FlinkRest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    private final ObjectMapper json = new ObjectMapper();
    private final HttpClient http =
            HttpClient.newBuilder().connectTimeout(TIMEOUT).version(HttpClient.Version.HTTP_1_1).build();
    private final String baseUrl;

    FlinkRest(String baseUrl) {
        this.baseUrl = baseUrl;
    }

    JsonNode get(String path) throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(URI.create(baseUrl + path)).GET(), path);
    }

    JsonNode put(String path, JsonNode body) throws IOException, InterruptedException {
        return send(
                HttpRequest.newBuilder(URI.create(baseUrl + path))
                        .header("Content-Type", "application/json")
                        .PUT(HttpRequest.BodyPublishers.ofString(json.writeValueAsString(body))),
                path);
    }

    private JsonNode send(HttpRequest.Builder request, String path)
            throws IOException, InterruptedException {
        HttpResponse<String> response =
                http.send(request.timeout(TIMEOUT).build(), HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() / 100 != 2) {
            throw new IOException(
                    "Flink REST " + path + " answered " + response.statusCode() + ": " + response.body());
        }
        String body = response.body();
        return body.isBlank() ? json.createObjectNode() : json.readTree(body);
    }
}
