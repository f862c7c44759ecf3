#!/usr/bin/python3
"""Checks llama2c_export.py's files by reading them the way llama2.c's run.c / runq.c do and
running run.c's forward in numpy (its weight order, pairwise RoPE with theta 10000 over
head_size = dim / n_heads, grouped-query attention, RMSNorm eps 1e-5, SwiGLU), against
numpy_llama_forward.py's float64 forward of the HF checkpoint; and tokenizer.bin by run.c's
encoder (BOS, a dummy-prefix space, UTF-8 characters or byte fallback to id byte+3, then the
highest-scoring adjacent merge, leftmost on ties, until none is left) against reference ids
(one JSON list per line, e.g. llama_cpp_peer.mjs tokenize output, equal to transformers.js).

TOKENS.json holds [[id, ...], ...]; `random:N` uses N random 32-token sequences instead.

Version 2 files are dequantized and run in float64: runq.c's quantization of the activations
(per group, before each matmul) is not imitated, so its agreement here is a little optimistic.

Usage: check_llama2c_export.py HF_DIR TOKENS.json FILE.bin... [--tokenizer tokenizer.bin
           --texts STRINGS.jsonl --ids IDS.jsonl] [--min-agreement 0.9]
"""

import argparse
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_checkpoint import load_checkpoint  # noqa: E402
from numpy_llama_forward import forward as reference_forward  # noqa: E402

MAGIC = 0x616B3432


