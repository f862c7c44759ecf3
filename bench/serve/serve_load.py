#!/usr/bin/python3
"""Load generator for `sparq serve`, and for ONNX Runtime behind a minimal Node server
(bench/serve/ort_server.mjs) as its peer: closed loop (N clients, each sending its next request
as soon as the last is answered, for a fixed time) at several concurrencies, or open loop (a
fixed arrival rate). Prints, per server and level: requests/s, texts/s (decoders: generated
tokens/s), p50/p95/p99 latency of the answered requests, and how many were refused (429) or
failed. Loopback only: it starts the servers itself (or talks to --port / --peer-port on
127.0.0.1), and every loop is bounded in time.

  bench/serve/serve_load.py --sparq build/sparq --model models/debian-sections-s90b4-q8.sparq \\
      --threads 2 --concurrency 1,4,16,64 --seconds 10 \\
      --peer-ort build/serve-peers/debian-sections --offline --half-load

--peer-ort DIR starts ort_server.mjs on DIR (bench/serve/make_onnx_peer.py writes it) with the
same --threads and drives it with the same requests, level by level right after sparq's;
--offline also runs `sparq bench` on the same texts before and after the load (batches of
--offline-batch, same threads) for the saturated-throughput ratio; --half-load adds, for each
server, an open-loop
level at half the texts/s of its best closed-loop level, for p99 there against the latency of
one request alone (the concurrency-1 level's p50). --check N first sends N texts to both
servers and counts how often their top labels agree.

Standard library only: the clients are asyncio coroutines on one thread, one kept-alive
HTTP/1.1 connection each.
"""
import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


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
        self.latencies, self.refused, self.failed, self.tokens = [], 0, 0, 0

    def add(self, status, seconds, tokens=0):
        if status == 200:
            self.latencies.append(seconds)
            self.tokens += tokens
        elif status == 429:
            self.refused += 1
        else:
            self.failed += 1


def completion_tokens(route, payload):
    """Generated tokens of a /v1/completions answer (0 for the encoder routes)."""
    if route != "/v1/completions":
        return 0
    try:
        return int(json.loads(payload)["usage"]["completion_tokens"])
    except (ValueError, KeyError, TypeError):
        return 0


class Bodies:
    """The requests, made once: request i is the same for every server and level."""

    def __init__(self, args, texts):
        self.route, self.requests = args.route, []
        for i in range(len(texts)):
            batch = texts[i:][: args.texts_per_request] or texts[: args.texts_per_request]
            if args.route == "/predict":
                b = {"inputs": [[t] for t in batch], "truncate": True}
            elif args.route == "/embed":
                b = {"inputs": batch, "truncate": True}
            else:
                b = {"prompt": batch[0][: args.prompt_chars], "max_tokens": args.max_tokens, "temperature": 0}
            body = json.dumps(b).encode()
            head = (f"POST {args.route} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode()
            self.requests.append(head + body)

    def __getitem__(self, i):
        return self.requests[i % len(self.requests)]


class Connection:
    """One kept-alive HTTP/1.1 connection on asyncio streams: a request's bytes out, the
    status and body back (Content-Length or chunked). The clients are coroutines on one
    thread, so a response is read the moment it arrives, with no lock or thread hand-off
    inside the measured time."""

    def __init__(self, port):
        self.port, self.reader, self.writer = port, None, None

    async def open(self):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port, limit=2**24)

    async def post(self, request):
        """(status, payload); status -1 when the connection broke (it is reopened next time).
        A kept-alive connection the server closed while it was idle (its keep-alive timeout)
        fails before any answer: that request is sent once more on a new connection, as HTTP
        clients' pools do."""
        reused = self.writer is not None
        try:
            await self.open()
            self.writer.write(request)
            try:
                head = await self.reader.readuntil(b"\r\n\r\n")
            except (OSError, asyncio.IncompleteReadError):
                if not reused:
                    raise
                self.close()
                await self.open()
                self.writer.write(request)
                head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:] if l)}
            if "content-length" in headers:
                payload = await self.reader.readexactly(int(headers["content-length"]))
            elif headers.get("transfer-encoding", "").lower() == "chunked":
                payload = b""
                while True:
                    size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    payload += (await self.reader.readexactly(size + 2))[:size]
                    if size == 0:
                        break
            else:
                payload = await self.reader.read()
            if headers.get("connection", "").lower() == "close":
                self.close()
            return status, payload
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            self.close()
            return -1, b""

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def closed_loop(args, port, bodies, clients):
    conns = [Connection(port) for _ in range(clients)]
    await asyncio.gather(*(c.open() for c in conns))  # connected before the clock starts
    stats, stop = Stats(), time.perf_counter() + args.seconds

    async def client(k):
        conn = conns[k]
        i = k * 7919
        while time.perf_counter() < stop:
            start = time.perf_counter()
            status, payload = await conn.post(bodies[i])
            stats.add(status, time.perf_counter() - start, completion_tokens(bodies.route, payload))
            if status == 429:
                await asyncio.sleep(0.01)  # a client that respects Retry-After would wait longer
            i += 1
        conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    return stats, time.perf_counter() - start


