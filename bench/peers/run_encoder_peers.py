#!/usr/bin/python3
"""sparq's encoder against its peers on one BERT-base- or MiniLM-L6-shaped model, in one run.

  bench/peers/run_encoder_peers.py [--shape bert-base|minilm-l6] [--build build]
      [--models build/peers] [--threads 2] [--rounds 3] [--seconds 10] [--json-out FILE] [--md-out FILE]

Steps: (1) make_bert_base.py builds the model when --models lacks it (HF checkpoint, its
90 % 4x4-block-sparse variant, the ONNX export); (2) `sparq convert --from hf` makes f32
and q8 .sparq files of the dense checkpoint and a q8 file of the sparse one (skipped when
newer than the checkpoint); (3) `sparq classify --logits` on SHAPE-texts.jsonl is compared with
PyTorch's logits for the same texts, so the table says whether sparq ran the same model;
(4) every engine runs at batch 16 x seq 128 (throughput) and batch 1 x seq 128 (latency)
with the same thread count, round-robin over engines and shapes for --rounds rounds, since
this shared machine is noisy; the table shows each figure's median over the rounds;
(5) a markdown table with ratios to ONNX Runtime f32 and PyTorch dynamic INT8 and the
shape's targets from issue 20 (judged on batch-16 throughput), and the raw results as JSON.

Engines: sparq f32 / q8 / 90%-block-sparse q8 (`sparq bench --json`), ONNX Runtime f32
(ort_bench.mjs, onnxruntime-node), PyTorch eager FP32 and dynamic INT8 (torch_bench.py).
A failing engine (say, a sparq command not built yet) is reported with its error and the
others still run; the exit status is 1 when anything failed. Standard library only.
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PYTHON = "/usr/bin/python3"  # Debian's, which has python3-torch

SHAPES = [("throughput", 16, 128), ("latency", 1, 128)]
MODEL_SHAPES = {"bert-base": "BERT-base shape (12 x 768, 12 heads, 3072 FFN, 110 M parameters)",
                "minilm-l6": "MiniLM-L6 shape (6 x 384, 12 heads, 1536 FFN, 22.7 M parameters)"}


def engines_of(m):
    """name, label, kind, model file (relative to --models), options; for model shape `m`."""
    return [("sparq-f32", "sparq f32", "sparq", f"{m}.f32.sparq", None),
            ("sparq-q8", "sparq q8", "sparq", f"{m}.q8.sparq", None),
            ("sparq-sparse90-q8", "sparq 90% block-sparse q8", "sparq", f"{m}-sparse90.q8.sparq", None),
            ("ort-f32", "ONNX Runtime f32", "ort", f"{m}.onnx", None),
            ("torch-f32", "PyTorch eager FP32", "torch", m, "fp32"),
            ("torch-int8", "PyTorch dynamic INT8", "torch", m, "int8")]


def conversions_of(m):
    return [(m, "f32", f"{m}.f32.sparq"), (m, "q8", f"{m}.q8.sparq"), (f"{m}-sparse90", "q8", f"{m}-sparse90.q8.sparq")]


# Issue 20's batch-16 targets. A ratio target is (label, engine, peer engine, factor); an
# absolute one (label, engine, None, documents per second per thread).
TARGETS = {
    "bert-base": [("sparq f32 >= 1.15x ONNX Runtime f32", "sparq-f32", "ort-f32", 1.15),
                  ("sparq dense q8 >= 3.5x ONNX Runtime f32", "sparq-q8", "ort-f32", 3.5),
                  ("sparq 90% block-sparse q8 >= 8x ONNX Runtime f32", "sparq-sparse90-q8", "ort-f32", 8.0)],
    "minilm-l6": [("sparq 90% block-sparse q8 >= 200 docs/s per core", "sparq-sparse90-q8", None, 200.0)],
}


class StepError(Exception):
    pass


def log(msg):
    print(f"[peers {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(cmd, env, timeout):
    """stdout of cmd; StepError with the command, exit code and stderr's tail on failure."""
    try:
        r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    except FileNotFoundError as e:
        raise StepError(f"{cmd[0]}: not found ({e.strerror})")
    except subprocess.TimeoutExpired:
        raise StepError(f"`{' '.join(cmd)}` did not finish within {timeout} s")
    if r.returncode != 0:
        tail = " | ".join(r.stderr.strip().splitlines()[-4:]) or "(no stderr)"
        raise StepError(f"`{' '.join(cmd)}` exited {r.returncode}: {tail}")
    return r.stdout