def read_checkpoint(path):
    """(config dict, weights dict) from a version 0, 1 or 2 file, dequantizing version 2."""
    raw = open(path, "rb").read()
    magic, version = struct.unpack_from("<Ii", raw, 0)
    if magic == MAGIC:
        dim, hidden, layers, heads, kv_heads, vocab, seq_len = struct.unpack_from("<7i", raw, 8)
        shared = raw[36] == 1
        group = struct.unpack_from("<i", raw, 37)[0] if version == 2 else None
        at = 256
    else:
        version = 0
        dim, hidden, layers, heads, kv_heads, vocab, seq_len = struct.unpack_from("<7i", raw, 0)
        shared, vocab, at = vocab > 0, abs(vocab), 28
    head = dim // heads
    kv = kv_heads * head
    sizes = {"embedding": vocab * dim, "attention_norm": layers * dim, "ffn_norm": layers * dim, "final_norm": dim,
             "wq": layers * dim * dim, "wk": layers * kv * dim, "wv": layers * kv * dim, "wo": layers * dim * dim,
             "w1": layers * hidden * dim, "w2": layers * dim * hidden, "w3": layers * hidden * dim,
             "classifier": vocab * dim, "rope": seq_len * head // 2}
    big = ["embedding", "wq", "wk", "wv", "wo", "w1", "w2", "w3"] + ([] if shared else ["classifier"])
    if version == 0:
        order = ["embedding", "attention_norm", "wq", "wk", "wv", "wo", "ffn_norm", "w1", "w2", "w3", "final_norm",
                 "rope", "rope"] + ([] if shared else ["classifier"])
    elif version == 1:
        order = ["attention_norm", "ffn_norm", "final_norm"] + big
    else:
        order = ["attention_norm", "ffn_norm", "final_norm"]
    w = {}
    for name in order:
        w[name] = np.frombuffer(raw, "<f4", sizes[name], at).astype(np.float64)
        at += 4 * sizes[name]
    if version == 2:
        # As runq.c's init_quantized_tensors: per tensor (per layer for the layer weights),
        # its int8 values, then its scales.
        for name in big:
            parts = 1 if name in ("embedding", "classifier") else layers
            each = sizes[name] // parts
            values = []
            for _ in range(parts):
                q = np.frombuffer(raw, np.int8, each, at).astype(np.float64)
                at += each
                scale = np.frombuffer(raw, "<f4", each // group, at).astype(np.float64)
                at += 4 * (each // group)
                values.append((q.reshape(-1, group) * scale[:, None]).ravel())
            w[name] = np.concatenate(values)
    if at != len(raw):
        raise ValueError(f"{path}: {len(raw) - at} bytes left after the weights")
    if shared:
        w["classifier"] = w["embedding"]
    cfg = dict(dim=dim, hidden=hidden, layers=layers, heads=heads, kv_heads=kv_heads, vocab=vocab, head=head, kv=kv)
    shapes = {"embedding": (vocab, dim), "classifier": (vocab, dim), "attention_norm": (layers, dim),
              "ffn_norm": (layers, dim), "wq": (layers, dim, dim), "wk": (layers, kv, dim), "wv": (layers, kv, dim),
              "wo": (layers, dim, dim), "w1": (layers, hidden, dim), "w2": (layers, dim, hidden),
              "w3": (layers, hidden, dim)}
    return cfg, {k: v.reshape(shapes[k]) if k in shapes else v for k, v in w.items()}


def rmsnorm(x, g):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-5) * g


def rope_pairs(x, positions, head):
    """run.c: dimensions (2i, 2i+1) of each head rotate by pos / 10000^(2i / head_size)."""
    freq = 1.0 / 10000.0 ** (np.arange(0, head, 2) / head)
    ang = np.outer(positions, freq)[:, None, :]
    even, odd = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = even * np.cos(ang) - odd * np.sin(ang)
    out[..., 1::2] = even * np.sin(ang) + odd * np.cos(ang)
    return out


def run_c_forward(c, w, ids):
    n = len(ids)
    x = w["embedding"][ids]
    pos = np.arange(n)
    mask = np.triu(np.full((n, n), -np.inf), 1)
    group = c["heads"] // c["kv_heads"]
    for l in range(c["layers"]):
        h = rmsnorm(x, w["attention_norm"][l])
        q = rope_pairs((h @ w["wq"][l].T).reshape(n, c["heads"], c["head"]), pos, c["head"])
        k = rope_pairs((h @ w["wk"][l].T).reshape(n, c["kv_heads"], c["head"]), pos, c["head"])
        v = (h @ w["wv"][l].T).reshape(n, c["kv_heads"], c["head"])
        k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
        s = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(c["head"]) + mask
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        x = x + np.einsum("hqk,khd->qhd", s, v).reshape(n, -1) @ w["wo"][l].T
        h = rmsnorm(x, w["ffn_norm"][l])
        a = h @ w["w1"][l].T
        x = x + ((a / (1 + np.exp(-a))) * (h @ w["w3"][l].T)) @ w["w2"][l].T
    return rmsnorm(x, w["final_norm"]) @ w["classifier"].T


def read_tokenizer(path, vocab_size):
    raw = open(path, "rb").read()
    at = 4
    pieces, scores = [], []
    for _ in range(vocab_size):
        score, n = struct.unpack_from("<fi", raw, at)
        pieces.append(raw[at + 8:at + 8 + n])
        scores.append(score)
        at += 8 + n
    return pieces, scores


def run_c_encode(text, pieces, scores):
    lookup = {}
    for i, p in enumerate(pieces):
        lookup.setdefault(p, i)
    ids = [1]
    if text:
        ids.append(lookup[b" "])
    for ch in text:
        b = ch.encode("utf-8")
        ids += [lookup[b]] if b in lookup else [byte + 3 for byte in b]
    while True:
        best, best_at = -1e10, -1
        for i in range(len(ids) - 1):
            j = lookup.get(pieces[ids[i]] + pieces[ids[i + 1]])
            if j is not None and scores[j] > best:
                best, best_at, best_id = scores[j], i, j
        if best_at < 0:
            return ids
        ids[best_at:best_at + 2] = [best_id]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("hf_dir")
    ap.add_argument("tokens")
    ap.add_argument("files", nargs="+")
    ap.add_argument("--tokenizer")
    ap.add_argument("--texts")
    ap.add_argument("--ids")
    ap.add_argument("--min-agreement", type=float, default=0.0,
                    help="exit 1 if any file's argmax agreement is lower (f32 files must also match within 1e-6)")
    args = ap.parse_args()
    hf_cfg, _, tensors = load_checkpoint(args.hf_dir)
    if args.tokens.startswith("random:"):  # N reproducible sequences of 32 ids, BOS first
        rng = np.random.default_rng(7)
        sequences = [[1] + rng.integers(3, hf_cfg.vocab_size, 31).tolist() for _ in range(int(args.tokens[7:]))]
    else:
        with open(args.tokens) as f:
            sequences = json.load(f)
    reference = [reference_forward(hf_cfg, tensors, ids) for ids in sequences]
    summary = {}
    for path in args.files:
        c, w = read_checkpoint(path)
        got = [run_c_forward(c, w, ids) for ids in sequences]
        diff = max(np.abs(a - b).max() for a, b in zip(reference, got)) / max(np.abs(a).max() for a in reference)
        agree = np.mean(np.concatenate([a.argmax(-1) == b.argmax(-1) for a, b in zip(reference, got)]))
        summary[os.path.basename(path)] = {"version": read_version(path), "max_rel_logit_diff": float(diff),
                                           "argmax_agreement": float(agree)}
    if args.tokenizer:
        pieces, scores = read_tokenizer(args.tokenizer, hf_cfg.vocab_size)
        texts = [json.loads(l)["text"] for l in open(args.texts, encoding="utf-8") if l.strip()]
        expected = [json.loads(l) for l in open(args.ids) if l.strip()]
        bad = [i for i, (t, e) in enumerate(zip(texts, expected)) if run_c_encode(t, pieces, scores) != e]
        summary["tokenizer"] = {"compared": len(expected), "mismatches": len(bad),
                                "mismatched_texts": [texts[i][:60] for i in bad[:5]]}
    print(json.dumps(summary, indent=1))
    ok = all(r["argmax_agreement"] >= args.min_agreement for k, r in summary.items() if k != "tokenizer")
    ok &= all(r["max_rel_logit_diff"] <= 1e-6 for k, r in summary.items() if k != "tokenizer" and r["version"] < 2)
    ok &= summary.get("tokenizer", {}).get("mismatches", 0) == 0
    return 0 if ok else 1


def read_version(path):
    with open(path, "rb") as f:
        magic, version = struct.unpack("<Ii", f.read(8))
    return version if magic == MAGIC else 0


if __name__ == "__main__":
    sys.exit(main())