async def open_loop(args, port, bodies, rate):
    """Requests sent at a fixed rate whatever the answers, each on an idle kept-alive connection
    (a new one when none is idle); a request's latency counts from its scheduled time, so a late
    send is charged to the server, not hidden (no coordinated omission)."""
    stats, idle, tasks = Stats(), [], []

    async def send(scheduled, i):
        conn = idle.pop() if idle else Connection(port)
        status, payload = await conn.post(bodies[i])
        stats.add(status, time.perf_counter() - scheduled, completion_tokens(bodies.route, payload))
        idle.append(conn)

    interval, start = 1.0 / rate, time.perf_counter()
    for i in range(int(rate * args.seconds)):
        scheduled = start + i * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(send(scheduled, i)))
    await asyncio.gather(*tasks)
    for conn in idle:
        conn.close()
    return stats, time.perf_counter() - start


def cpu_seconds(pid):
    """User + system CPU seconds of a process (all its threads) so far; None without a pid."""
    if pid is None:
        return None
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(run, pid):
    """Runs a load level; also returns the cores the server and this load generator used on
    average during it (the generator shares the machine, so its share is not the server's)."""
    server0, client0 = cpu_seconds(pid), time.process_time()
    stats, wall = asyncio.run(run)
    cores = {"client_cores": (time.process_time() - client0) / wall}
    if pid is not None:
        cores["server_cores"] = (cpu_seconds(pid) - server0) / wall
    return stats, wall, cores


def row(args, kind, level, stats, wall, cores):
    n = len(stats.latencies)
    return {kind: level, **cores, "answered": n, "refused_429": stats.refused, "failed": stats.failed,
            "requests_per_s": n / wall, "texts_per_s": n * args.texts_per_request / wall,
            "generated_tokens_per_s": stats.tokens / wall,
            "p50_ms": percentile(stats.latencies, 50) * 1e3, "p95_ms": percentile(stats.latencies, 95) * 1e3,
            "p99_ms": percentile(stats.latencies, 99) * 1e3}


def start_server(cmd, what):
    """Starts a server that prints 'listening on http://127.0.0.1:PORT/' and then 'ready' on stderr."""
    server = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    log, port = "", None
    while "ready" not in log:
        line = server.stderr.readline()
        if not line:
            raise SystemExit(f"{what} did not start:\n{log}")
        log += line
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", line)
        if m:
            port = int(m.group(1))
    # Keep reading stderr so a chatty server never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in server.stderr], daemon=True).start()
    return server, port


