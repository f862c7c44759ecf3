#!/usr/bin/python3
"""Converts each trained checkpoint variant with `sparq convert`, measures it with `sparq eval`
(dev accuracy and macro-F1) and `sparq bench` (documents/s and p95 batch latency on dev
documents), and prints the README's results table, every figure also relative to dense f32.

    models/evaluate_variants.py --checkpoints build/models-train-v2 --out build/variants

The checkpoints come from models/train/train_classifier.py. Standard library only.
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEV = os.path.join(ROOT, "..", "shared", "data", "debian-descriptions", "dev.jsonl")

# (name, checkpoint directory, sparq convert options)
VARIANTS = [
    ("dense f32", "dense", ["--weights", "f32"]),
    ("dense q8", "dense", ["--weights", "q8", "--embeddings", "q8"]),
    ("dense q4 (g32)", "dense", ["--weights", "q4:g32", "--embeddings", "q8"]),
    ("80 % unstructured q8", "sparse80-unstructured", ["--weights", "q8", "--embeddings", "q8"]),
    ("80 % 4x4-block q8", "sparse80-block4x4", ["--weights", "q8", "--embeddings", "q8"]),
    ("90 % unstructured q8", "sparse90-unstructured", ["--weights", "q8", "--embeddings", "q8"]),
    ("90 % 4x4-block q8", "sparse90-block4x4", ["--weights", "q8", "--embeddings", "q8"]),
]


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode not in (0, 3):
        sys.exit(f"failed ({result.returncode}): {' '.join(cmd)}\n{result.stderr}")
    return result.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoints", default=os.path.join(ROOT, "build", "models-train-v2"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "variants"))
    ap.add_argument("--sparq", default=os.path.join(ROOT, "build", "sparq"))
    ap.add_argument("--data", default=DEV)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bench-seconds", type=float, default=10)
    ap.add_argument("--json-out")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    rows = []
    for name, checkpoint, options in VARIANTS:
        src = os.path.join(a.checkpoints, checkpoint)
        if not os.path.isdir(src):
            print(f"skipped {name}: no checkpoint {src}", file=sys.stderr)
            continue
        model = os.path.join(a.out, f"{checkpoint}-{options[1].replace(':', '')}.sparq")
        run([a.sparq, "convert", "--from", "hf", src, "-o", model] + options)
        with open(model + ".eval.json", "w") as report:
            report.write(run([a.sparq, "eval", model, "--input", a.data, "--threads", str(a.threads), "--json", "-q"]))
        bench = json.loads(run([a.sparq, "bench", model, "--input", a.data, "--max-docs", "1000", "--batch-size", "16",
                                "--threads", str(a.threads), "--seconds", str(a.bench_seconds), "--json",
                                "--no-measure"]))
        quality = json.load(open(model + ".eval.json"))
        rows.append({"variant": name, "file": model, "bytes": os.path.getsize(model),
                     "accuracy": quality["accuracy"], "macro_f1": quality["macro_f1"],
                     "documents_per_s": bench["documents_per_s"], "p95_ms": bench["latency_ms"]["p95"]})
        print(f"measured {name}", file=sys.stderr)

    base = rows[0]
    print("| variant | file size | dev accuracy | dev macro-F1 | docs/s | p95 batch ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['variant']} | {r['bytes'] / 2**20:.1f} MiB ({r['bytes'] / base['bytes']:.2f}x) "
              f"| {r['accuracy']:.4f} ({r['accuracy'] / base['accuracy']:.1%}) "
              f"| {r['macro_f1']:.4f} ({r['macro_f1'] / base['macro_f1']:.1%}) "
              f"| {r['documents_per_s']:.1f} ({r['documents_per_s'] / base['documents_per_s']:.2f}x) "
              f"| {r['p95_ms']:.1f} ({r['p95_ms'] / base['p95_ms']:.2f}x) |")
    if a.json_out:
        json.dump(rows, open(a.json_out, "w"), indent=2)


if __name__ == "__main__":
    main()
