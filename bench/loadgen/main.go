// The metrics-API benchmark's load generator in Go: the same two phases and stdout protocol as the
// Node client in ../metrics-api.bench.ts, with far less CPU per request, so that on a 2-core
// machine the figures say more about the server than about the client. Standard library only.
//
// Protocol "http/1.1" offers only HTTP/1.1: one request at a time on each of Clients connections.
// Protocol "h2" offers h2 and HTTP/1.1 over ALPN, as the aggregator's proxy transport does (client-go
// builds it with k8s.io/apimachinery's SetTransportDefaults, which enables HTTP/2): against a server
// that accepts h2, Go's transport multiplexes the Clients concurrent requests as streams of one
// connection (it opens another only beyond the server's concurrent-stream limit).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptrace"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

type options struct {
	Port     int     `json:"port"`
	CAFile   string  `json:"caFile"`
	CertFile string  `json:"certFile"`
	KeyFile  string  `json:"keyFile"`
	Targets  int     `json:"targets"`
	Clients  int     `json:"clients"`
	Seconds  float64 `json:"seconds"`
	Rate     float64 `json:"rate"`
	Protocol string  `json:"protocol"`
}

type phaseResult struct {
	Phase             string  `json:"phase"`
	Requests          int     `json:"requests"`
	Errors            int     `json:"errors"`
	Seconds           float64 `json:"seconds"`
	RequestsPerSecond float64 `json:"requestsPerSecond"`
	P50Ms             float64 `json:"p50Ms"`
	P99Ms             float64 `json:"p99Ms"`
	MaxMs             float64 `json:"maxMs"`
	// The protocol the phase's responses came in ("HTTP/1.1", "HTTP/2.0"; "mixed" if both), and the
	// connections opened since the start (warm-up included).
	Negotiated        string `json:"negotiated"`
	ConnectionsOpened int64  `json:"connectionsOpened"`
}

func emit(v any) {
	line, _ := json.Marshal(v)
	fmt.Println(string(line))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "loadgen:", err)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		fail(fmt.Errorf("usage: loadgen '<options JSON>'"))
	}
	var o options
	if err := json.Unmarshal([]byte(os.Args[1]), &o); err != nil {
		fail(err)
	}
	caPem, err := os.ReadFile(o.CAFile)
	if err != nil {
		fail(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPem)
	cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
	if err != nil {
		fail(err)
	}
	transport := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, ServerName: "localhost"},
		MaxIdleConnsPerHost: o.Clients,
		MaxConnsPerHost:     o.Clients,
		DisableCompression:  true,
		ForceAttemptHTTP2:   o.Protocol == "h2",
	}
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	var http1, http2, connections atomic.Int64
	var seen sync.Map
	// Connections counted by local address: GotConnInfo.Reused is also true for a connection dialed
	// for one request and first used by another.
	trace := &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			if _, loaded := seen.LoadOrStore(info.Conn.LocalAddr().String(), true); !loaded {
				connections.Add(1)
			}
		},
	}
	get := func(target int) bool {
		url := fmt.Sprintf("https://127.0.0.1:%d/apis/external.metrics.k8s.io/v1beta1/namespaces/flink/flink_busy_ratio?labelSelector=target%%3Dtarget-%d", o.Port, target)
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, url, nil)
		req.Header.Set("X-Remote-User", "system:serviceaccount:kube-system:horizontal-pod-autoscaler")
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		if resp.ProtoMajor == 2 {
			http2.Add(1)
		} else {
			http1.Add(1)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	negotiated := func() string {
		h1, h2 := http1.Swap(0), http2.Swap(0)
		switch {
		case h1 > 0 && h2 > 0:
			return "mixed"
		case h2 > 0:
			return "HTTP/2.0"
		default:
			return "HTTP/1.1"
		}
	}

	// Warm up: open every connection, fill the review cache.
	warmUntil := time.Now().Add(2 * time.Second)
	var warm sync.WaitGroup
	for c := 0; c < o.Clients; c++ {
		warm.Add(1)
		go func() {
			defer warm.Done()
			for time.Now().Before(warmUntil) {
				get(rand.Intn(o.Targets))
			}
		}()
	}
	warm.Wait()
	negotiated()

	var results []phaseResult
	for _, phase := range []string{"max", "rate"} {
		emit(map[string]string{"event": "start", "phase": phase})
		started := time.Now()
		end := started.Add(time.Duration(o.Seconds * float64(time.Second)))
		interval := time.Duration(float64(time.Second) / o.Rate)
		latencies := make([][]float64, o.Clients)
		errors := make([]int, o.Clients)
		var wg sync.WaitGroup
		for c := 0; c < o.Clients; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				for k := 0; ; k++ {
					var from time.Time
					if phase == "rate" {
						scheduled := started.Add(time.Duration(k*o.Clients+c) * interval)
						if !scheduled.Before(end) {
							return
						}
						if wait := time.Until(scheduled); wait > 0 {
							time.Sleep(wait)
						}
						// Late: charged from the scheduled time (no coordinated omission).
						from = scheduled
						if now := time.Now(); now.Before(scheduled) {
							from = now
						}
					} else {
						from = time.Now()
						if !from.Before(end) {
							return
						}
					}
					if !get(rand.Intn(o.Targets)) {
						errors[c]++
					}
					latencies[c] = append(latencies[c], float64(time.Since(from).Microseconds())/1000)
				}
			}(c)
		}
		wg.Wait()
		seconds := time.Since(started).Seconds()
		emit(map[string]string{"event": "end", "phase": phase})
		var all []float64
		totalErrors := 0
		for c := range latencies {
			all = append(all, latencies[c]...)
			totalErrors += errors[c]
		}
		sort.Float64s(all)
		pick := func(p float64) float64 {
			if len(all) == 0 {
				return 0
			}
			i := int(p / 100 * float64(len(all)))
			if i >= len(all) {
				i = len(all) - 1
			}
			return all[i]
		}
		maxMs := 0.0
		if len(all) > 0 {
			maxMs = all[len(all)-1]
		}
		results = append(results, phaseResult{
			Phase: phase, Requests: len(all), Errors: totalErrors, Seconds: seconds,
			RequestsPerSecond: float64(len(all)) / seconds, P50Ms: pick(50), P99Ms: pick(99), MaxMs: maxMs,
			Negotiated: negotiated(), ConnectionsOpened: connections.Load(),
		})
	}
	emit(map[string]any{"results": results})
}