def run_json(cmd, env, timeout):
    out = run(cmd, env, timeout)
    # Tolerates log lines before the object: the JSON is the last line that parses.
    for line in [out] + out.strip().splitlines()[::-1]:
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            continue
    raise StepError(f"`{' '.join(cmd)}` printed no JSON object: {out[:200]!r}")


def flatten(obj, prefix=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from flatten(v, f"{prefix}{k}.")
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield prefix[:-1].lower(), float(obj)


def pick(flat, patterns):
    """First value whose dotted key matches one of the regexes, tried in order."""
    for p in patterns:
        for k, v in flat:
            if re.search(p, k):
                return v
    return None


def normalise(raw):
    """documents_per_s, tokens_per_s and p50/p95/p99 ms from a bench JSON whose exact key
    layout may differ (sparq bench's `latency_ms.p50`, `latency.p50_ms`, `p50_ms`, ...)."""
    flat = list(flatten(raw))
    m = {"documents_per_s": pick(flat, [r"(^|\.)(documents|docs)_per_s(ec)?$", r"doc.*per_s"]),
         "tokens_per_s": pick(flat, [r"(^|\.)tokens_per_s(ec)?$", r"token.*per_s"])}
    for p in ("p50", "p95", "p99"):
        m[f"{p}_ms"] = pick(flat, [rf"latency.*(^|[._]){p}(_ms)?$", rf"(^|[._]){p}_ms$", rf"(^|\.){p}$"])
    if m["documents_per_s"] is None:
        raise StepError(f"bench JSON has no documents/s field: keys {[k for k, _ in flat][:20]}")
    return m


def engine_cmd(engine, shape, args):
    name, _, kind, model, option = engine
    _, batch, seq = shape
    path = os.path.join(args.models, model)
    if kind == "sparq":
        # --no-measure: the peaks are measured once, by `sparq hwinfo`, for the header.
        return [args.sparq, "bench", path, "--batch-size", str(batch), "--max-length", str(seq), "--threads", str(args.threads),
                "--seconds", str(args.seconds), "--min-iterations", str(args.min_iters), "--no-measure",
                "--json"] + args.sparq_bench_arg
    common = ["--model", path, "--threads", str(args.threads), "--batch", str(batch), "--seq-len", str(seq),
              "--seconds", str(args.seconds), "--min-iters", str(args.min_iters), "--warmup", "1"]
    if kind == "ort":
        return ["node", os.path.join(HERE, "ort_bench.mjs")] + common
    return [PYTHON, os.path.join(HERE, "torch_bench.py"), "--precision", option] + common


def convert(args, env):
    """Returns {sparq file: error or None}, converting what is missing or stale."""
    status = {}
    for src, weights, out in conversions_of(args.shape):
        src_dir, out_path = os.path.join(args.models, src), os.path.join(args.models, out)
        fresh = (os.path.exists(out_path) and
                 os.path.getmtime(out_path) > os.path.getmtime(os.path.join(src_dir, "model.safetensors")))
        if fresh and not args.reconvert:
            status[out] = None
            continue
        log(f"sparq convert --from hf {src} --weights {weights}")
        try:
            tmp = out_path + ".tmp.sparq"
            run([args.sparq, "convert", "--from", "hf", src_dir, "-o", tmp, "--weights", weights], env, 1800)
            os.replace(tmp, out_path)
            status[out] = None
        except StepError as e:
            status[out] = str(e)
            log(f"FAILED: {e}")
    return status


def classify_logits(line, labels):
    """The logits of one `sparq classify --logits` output line, in label order."""
    lg = line.get("logits")
    if isinstance(lg, dict):
        return [lg[label] for label in labels]
    if isinstance(lg, list):
        return lg
    raise StepError(f"classify output has no 'logits' list or map: {sorted(line)}")


def numerics(args, env, convert_status):
    """Max abs difference between sparq's logits and PyTorch's on SHAPE-texts.jsonl, per .sparq file."""
    with open(os.path.join(args.models, f"{args.shape}-texts_logits.json")) as f:
        ref = json.load(f)
    out = {}
    for src, weights, model in conversions_of(args.shape):
        if convert_status.get(model):
            out[model] = {"error": "not converted"}
            continue
        try:
            text = run([args.sparq, "classify", os.path.join(args.models, model), "--input",
                        os.path.join(args.models, f"{args.shape}-texts.jsonl"), "--format", "jsonl", "--output", "-", "--logits"],
                       env, 600)
            lines = [json.loads(l) for l in text.splitlines() if l.strip()]
            want = ref["logits"][src]
            if len(lines) != len(want):
                raise StepError(f"classify gave {len(lines)} lines for {len(want)} texts")
            diff = max(abs(a - b) for l in lines for a, b in zip(classify_logits(l, ref["labels"]), want[str(l["id"])]))
            torch_label = lambda tid: ref["labels"][max(range(len(want[tid])), key=want[tid].__getitem__)]
            agree = sum(l.get("label") == torch_label(str(l["id"])) for l in lines)
            scale = max(abs(v) for lg in want.values() for v in lg)
            out[model] = {"weights": weights, "max_abs_diff": diff, "torch_max_abs_logit": scale,
                          "torch_int8_max_abs_diff": ref.get("torch_dynamic_int8_max_abs_diff", {}).get(src),
                          "argmax_agreement": f"{agree}/{len(lines)}"}
        except (StepError, KeyError, ValueError, TypeError) as e:
            out[model] = {"error": str(e)}
        log(f"numerics {model}: {out[model]}")
    return out


def layer_encodings(args, env, model):
    """How `sparq inspect` says the encoder layers' weight matrices are stored, e.g. '48 bsr:q8:4x4'."""
    try:
        tensors = run_json([args.sparq, "inspect", "--json", os.path.join(args.models, model)], env, 120)["tensors"]
        counts = {}
        for t in tensors:
            if t["name"].startswith("layers.") and t["name"].endswith(".weight") and len(t["shape"]) == 2:
                counts[t["encoding"]] = counts.get(t["encoding"], 0) + 1
        return "layer weights " + ", ".join(f"{n} {e}" for e, n in sorted(counts.items()))
    except (StepError, KeyError, TypeError) as e:
        return f"inspect failed: {str(e)[:100]}"


def hwinfo(args, env):
    try:
        h = run_json([args.sparq, "hwinfo", "--json", "--threads", str(args.threads)], env, 300)
    except StepError as e:
        return {"error": str(e)}
    measured = h.get("measured") or {}
    allt = lambda k: (measured.get(k) or {}).get("all_threads")
    return {"cpu": (h.get("cpu") or {}).get("model"), "cores": (h.get("cpu") or {}).get("cores"),
            "isa": (h.get("isa") or {}).get("selected"), "bandwidth_gbs": allt("bandwidth_gbs"),
            "f32_gflops": allt("f32_gflops"), "int8_gops": allt("int8_gops")}


def fmt(v, spec=".1f"):
    return "-" if v is None else format(v, spec)


def ratio(a, b):
    return None if a is None or not b else a / b


def median_of(samples, key):
    vals = [s[key] for s in samples if s.get(key) is not None]
    return statistics.median(vals) if vals else None


def summarise(results):
    """{(engine, shape): {medians..., rounds, spread}} from the per-round samples."""
    out = {}
    for key, rec in results.items():
        ok = [s for s in rec["samples"] if "error" not in s]
        m = {k: median_of(ok, k) for k in ("documents_per_s", "tokens_per_s", "p50_ms", "p95_ms", "p99_ms")}
        docs = [s["documents_per_s"] for s in ok]
        m["rounds"] = len(ok)
        m["docs_min"], m["docs_max"] = (min(docs), max(docs)) if docs else (None, None)
        m["error"] = next((s["error"] for s in rec["samples"] if "error" in s), None) if not ok else None
        out[key] = m
    return out


def speed(m, shape):
    """What the ratios compare: docs/s for throughput, 1 / median batch latency for latency
    (a mean-based docs/s would let one stalled batch of a noisy run dominate)."""
    if not m or m.get("error"):
        return None
    if shape == "throughput":
        return m["documents_per_s"]
    return 1000 / m["p50_ms"] if m.get("p50_ms") else None


def markdown(summary, header, numerics_result, threads, model_shape):
    lines = header[:]
    for shape, batch, seq in SHAPES:
        basis = "" if shape == "throughput" else " (p50)"
        lines += ["", f"### {'Throughput' if shape == 'throughput' else 'Latency'}: batch {batch}, seq {seq}, "
                      f"{threads} threads (median of rounds)", "",
                  f"| engine | docs/s | tokens/s | p50 ms | p95 ms | docs/s range | x ORT f32{basis} | x torch INT8{basis} |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        ort = speed(summary.get(("ort-f32", shape)), shape)
        tq8 = speed(summary.get(("torch-int8", shape)), shape)
        for name, label, *_ in engines_of(model_shape):
            m = summary.get((name, shape))
            if m is None:
                continue
            if m["error"]:
                lines.append(f"| {label} | failed: {m['error'][:160]} | | | | | | |")
                continue
            d, v = m["documents_per_s"], speed(m, shape)
            lines.append(f"| {label} | {fmt(d, '.2f')} | {fmt(m['tokens_per_s'], '.0f')} | {fmt(m['p50_ms'])} | "
                         f"{fmt(m['p95_ms'])} | {fmt(m['docs_min'], '.2f')}-{fmt(m['docs_max'], '.2f')} "
                         f"({m['rounds']}) | {fmt(ratio(v, ort), '.2f')} | {fmt(ratio(v, tq8), '.2f')} |")
    lines += ["", "### Targets (batch-16 throughput; verdict on the docs/s medians)", "",
              "| target | medians | best rounds | verdict |", "|---|---:|---:|---|"]
    for text, a, b, need in TARGETS[model_shape]:
        mine = summary.get((a, "throughput"), {})
        if b is None:  # documents per second per thread
            r, best = (ratio(mine.get(k), threads) for k in ("documents_per_s", "docs_max"))
            x = lambda v: fmt(v, ".1f") + (" docs/s/core" if v is not None else "")
        else:
            peer = summary.get((b, "throughput"), {})
            r = ratio(mine.get("documents_per_s"), peer.get("documents_per_s"))
            # Each engine's fastest round: what it does when the shared machine left it alone.
            best = ratio(mine.get("docs_max"), peer.get("docs_max"))
            x = lambda v: fmt(v, ".2f") + ("x" if v is not None else "")
        lines.append(f"| {text} | {x(r)} | {x(best)} | {'n/a (not measured)' if r is None else 'met' if r >= need else 'missed'} |")
    if numerics_result:
        lines += ["", f"### Same model? sparq classify --logits vs PyTorch on {model_shape}-texts.jsonl", "",
                  "| sparq file | max abs logit diff | argmax agreement | PyTorch max abs logit | "
                  "PyTorch dynamic INT8's max abs diff |", "|---|---:|---:|---:|---:|"]
        for model, n in numerics_result.items():
            lines.append(f"| {model} | {n.get('error') or fmt(n.get('max_abs_diff'), '.2e')} | "
                         f"{n.get('argmax_agreement', '-')} | {fmt(n.get('torch_max_abs_logit'), '.3f')} | "
                         f"{fmt(n.get('torch_int8_max_abs_diff'), '.2e')} |")
    return "\n".join(lines)


def git_commit():
    try:
        return subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True).stdout.strip() or None
    except OSError:
        return None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            return next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), platform.machine())
    except OSError:
        return platform.machine()


