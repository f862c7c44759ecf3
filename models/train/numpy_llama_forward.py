#!/usr/bin/python3
"""A float64 numpy forward of a Hugging Face Llama / Qwen2 checkpoint, written from HF's
LlamaForCausalLM definition (RMSNorm, half-split RoPE with optional llama3 or linear scaling,
grouped-query causal attention, SwiGLU MLP, residuals) and read from the safetensors by hand:
the reference the GGUF and llama2.c exports are checked against, independent of torch and of
the exporters' layouts.

Usage: numpy_llama_forward.py HF_DIR TOKENS.json OUT.json
  TOKENS.json: [[id, ...], ...]; OUT.json: {"argmax": [[...]], "logits": [[[...]]]} per sequence
  and position (logits as float32 values).
"""

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_checkpoint import load_checkpoint  # noqa: E402
from llama_rope import inverse_frequencies, llama3_frequency_divisors, rope_scaling_type  # noqa: E402


def rms_norm(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def rotate_half_split(x, cos, sin):
    """HF's apply_rotary_pos_emb: dimension i pairs with i + head_dim/2."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def rope_angles(cfg, n):
    inv = inverse_frequencies(cfg.head_dim, cfg.rope_theta)
    kind = rope_scaling_type(cfg.rope_scaling)
    positions = np.arange(n, dtype=np.float64)
    if kind == "llama3":
        inv = inv / llama3_frequency_divisors(cfg.head_dim, cfg.rope_theta, cfg.rope_scaling).astype(np.float64)
    elif kind == "linear":
        positions = positions / cfg.rope_scaling["factor"]
    angles = np.outer(positions, inv)
    return np.cos(angles), np.sin(angles)


def forward(cfg, t, ids):
    """Logits [len(ids), vocab] for one sequence."""
    g = lambda name: np.asarray(t[name], dtype=np.float64)
    n, hd = len(ids), cfg.head_dim
    x = g("model.embed_tokens.weight")[ids]
    cos, sin = rope_angles(cfg, n)
    mask = np.triu(np.full((n, n), -np.inf), 1)
    group = cfg.heads // cfg.kv_heads
    for i in range(cfg.layers):
        p = f"model.layers.{i}."
        h = rms_norm(x, g(p + "input_layernorm.weight"), cfg.rms_eps)
        proj = lambda name: h @ g(p + f"self_attn.{name}.weight").T + (
            g(p + f"self_attn.{name}.bias") if p + f"self_attn.{name}.bias" in t else 0)
        q = proj("q_proj").reshape(n, cfg.heads, hd).transpose(1, 0, 2)
        k = proj("k_proj").reshape(n, cfg.kv_heads, hd).transpose(1, 0, 2)
        v = proj("v_proj").reshape(n, cfg.kv_heads, hd).transpose(1, 0, 2)
        q, k = rotate_half_split(q, cos, sin), rotate_half_split(k, cos, sin)
        k, v = np.repeat(k, group, axis=0), np.repeat(v, group, axis=0)
        scores = q @ k.transpose(0, 2, 1) / np.sqrt(hd) + mask
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        attn = (scores / scores.sum(-1, keepdims=True)) @ v
        x = x + attn.transpose(1, 0, 2).reshape(n, -1) @ g(p + "self_attn.o_proj.weight").T
        h = rms_norm(x, g(p + "post_attention_layernorm.weight"), cfg.rms_eps)
        gate = h @ g(p + "mlp.gate_proj.weight").T
        x = x + ((gate / (1 + np.exp(-gate))) * (h @ g(p + "mlp.up_proj.weight").T)) @ g(p + "mlp.down_proj.weight").T
    x = rms_norm(x, g("model.norm.weight"), cfg.rms_eps)
    head = "model.embed_tokens.weight" if cfg.tied_embeddings else "lm_head.weight"
    return x @ g(head).T


def main(argv):
    cfg, _, tensors = load_checkpoint(argv[1])
    with open(argv[2]) as f:
        sequences = json.load(f)
    logits = [forward(cfg, tensors, ids) for ids in sequences]
    with open(argv[3], "w") as f:
        json.dump({"argmax": [l.argmax(-1).tolist() for l in logits],
                   "logits": [l.astype(np.float32).tolist() for l in logits]}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
