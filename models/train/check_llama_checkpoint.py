#!/usr/bin/python3
"""Checks llama_model.py's forward against a second, independent float64 numpy forward written
from Hugging Face's Llama definition, loop by loop (per head, per position pair for RoPE, llama3
frequency scaling per frequency), on a checkpoint directory; prints the largest logit difference
and whether the greedy next tokens agree.

    /usr/bin/python3 models/train/check_llama_checkpoint.py DIR [DIR ...] [--tokens 40]
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_model import load_checkpoint, load_config  # noqa: E402
from safetensors_io import read_checkpoint_tensors  # noqa: E402


def frequencies(cfg, head_dim):
    theta = cfg.get("rope_theta", 10000.0)
    out = []
    scaling = cfg.get("rope_scaling") or {}
    for i in range(head_dim // 2):
        f = theta ** (-2.0 * i / head_dim)
        if scaling.get("rope_type", scaling.get("type")) == "llama3":
            ctx = scaling["original_max_position_embeddings"]
            lo, hi, factor = scaling["low_freq_factor"], scaling["high_freq_factor"], scaling["factor"]
            wavelength = 2 * math.pi / f
            if wavelength > ctx / lo:
                f = f / factor
            elif wavelength >= ctx / hi:
                s = (ctx / wavelength - lo) / (hi - lo)
                f = (1 - s) * f / factor + s * f
        out.append(f)
    return out


def rms(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def rotate(v, pos, freqs):
    half = len(freqs)
    out = v.copy()
    for i, f in enumerate(freqs):
        c, s = math.cos(pos * f), math.sin(pos * f)
        a, b = v[i], v[i + half]
        out[i], out[i + half] = a * c - b * s, b * c + a * s
    return out


def numpy_logits(cfg, w, ids):
    h, n_heads = cfg["hidden_size"], cfg["num_attention_heads"]
    n_kv = cfg.get("num_key_value_heads") or n_heads
    hd = cfg.get("head_dim") or h // n_heads
    eps = cfg.get("rms_norm_eps", 1e-6)
    freqs = frequencies(cfg, hd)
    t = len(ids)
    x = w["model.embed_tokens.weight"][ids]
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        a = rms(x, w[p + "input_layernorm.weight"], eps)

        def proj(name):
            y = a @ w[p + f"self_attn.{name}.weight"].T
            return y + w[p + f"self_attn.{name}.bias"] if p + f"self_attn.{name}.bias" in w else y

        q, k, v = proj("q_proj"), proj("k_proj"), proj("v_proj")
        ctx = np.zeros((t, n_heads * hd))
        for head in range(n_heads):
            kvh = head // (n_heads // n_kv)
            qs = [rotate(q[i, head * hd:(head + 1) * hd], i, freqs) for i in range(t)]
            ks = [rotate(k[j, kvh * hd:(kvh + 1) * hd], j, freqs) for j in range(t)]
            for i in range(t):
                s = np.array([qs[i] @ ks[j] / math.sqrt(hd) for j in range(i + 1)])
                pr = np.exp(s - s.max())
                pr /= pr.sum()
                ctx[i, head * hd:(head + 1) * hd] = pr @ v[:i + 1, kvh * hd:(kvh + 1) * hd]
        x = x + ctx @ w[p + "self_attn.o_proj.weight"].T
        m = rms(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = m @ w[p + "mlp.gate_proj.weight"].T
        up = m @ w[p + "mlp.up_proj.weight"].T
        x = x + (gate / (1 + np.exp(-gate)) * up) @ w[p + "mlp.down_proj.weight"].T
    x = rms(x, w["model.norm.weight"], eps)
    head_w = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    return x @ head_w.T


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--tokens", type=int, default=40, help="prompt length (random ids after BOS, seed 0)")
    args = ap.parse_args()
    worst = 0.0
    for d in args.dirs:
        cfg = load_config(d)
        weights = {k: v.double().numpy() for k, v in read_checkpoint_tensors(d).items()}
        rng = np.random.default_rng(0)
        ids = [1] + list(rng.integers(3, cfg["vocab_size"], args.tokens - 1))
        ref = numpy_logits(cfg, weights, ids)
        with torch.no_grad():
            got = load_checkpoint(d)(torch.tensor([ids]))[0].double().numpy()
        diff = float(np.abs(ref - got).max())
        same = int((ref.argmax(-1) == got.argmax(-1)).sum())
        worst = max(worst, diff)
        print(json.dumps({"checkpoint": os.path.basename(os.path.normpath(d)), "max_abs_logit_diff": diff,
                          "logit_scale": float(np.abs(ref).max()), "argmax_agree": f"{same}/{len(ids)}"}))
    sys.exit(0 if worst < 1e-3 else 1)


if __name__ == "__main__":
    main()
