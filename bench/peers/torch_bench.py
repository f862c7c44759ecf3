#!/usr/bin/python3
"""PyTorch eager peers on the checkpoint make_bert_base.py wrote, for run_encoder_peers.py.

  bench/peers/torch_bench.py --model build/peers/bert-base --precision fp32|int8
      [--threads 2] [--batch 16] [--seq-len 128] [--seconds 20] [--min-iters 1]
      [--max-iters 1000] [--warmup 1]

fp32 is the eager model as loaded; int8 is torch.ao.quantization.quantize_dynamic over every
nn.Linear with qint8 weights (activations quantized per batch at run time), on the
quantized engine torch selects (oneDNN on Debian's build). Runs under
torch.inference_mode() with torch.set_num_threads(threads). Prints one JSON object:
documents_per_s, tokens_per_s, latency_ms {p50, p95, p99, mean} of one batch, iterations,
settings, torch's version and quantized engine. Every document is seq-len tokens long.

Debian's torch has no optimised BLAS (BLAS_INFO=generic), so its FP32 matmul is a few
GFLOP/s here: a batch of 16 x 128 takes minutes. The run is time-bounded (--seconds, after
at least --min-iters batches) so it can be reported for completeness; it is not a
meaningful FP32 peer.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bert_torch  # noqa: E402


def synthetic_batch(batch, seq, vocab, seed=12345):
    g = np.random.default_rng(seed)
    ids = g.integers(1000, vocab, (batch, seq), dtype=np.int64)
    ids[:, 0], ids[:, -1] = 101, 102
    return torch.from_numpy(ids), torch.ones(batch, seq, dtype=torch.int64), torch.zeros(batch, seq, dtype=torch.int64)


def percentile(sorted_ms, p):
    """Nearest-rank percentile of a sorted sample (the same rule as ort_bench.mjs)."""
    rank = min(len(sorted_ms) - 1, max(0, -(-p * len(sorted_ms) // 100) - 1))
    return sorted_ms[rank]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="HF checkpoint directory (config.json + model.safetensors)")
    ap.add_argument("--precision", choices=["fp32", "int8"], required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--seconds", type=float, default=20, help="stop timing after this long (once --min-iters ran)")
    ap.add_argument("--min-iters", type=int, default=1)
    ap.add_argument("--max-iters", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=1)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    try:
        model = bert_torch.load_checkpoint(args.model)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        print(f"torch_bench: cannot load {args.model}: {e}", file=sys.stderr)
        return 2
    if args.precision == "int8":
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    vocab = model.bert.embeddings.word_embeddings.weight.shape[0]
    feeds = synthetic_batch(args.batch, args.seq_len, vocab)

    times = []
    with torch.inference_mode():
        for _ in range(args.warmup):
            model(*feeds)
        start = time.perf_counter()
        while len(times) < args.max_iters and (len(times) < args.min_iters or time.perf_counter() - start < args.seconds):
            t0 = time.perf_counter()
            model(*feeds)
            times.append((time.perf_counter() - t0) * 1000)

    total_s = sum(times) / 1000
    ms = sorted(times)
    json.dump({
        "engine": "torch-eager", "precision": "f32" if args.precision == "fp32" else "dynamic-int8",
        "version": torch.__version__, "quantized_engine": torch.backends.quantized.engine,
        "threads": args.threads, "batch": args.batch, "seq_len": args.seq_len,
        "iterations": len(times), "warmup": args.warmup,
        "documents_per_s": args.batch * len(times) / total_s,
        "tokens_per_s": args.batch * args.seq_len * len(times) / total_s,
        "latency_ms": {"p50": percentile(ms, 50), "p95": percentile(ms, 95), "p99": percentile(ms, 99),
                       "mean": sum(times) / len(times)},
    }, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
