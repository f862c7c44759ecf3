#!/usr/bin/python3
"""Load generator for `sparq serve`: closed loop (N clients, each sending its next request as
soon as the last is answered, for a fixed time) at several concurrencies, or open loop (a
fixed arrival rate). Prints, per level: requests/s, texts/s, p50/p95/p99 latency of the
answered requests, and how many were refused (429) or failed. Loopback only: it starts the
server itself (or talks to --port on 127.0.0.1), and every loop is bounded in time.

  bench/serve/serve_load.py --sparq build/sparq --model models/debian-sections-s90b4-q8.sparq \\
      --concurrency 1,4,16,64 --seconds 10 --serve-args "--max-queue 16 -t 2"

Standard library only (http.client keeps one keep-alive connection per client thread).
"""
import argparse
import http.client
import json
import re
import signal
import subprocess
import threading
import time


def percentile(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    rank = max(1, min(len(values), int(-(-p * len(values) // 100))))
    return values[rank - 1]


def load_texts(path, n):
    texts = []
    with open(path) as f:
        for line in f:
            texts.append(json.loads(line)["text"][:1500])
            if len(texts) == n:
                break
    return texts


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies, self.refused, self.failed = [], 0, 0

    def add(self, status, seconds):
        with self.lock:
            if status == 200:
                self.latencies.append(seconds)
            elif status == 429:
                self.refused += 1
            else:
                self.failed += 1


def one_request(conn, path, body):
    start = time.perf_counter()
    try:
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        res = conn.getresponse()
        res.read()
        return res.status, time.perf_counter() - start
    except (OSError, http.client.HTTPException):
        return -1, time.perf_counter() - start


def body_for(args, texts, i):
    batch = texts[i % len(texts):][: args.texts_per_request] or texts[: args.texts_per_request]
    if args.route == "/predict":
        return json.dumps({"inputs": [[t] for t in batch], "truncate": True})
    if args.route == "/embed":
        return json.dumps({"inputs": batch, "truncate": True})
    return json.dumps({"prompt": batch[0][:200], "max_tokens": args.max_tokens, "temperature": 0})


def closed_loop(args, port, texts, clients):
    stats, stop = Stats(), time.perf_counter() + args.seconds

    def client(k):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        i = k * 7919
        while time.perf_counter() < stop:
            status, dt = one_request(conn, args.route, body_for(args, texts, i))
            if status == -1:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            elif status == 429:
                time.sleep(0.01)  # a client that respects Retry-After would wait longer
            stats.add(status, dt)
            i += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return stats, time.perf_counter() - start


def open_loop(args, port, texts, rate):
    stats, threads = Stats(), []
    interval, start = 1.0 / rate, time.perf_counter()
    for i in range(int(rate * args.seconds)):
        delay = start + i * interval - time.perf_counter()
        if delay > 0:
            time.sleep(delay)

        def send(i=i):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            stats.add(*one_request(conn, args.route, body_for(args, texts, i)))
            conn.close()

        t = threading.Thread(target=send)
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    return stats, time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sparq", default="build/sparq")
    ap.add_argument("--model", default="models/debian-sections-s90b4-q8.sparq")
    ap.add_argument("--port", type=int, help="a server already running on 127.0.0.1:PORT")
    ap.add_argument("--serve-args", default="-t 2", help="options for the server this script starts")
    ap.add_argument("--route", default="/predict", choices=["/predict", "/embed", "/v1/completions"])
    ap.add_argument("--texts", default="tests/data/debian-descriptions-dev-subset.jsonl")
    ap.add_argument("--texts-per-request", type=int, default=1)
    ap.add_argument("--max-tokens", type=int, default=32, help="/v1/completions")
    ap.add_argument("--concurrency", default="1,4,16", help="closed loop: clients per level")
    ap.add_argument("--rate", default="", help="open loop: requests/s per level instead, e.g. 50,100")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    server = None
    port = args.port
    if port is None:
        server = subprocess.Popen([args.sparq, "serve", args.model, "--port", "0", "-q", *args.serve_args.split()],
                                  stderr=subprocess.PIPE, text=True)
        log = ""
        while "ready" not in log:
            line = server.stderr.readline()
            if not line:
                raise SystemExit(f"sparq serve did not start:\n{log}")
            log += line
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", line)
            if m:
                port = int(m.group(1))
    texts = load_texts(args.texts, 200)
    levels = [("rate", float(r)) for r in args.rate.split(",") if r] or \
             [("clients", int(c)) for c in args.concurrency.split(",")]
    rows = []
    try:
        for kind, level in levels:
            stats, wall = (open_loop(args, port, texts, level) if kind == "rate"
                           else closed_loop(args, port, texts, level))
            n = len(stats.latencies)
            rows.append({kind: level, "answered": n, "refused_429": stats.refused, "failed": stats.failed,
                         "requests_per_s": n / wall, "texts_per_s": n * args.texts_per_request / wall,
                         "p50_ms": percentile(stats.latencies, 50) * 1e3, "p95_ms": percentile(stats.latencies, 95) * 1e3,
                         "p99_ms": percentile(stats.latencies, 99) * 1e3})
    finally:
        if server:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    key = levels[0][0]
    print(f"{key:>8} {'answered':>9} {'429':>6} {'failed':>6} {'req/s':>8} {'texts/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for r in rows:
        print(f"{r[key]:>8g} {r['answered']:>9} {r['refused_429']:>6} {r['failed']:>6} {r['requests_per_s']:>8.1f} "
              f"{r['texts_per_s']:>8.1f} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['p99_ms']:>8.1f}")


if __name__ == "__main__":
    main()
