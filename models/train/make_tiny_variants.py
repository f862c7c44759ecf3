#!/usr/bin/python3
"""Writes small random-weight Hugging Face decoder checkpoints for the importer and forward tests
of architectures beyond the plain debian-llama one, each a directory under DIR:

  llama3   LlamaForCausalLM, llama3 rope_scaling (factor 8, low 1, high 4, original 64 positions),
           rope_theta 500000, 512 positions, GQA 4/2
  qwen2    Qwen2ForCausalLM, q/k/v biases, tied embeddings (no lm_head tensor)
  mistral  MistralForCausalLM, sliding_window null, GQA 4/2, F16 weights
  mqa      LlamaForCausalLM with one KV head
  bf16     LlamaForCausalLM stored as BF16
  sharded  LlamaForCausalLM split into 2 safetensors shards plus model.safetensors.index.json

Hidden 64, 2 layers, the debian-llama vocabulary (its tokenizer files are copied in). Weights are
deterministic (one seed per variant) and larger than HF's init so that logits are far from uniform
and a wrong norm weight, bias or rotation shows up in the tests.

    /usr/bin/python3 models/train/make_tiny_variants.py DIR [--tokenizer models/debian-llama]
"""

import argparse
import json
import os
import shutil
import sys
import zlib

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_model import LlamaForCausalLM, llama_config  # noqa: E402
from safetensors_io import write_safetensors, write_sharded  # noqa: E402

TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "sp_scores.json"]
HIDDEN, LAYERS, HEADS, FFN = 64, 2, 4, 160


def base_config(vocab):
    return llama_config(vocab, HIDDEN, LAYERS, HEADS, 2, FFN, 256, torch_dtype="float32")


def variants(vocab):
    """name -> (config, safetensors dtype, shard count)."""
    llama3 = base_config(vocab)
    llama3.update(max_position_embeddings=512, rope_theta=500000.0,
                  rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                "high_freq_factor": 4.0, "original_max_position_embeddings": 64})

    qwen2 = base_config(vocab)
    for k in ("attention_bias", "mlp_bias", "pretraining_tp", "head_dim"):
        qwen2.pop(k)
    qwen2.update(architectures=["Qwen2ForCausalLM"], model_type="qwen2", tie_word_embeddings=True,
                 rope_theta=1000000.0, rms_norm_eps=1e-6, use_sliding_window=False, sliding_window=None,
                 max_window_layers=LAYERS)

    mistral = base_config(vocab)
    for k in ("attention_bias", "mlp_bias", "pretraining_tp", "rope_scaling"):
        mistral.pop(k)
    mistral.update(architectures=["MistralForCausalLM"], model_type="mistral", sliding_window=None,
                   torch_dtype="float16")

    mqa = base_config(vocab)
    mqa.update(num_key_value_heads=1)

    bf16 = base_config(vocab)
    bf16.update(torch_dtype="bfloat16")

    return {"llama3": (llama3, "F32", 1), "qwen2": (qwen2, "F32", 1), "mistral": (mistral, "F16", 1),
            "mqa": (mqa, "F32", 1), "bf16": (bf16, "BF16", 1), "sharded": (base_config(vocab), "F32", 2)}


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if name.endswith("layernorm.weight") or name == "model.norm.weight":
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))


def write_variant(out_dir, name, cfg, dtype, shards, tokenizer_dir):
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    model_cfg = dict(cfg)
    if model_cfg.get("model_type") == "qwen2":
        model_cfg["attention_bias"] = True  # what load_config infers for qwen2
    model = LlamaForCausalLM(model_cfg)
    randomize(model, zlib.crc32(name.encode()))
    state = model.state_dict()
    if shards > 1:
        write_sharded(state, d, shards, dtype)
    else:
        write_safetensors(state, os.path.join(d, "model.safetensors"), dtype)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    with open(os.path.join(d, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": cfg["bos_token_id"], "eos_token_id": cfg["eos_token_id"]}, f, indent=2)
        f.write("\n")
    for fname in TOKENIZER_FILES:
        src = os.path.join(tokenizer_dir, fname)
        if os.path.exists(src):
            shutil.copy(src, d)
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--tokenizer", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                        "..", "debian-llama"),
                    help="checkpoint whose vocabulary and tokenizer files the variants share")
    ap.add_argument("--only", nargs="*", help="variant names to write (default: all)")
    args = ap.parse_args()
    with open(os.path.join(args.tokenizer, "tokenizer.json"), encoding="utf-8") as f:
        vocab = len(json.load(f)["model"]["vocab"])
    torch.manual_seed(0)
    for name, (cfg, dtype, shards) in variants(vocab).items():
        if args.only and name not in args.only:
            continue
        print(write_variant(args.out_dir, name, cfg, dtype, shards, args.tokenizer))


if __name__ == "__main__":
    main()
