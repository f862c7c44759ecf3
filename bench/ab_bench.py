#!/usr/bin/python3
"""Two sparq binaries on the same model and documents, `sparq bench` runs interleaved
(A, B, A, B, ...) so that the shared machine's load drifts over both alike; prints a
Markdown table of documents/s per round, the medians and the B/A ratio.

  bench/ab_bench.py --a /tmp/sparq-before --b build/sparq \\
      --model models/debian-sections-s90b4-q8.sparq \\
      --input ../shared/data/debian-descriptions/dev.jsonl --rounds 5
"""
import argparse
import json
import statistics
import subprocess
import sys


def bench(binary, args):
    cmd = [binary, "bench", args.model, "--batch-size", str(args.batch), "--max-length", str(args.max_length),
           "--threads", str(args.threads), "--seconds", str(args.seconds), "--no-measure", "--json"]
    if args.input:
        cmd += ["--input", args.input]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    report = json.loads(out)
    return report["documents_per_s"], report["latency_ms"]["p95"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--a", required=True, help="baseline sparq binary")
    p.add_argument("--b", required=True, help="candidate sparq binary")
    p.add_argument("--model", required=True)
    p.add_argument("--input", help="documents (default: synthetic ones of exactly --max-length tokens)")
    p.add_argument("--max-length", type=int, default=128, help="tokens per document (truncates --input's)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=8)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()

    runs = {"a": [], "b": []}
    for r in range(args.rounds):
        for key in ("a", "b"):
            runs[key].append(bench(getattr(args, key), args))
            print(f"round {r + 1}: {key} {runs[key][-1][0]:.1f} docs/s", file=sys.stderr)

    median_a = statistics.median(d for d, _ in runs["a"])
    print("| binary | docs/s per round | median | p95 batch ms (median) |")
    print("|---|---|---:|---:|")
    for key in ("a", "b"):
        docs = [d for d, _ in runs[key]]
        median = statistics.median(docs)
        p95 = statistics.median(l for _, l in runs[key])
        print(f"| {key}: {getattr(args, key)} | {', '.join(f'{d:.1f}' for d in docs)} | "
              f"{median:.1f} ({median / median_a:.2f}x) | {p95:.1f} |")
    ratios = [b[0] / a[0] for a, b in zip(runs["a"], runs["b"])]
    print(f"\nPairwise b/a ratios: {min(ratios):.2f}-{max(ratios):.2f}")


if __name__ == "__main__":
    main()