def sparq_version(sparq, env):
    try:
        return run([sparq, "--version"], env, 30).strip() or "sparq ?"
    except StepError:
        return "sparq ?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(REPO, "build"), help="CMake build dir holding sparq")
    ap.add_argument("--sparq", help="the sparq binary (default: BUILD/sparq)")
    ap.add_argument("--models", default=os.path.join(REPO, "build", "peers"), help="make_bert_base.py's output dir")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10, help="time budget of one peer measurement")
    ap.add_argument("--min-iters", type=int, default=3, help="batches each peer measurement runs at least")
    ap.add_argument("--shape", choices=sorted(MODEL_SHAPES), default="bert-base", help="the model shape (make_bert_base.py --shape)")
    ap.add_argument("--engines", default=",".join(e[0] for e in engines_of("bert-base")), help="comma-separated subset")
    ap.add_argument("--sparq-bench-arg", action="append", default=[], help="extra argument for sparq bench (repeatable)")
    ap.add_argument("--reconvert", action="store_true", help="run sparq convert even when the .sparq files are fresh")
    ap.add_argument("--no-numerics", action="store_true", help="skip the sparq classify logits check")
    ap.add_argument("--json-out", help="write the raw results here")
    ap.add_argument("--md-out", help="also write the markdown table here")
    args = ap.parse_args()
    args.models = os.path.abspath(args.models)
    args.sparq = os.path.abspath(args.sparq or os.path.join(args.build, "sparq"))
    chosen = args.engines.split(",")
    all_engines = engines_of(args.shape)
    unknown = set(chosen) - {e[0] for e in all_engines}
    if unknown:
        ap.error(f"--engines: unknown {sorted(unknown)}; known: {[e[0] for e in all_engines]}")
    engines = [e for e in all_engines if e[0] in chosen]

    load_before = os.getloadavg()
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads))
    failures = []

    made = os.path.join(args.models, f"made-{args.shape}.json")
    if not os.path.exists(made):
        log(f"building the peer model into {args.models}")
        r = subprocess.run([PYTHON, os.path.join(HERE, "make_bert_base.py"), "--shape", args.shape, "--out", args.models], env=env)
        if r.returncode != 0:
            print("run_encoder_peers: make_bert_base.py failed; nothing to benchmark", file=sys.stderr)
            return 1
    with open(made) as f:
        made_info = json.load(f)

    use_sparq = any(e[2] == "sparq" for e in engines)
    convert_status = convert(args, env) if use_sparq else {}
    failures += [f"convert {m}: {e}" for m, e in convert_status.items() if e]
    numerics_result = numerics(args, env, convert_status) if use_sparq and not args.no_numerics else {}
    hw = hwinfo(args, env) if use_sparq else {}

    results = {}
    dead = {}  # engine -> error: an engine that failed once is not retried (a missing command stays missing)
    for e in engines:
        model = e[3]
        if e[2] == "sparq" and convert_status.get(model):
            dead[e[0]] = f"{model} not converted: {convert_status[model]}"
    for rnd in range(args.rounds):
        for shape in SHAPES:
            for e in engines:
                rec = results.setdefault((e[0], shape[0]), {"engine": e[0], "shape": shape[0], "batch": shape[1],
                                                            "seq_len": shape[2], "samples": [], "raw": []})
                if e[0] in dead:
                    rec["samples"].append({"error": dead[e[0]]})
                    continue
                cmd = engine_cmd(e, shape, args)
                log(f"round {rnd + 1}/{args.rounds} {shape[0]} {e[0]}")
                try:
                    raw = run_json(cmd, env, 1800)
                    sample = normalise(raw)
                    rec["raw"].append(raw)
                    rec["samples"].append(sample)
                    log(f"  {sample['documents_per_s']:.2f} docs/s, p50 {fmt(sample['p50_ms'])} ms")
                except StepError as err:
                    dead[e[0]] = str(err)
                    rec["samples"].append({"error": str(err)})
                    failures.append(f"{e[0]} {shape[0]}: {err}")
                    log(f"FAILED: {err}")

    summary = summarise(results)
    versions = {}
    for rec in results.values():
        for raw in rec["raw"]:
            if raw.get("version"):
                versions[rec["engine"]] = raw["version"]
    header = [f"## Encoder peers: {MODEL_SHAPES[args.shape]}, "
              f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC", "",
              f"- machine: {hw.get('cpu') or cpu_model()}, {hw.get('cores') or os.cpu_count()} cores; "
              f"sparq ISA {hw.get('isa', '-')}; measured {fmt(hw.get('bandwidth_gbs'))} GB/s, "
              f"{fmt(hw.get('f32_gflops'), '.0f')} f32 GFLOP/s, {fmt(hw.get('int8_gops'), '.0f')} int8 GOP/s at {args.threads} threads"
              + (f" (hwinfo failed: {hw['error'][:120]})" if hw.get("error") else ""),
              f"- {sparq_version(args.sparq, env)} (tree at {git_commit() or '?'}); onnxruntime-node {versions.get('ort-f32', '?')}; "
              f"torch {versions.get('torch-int8') or versions.get('torch-f32') or '?'} "
              f"(quantized engine {next((r['raw'][0].get('quantized_engine') for r in results.values() if r['raw'] and r['raw'][0].get('quantized_engine')), '?')})",
              f"- {args.threads} threads everywhere; {args.rounds} rounds, engines and shapes interleaved round-robin; "
              f"each measurement runs {args.seconds:g} s (>= {args.min_iters} batches; sparq bench stops after whichever is later, "
              f"the peers' time box is checked between batches) after warm-up (1 batch for the peers, sparq bench's default); "
              f"1-min load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after on {os.cpu_count()} CPUs "
              f"(well above the thread count means other work shared the cores)",
              f"- same weights everywhere (seed {made_info.get('seed')}); ONNX vs PyTorch logits max abs diff "
              f"{fmt(made_info.get('onnx_vs_torch_max_abs_diff'), '.1e')}; sparse variant: "
              f"{fmt(100 * made_info.get('sparsity', 0), '.1f')} % zeros in {made_info.get('block')}x{made_info.get('block')} "
              f"blocks in all attention/FFN weights (pooler, classifier and embeddings dense)"]
    files = [m for _, _, m in conversions_of(args.shape) if use_sparq and not convert_status.get(m)]
    if files:
        header.append("- .sparq files: " + "; ".join(
            f"{m} {os.path.getsize(os.path.join(args.models, m)) / 2**20:.0f} MiB ({layer_encodings(args, env, m)})"
            for m in files))
    table = markdown(summary, header, numerics_result, args.threads, args.shape)
    print(table)
    if args.md_out:
        with open(args.md_out, "w") as f:
            f.write(table + "\n")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"header": header, "threads": args.threads, "rounds": args.rounds, "hwinfo": hw,
                       "model": made_info, "convert": convert_status, "numerics": numerics_result,
                       "summary": {f"{k[0]}/{k[1]}": v for k, v in summary.items()},
                       "results": list(results.values()), "failures": failures}, f, indent=1)
    if failures:
        print(f"\nrun_encoder_peers: {len(failures)} failure(s):", file=sys.stderr)
        for f_ in failures:
            print(f"  {f_}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