async def top_labels(port, texts):
    out, conn = [], Connection(port)
    for t in texts:
        body = json.dumps({"inputs": t, "truncate": True}).encode()
        status, payload = await conn.post(f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                          f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        out.append(json.loads(payload)[0]["label"] if status == 200 else None)
    conn.close()
    return out


def offline_bench(args, texts):
    """`sparq bench` on the texts the load sends, one document per text, same threads, and
    OpenMP threads that wait as `sparq serve`'s do (OMP_WAIT_POLICY=passive; sparq bench
    alone spins up to 10,000 times) unless the environment sets a wait policy."""
    env = dict(os.environ)
    if "OMP_WAIT_POLICY" not in env and "GOMP_SPINCOUNT" not in env:
        env["OMP_WAIT_POLICY"] = "passive"
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for t in texts:
            f.write(json.dumps({"text": t}) + "\n")
    try:
        r = subprocess.run([args.sparq, "bench", args.model, "--input", f.name, "--batch-size", str(args.offline_batch),
                            "-t", str(args.threads), "--seconds", str(args.seconds), "--no-measure", "--json", "-q"],
                           stdout=subprocess.PIPE, text=True, check=True, env=env)
    finally:
        os.unlink(f.name)
    j = json.loads(r.stdout)
    return {"documents_per_s": j["documents_per_s"]}


def print_table(name, rows, key, decoder):
    rate = "gen tok/s" if decoder else "texts/s"
    print(f"\n{name}")
    print(f"{key:>8} {'answered':>9} {'429':>6} {'failed':>6} {'req/s':>8} {rate:>9} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'p99 ms':>8} {'server cores':>12} {'client cores':>12}")
    for r in rows:
        v = r["generated_tokens_per_s"] if decoder else r["texts_per_s"]
        server = f"{r['server_cores']:>12.2f}" if "server_cores" in r else f"{'':>12}"
        print(f"{r[key]:>8g} {r['answered']:>9} {r['refused_429']:>6} {r['failed']:>6} {r['requests_per_s']:>8.1f} "
              f"{v:>9.1f} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['p99_ms']:>8.1f} {server} {r['client_cores']:>12.2f}")


def measure_round(args, servers, pids, bodies, texts, levels, decoder):
    """One round: the offline bench, every level on every server in turn (so that drift of a
    shared machine hits them alike), the half-load levels, the offline bench again; with this
    round's ratios."""
    rnd = {"servers": {n: [] for n in servers}}
    offline = [offline_bench(args, texts)["documents_per_s"]] if args.offline and not decoder else []
    for kind, level in levels:
        for name, port in servers.items():
            run = open_loop(args, port, bodies, level) if kind == "rate" else closed_loop(args, port, bodies, level)
            rnd["servers"][name].append(row(args, kind, level, *measured(run, pids.get(name))))
    closed = levels[0][0] == "clients"
    if args.half_load and closed:
        rnd["half_load"] = {}
        for name, port in servers.items():
            rows = rnd["servers"][name]
            best = max(rows, key=lambda r: r["requests_per_s"])
            run = open_loop(args, port, bodies, best["requests_per_s"] / 2)
            half = row(args, "rate", round(best["requests_per_s"] / 2, 1), *measured(run, pids.get(name)))
            alone = next((r for r in rows if r["clients"] == 1), None)
            rnd["half_load"][name] = {**half, "saturated_requests_per_s": best["requests_per_s"]}
            if alone:
                rnd["half_load"][name].update(batch1_p50_ms=alone["p50_ms"], batch1_p99_ms=alone["p99_ms"],
                                              p99_over_batch1_p50=half["p99_ms"] / alone["p50_ms"],
                                              p99_over_batch1_p99=half["p99_ms"] / alone["p99_ms"])
    if offline:
        offline.append(offline_bench(args, texts)["documents_per_s"])
        best = max(r["texts_per_s"] for r in rnd["servers"]["sparq serve"])
        rnd["offline"] = {"documents_per_s": offline, "saturated_over_offline": best / (sum(offline) / len(offline))}
    if decoder and closed:
        rows = rnd["servers"]["sparq serve"]
        one = next((r for r in rows if r["clients"] == 1), None)
        if one:
            rnd["streams_over_one"] = {r["clients"]: r["generated_tokens_per_s"] / max(one["generated_tokens_per_s"], 1e-9)
                                       for r in rows if r["clients"] != 1}
    return rnd


def summarize(rounds):
    """Per server and level, the median over rounds of every rate and percentile; the ratios of
    each round with their median and range."""
    first = rounds[0]
    out = {"servers": {}}
    for name, rows in first["servers"].items():
        out["servers"][name] = []
        for i, r in enumerate(rows):
            per = [rnd["servers"][name][i] for rnd in rounds]
            out["servers"][name].append({k: (statistics.median([p[k] for p in per]) if isinstance(v, float) else v)
                                         for k, v in r.items()} | {"answered": sum(p["answered"] for p in per),
                                                                  "refused_429": sum(p["refused_429"] for p in per),
                                                                  "failed": sum(p["failed"] for p in per)})

    def spread(values):
        return {"median": statistics.median(values), "min": min(values), "max": max(values), "rounds": values}

    if "half_load" in first:
        out["half_load"] = {name: {k: spread([rnd["half_load"][name][k] for rnd in rounds])
                                   for k, v in h.items() if isinstance(v, float)} | {
                                       "refused_429": sum(rnd["half_load"][name]["refused_429"] for rnd in rounds),
                                       "failed": sum(rnd["half_load"][name]["failed"] for rnd in rounds)}
                            for name, h in first["half_load"].items()}
    if "offline" in first:
        out["offline"] = {"documents_per_s": spread([v for rnd in rounds for v in rnd["offline"]["documents_per_s"]]),
                          "saturated_over_offline": spread([rnd["offline"]["saturated_over_offline"] for rnd in rounds])}
    if "streams_over_one" in first:
        out["streams_over_one"] = {c: spread([rnd["streams_over_one"][c] for rnd in rounds]) for c in first["streams_over_one"]}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sparq", default="build/sparq")
    ap.add_argument("--model", default="models/debian-sections-s90b4-q8.sparq")
    ap.add_argument("--threads", type=int, default=2, help="kernel threads of sparq serve, the ORT peer and sparq bench")
    ap.add_argument("--port", type=int, help="a sparq server already running on 127.0.0.1:PORT")
    ap.add_argument("--serve-args", default="", help="more options for the sparq server this script starts")
    ap.add_argument("--peer-ort", metavar="DIR", help="also start bench/serve/ort_server.mjs on DIR and load it the same way")
    ap.add_argument("--peer-port", type=int, help="an ORT peer already running on 127.0.0.1:PORT")
    ap.add_argument("--peer-args", default="", help="more options for ort_server.mjs")
    ap.add_argument("--route", default="/predict", choices=["/predict", "/embed", "/v1/completions"])
    ap.add_argument("--texts", default="tests/data/debian-descriptions-dev-subset.jsonl")
    ap.add_argument("--texts-per-request", type=int, default=1)
    ap.add_argument("--max-tokens", type=int, default=32, help="/v1/completions: tokens to generate at most")
    ap.add_argument("--prompt-chars", type=int, default=200, help="/v1/completions: prompts are the texts cut to this")
    ap.add_argument("--concurrency", default="1,4,16", help="closed loop: clients per level")
    ap.add_argument("--rate", default="", help="open loop: requests/s per level instead, e.g. 50,100")
    ap.add_argument("--half-load", action="store_true",
                    help="then an open-loop level at half of each server's best closed-loop rate")
    ap.add_argument("--offline", action="store_true", help="also `sparq bench` the same texts (encoders)")
    ap.add_argument("--offline-batch", type=int, default=16)
    ap.add_argument("--check", type=int, default=0, help="/predict with a peer: compare top labels on N texts first")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=1, help="repeat everything; medians over rounds are reported")
    ap.add_argument("--json", action="store_true", help="print everything as one JSON document instead of tables")
    ap.add_argument("--save", metavar="FILE", help="also write that JSON document to FILE")
    args = ap.parse_args()
    decoder = args.route == "/v1/completions"

    servers, pids, started = {}, {}, []  # name: port; name: pid of the servers started here
    try:
        if args.port is not None:
            servers["sparq serve"] = args.port
        else:
            threads = [] if re.search(r"(^|\s)(-t|--threads)\b", args.serve_args) else ["-t", str(args.threads)]
            p, port = start_server([args.sparq, "serve", args.model, "--port", "0", "-q", *threads,
                                    *args.serve_args.split()], "sparq serve")
            started.append(p)
            servers["sparq serve"], pids["sparq serve"] = port, p.pid
        if args.peer_port is not None:
            servers["ORT + Node"] = args.peer_port
        elif args.peer_ort:
            p, port = start_server(["node", os.path.join(HERE, "ort_server.mjs"), "--dir", args.peer_ort, "--port", "0",
                                    "--threads", str(args.threads), *args.peer_args.split()], "ort_server.mjs")
            started.append(p)
            servers["ORT + Node"], pids["ORT + Node"] = port, p.pid

        texts = load_texts(args.texts, 200)
        bodies = Bodies(args, texts)
        report = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "route": args.route, "model": args.model,
                  "serve_args": args.serve_args, "peer_args": args.peer_args if args.peer_ort else None,
                  "threads": args.threads, "seconds": args.seconds,
                  "texts_per_request": args.texts_per_request, "rounds": []}
        if args.check and len(servers) > 1 and args.route == "/predict":
            got = {n: asyncio.run(top_labels(port, texts[: args.check])) for n, port in servers.items()}
            a, b = got.values()
            report["check"] = {"texts": args.check, "top_label_agreement": sum(x == y and x is not None for x, y in zip(a, b)) / args.check}
        levels = [("rate", float(r)) for r in args.rate.split(",") if r] or \
                 [("clients", int(c)) for c in args.concurrency.split(",")]
        for _ in range(args.rounds):
            report["rounds"].append(measure_round(args, servers, pids, bodies, texts, levels, decoder))
        report |= summarize(report["rounds"])
    finally:
        for p in started:
            p.send_signal(signal.SIGTERM)
        for p in started:
            p.wait(timeout=60)

    if args.save:
        with open(args.save, "w") as f:
            json.dump(report, f, indent=2)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    key = levels[0][0]
    n = f", medians of {args.rounds} rounds" if args.rounds > 1 else ""
    for name, rows in report["servers"].items():
        print_table(name + n, rows, key, decoder)

    def ratio(s):
        return f"{s['median']:.2f}" + (f" ({s['min']:.2f}-{s['max']:.2f})" if len(s["rounds"]) > 1 else "")

    if len(servers) > 1:
        a, b = report["servers"].values()
        rate = "generated_tokens_per_s" if decoder else "texts_per_s"
        print("\nsparq serve / ORT + Node: " + ", ".join(
            f"{key} {x[key]:g}: {x[rate] / max(y[rate], 1e-9):.2f}x throughput, p50 {y['p50_ms'] / max(x['p50_ms'], 1e-9):.2f}x faster"
            for x, y in zip(a, b)))
    for name, h in report.get("half_load", {}).items():
        print(f"\n{name} at half of saturation ({h['rate']['median']:.1f} req/s): p50 {h['p50_ms']['median']:.1f} ms, "
              f"p99 {h['p99_ms']['median']:.1f} ms = {ratio(h['p99_over_batch1_p50'])}x the batch-1 p50 "
              f"and {ratio(h['p99_over_batch1_p99'])}x its p99; {h['refused_429']} refused, {h['failed']} failed")
    if "offline" in report:
        o = report["offline"]
        print(f"\nsparq bench offline (batch {args.offline_batch}, {args.threads} threads): "
              f"{o['documents_per_s']['median']:.1f} docs/s (runs: {', '.join(f'{v:.0f}' for v in o['documents_per_s']['rounds'])}); "
              f"sparq serve saturated / offline = {ratio(o['saturated_over_offline'])}")
    if "check" in report:
        print(f"\ntop label agreement, sparq serve vs ORT + Node, {report['check']['texts']} texts: "
              f"{report['check']['top_label_agreement']:.3f}")
    for c, s in report.get("streams_over_one", {}).items():
        print(f"\n{c} streams / 1 stream, generated tok/s: {ratio(s)}x")


if __name__ == "__main__":
    main()
