#!/usr/bin/python3
"""sparq against llama.cpp (node-llama-cpp, tools/node) on the same TinyLlama-1.1B-shaped GGUF
files, in one run: each file is converted with `sparq convert --from gguf` (exact transcodes),
then `sparq bench` and `bench/llama_cpp_peer.mjs bench` measure prefill and decode with the same
prompt length, generated length and thread count, one after the other. Prints a markdown table
of both and their ratios (sparq / llama.cpp) for bench/RESULTS.md.

--prune S [S ...] also converts each file pruned to each sparsity S (`sparq convert --prune S`,
magnitude, unstructured: q8_0/q4_0 weights become bitmap rows) and benches it beside the same
llama.cpp run of the dense file, which has no sparse weights (issue 18's comparison).

The last column is decode's share of the memory-bandwidth roofline by the bytes it actually
reads: `sparq bench`'s weight bytes per decode step times decode tok/s, over the triad
bandwidth `sparq hwinfo` measures at the same thread count (once, at the start of the run).

usage: decoder_vs_llama_cpp.py GGUF_DIR WORK_DIR [--types q4_0 q8_0 f16] [--threads 2 1]
         [--prune 0.5 0.7] [--prompt-len 128] [--gen-len 64] [--seconds 10] [--report]
GGUF_DIR holds tinyllama-1.1b-random-{type}.gguf (bench/make_tinyllama_gguf.py GGUF_DIR).
"""
import argparse
import json
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run_json(args):
    out = subprocess.run(args, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    return json.loads(out)


def report(rows, bandwidth, a):
    hw = rows[0][2]["hwinfo"]
    print()
    print(f"machine: {hw['cpu']['model']}, {hw['cpu']['cores']} cores, isa {hw['isa']['selected']}; llama.cpp {rows[0][3]['llama_cpp']} "
          f"(node-llama-cpp {rows[0][3]['node_llama_cpp']}, {rows[0][3]['cpu_backend']})")
    print(f"prompt {a.prompt_len}, generated {a.gen_len}, greedy; sparq {a.seconds:.0f} s of runs, llama.cpp median "
          f"of 3 runs after a warm-up; triad bandwidth (sparq hwinfo) "
          + ", ".join(f"{bw:.1f} GB/s at {n} thread{'s' if n > 1 else ''}" for n, bw in sorted(bandwidth.items())))
    print()
    print("| file | threads | sparq prefill tok/s | llama.cpp prefill tok/s | ratio | sparq decode tok/s | "
          "llama.cpp decode tok/s | ratio | sparq weight GB read per token | % of triad roofline |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for t, n, s, p in rows:
        # The roofline by bytes actually read: weight bytes a decode step reads (bitmap rows
        # count their masks, scales and stored values) against the triad at these threads.
        gb = s["decode_weight_bytes_per_step"] / 1e9
        share = s["decode_tokens_per_s"] * gb / bandwidth[n] if n in bandwidth else None
        print(f"| {t.upper()} | {n} | {s['prefill_tokens_per_s']:.1f} | {p['prefill_tok_s']:.1f} | "
              f"{s['prefill_tokens_per_s'] / p['prefill_tok_s']:.2f}x | {s['decode_tokens_per_s']:.2f} | "
              f"{p['decode_tok_s']:.2f} | {s['decode_tokens_per_s'] / p['decode_tok_s']:.2f}x | {gb:.3f} | "
              f"{'' if share is None else f'{100 * share:.0f} %'} |")
    for t in a.types:
        by_n = {n: s for tt, n, s, _ in rows if tt == t}
        if 1 in by_n and 2 in by_n:
            print(f"{t.upper()}: sparq 2-thread decode scaling {by_n[2]['decode_tokens_per_s'] / by_n[1]['decode_tokens_per_s']:.2f}x, "
                  f"prefill {by_n[2]['prefill_tokens_per_s'] / by_n[1]['prefill_tokens_per_s']:.2f}x")


def triad(sparq, threads):
    """Triad GB/s by thread count, from one `sparq hwinfo` at the largest count."""
    m = run_json([sparq, "hwinfo", "--json", "-q", "-t", str(max(threads))])["measured"]["bandwidth_gbs"]
    return {1: m["1_thread"], max(threads): m["all_threads"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("gguf_dir")
    ap.add_argument("work_dir")
    ap.add_argument("--types", nargs="+", default=["q4_0", "q8_0", "f16"])
    ap.add_argument("--threads", nargs="+", type=int, default=[2, 1])
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--gen-len", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--prune", nargs="*", type=float, default=[])
    ap.add_argument("--sparq", default=os.path.join(ROOT, "build", "sparq"))
    ap.add_argument("--report", action="store_true",
                    help="print the table of the last run (WORK_DIR/decoder_vs_llama_cpp.json) again")
    a = ap.parse_args()
    saved = os.path.join(a.work_dir, "decoder_vs_llama_cpp.json")
    if a.report:
        with open(saved) as f:
            d = json.load(f)
        rows = [(r["type"], r["threads"], r["sparq"], r["llama_cpp"]) for r in d["rows"]]
        report(rows, {int(n): bw for n, bw in d["triad_gbs"].items()}, a)
        return
    os.makedirs(a.work_dir, exist_ok=True)
    bandwidth = triad(a.sparq, a.threads)
    rows = []
    for t in a.types:
        gguf = os.path.join(a.gguf_dir, f"tinyllama-1.1b-random-{t}.gguf")
        variants = [(t, [])] + [(f"{t} pruned {s:.0%}", ["--prune", str(s)]) for s in a.prune]
        models = []
        for label, extra in variants:
            suffix = "" if not extra else f"-s{round(100 * float(extra[1]))}"
            model = os.path.join(a.work_dir, f"tinyllama-1.1b-random-{t}{suffix}.sparq")
            if not os.path.exists(model):
                subprocess.run([a.sparq, "convert", "--from", "gguf", gguf, "-o", model, "-q"] + extra, check=True,
                               stdout=subprocess.DEVNULL)
            models.append((label, model))
        for n in a.threads:
            p = run_json(["node", os.path.join(HERE, "llama_cpp_peer.mjs"), "bench", gguf, "--prompt-len",
                          str(a.prompt_len), "--gen-len", str(a.gen_len), "--threads", str(n)])
            for label, model in models:
                s = run_json([a.sparq, "bench", model, "--prompt-len", str(a.prompt_len), "--gen-len", str(a.gen_len),
                              "-t", str(n), "--seconds", str(a.seconds), "--warmup", "2", "--min-iterations", "2",
                              "--json", "-q", "--no-measure"])
                rows.append((label, n, s, p))
                print(f"{label} {n}t: sparq prefill {s['prefill_tokens_per_s']:.1f} decode {s['decode_tokens_per_s']:.2f}"
                      f" | llama.cpp prefill {p['prefill_tok_s']:.1f} decode {p['decode_tok_s']:.2f}", flush=True)
    with open(saved, "w") as f:
        json.dump({"triad_gbs": bandwidth,
                   "rows": [{"type": t, "threads": n, "sparq": s, "llama_cpp": p} for t, n, s, p in rows]}, f, indent=1)
    report(rows, bandwidth, a)

if __name__ == "__main__":
    main()
