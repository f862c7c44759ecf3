#!/usr/bin/python3
"""Writes a small random-weight Hugging Face decoder checkpoint for developing the exporters
and the llama.cpp peer before a trained model exists: config.json with HF's names,
model.safetensors (F32), and a Llama-2-structured SentencePiece-BPE tokenizer.json (ids 0
<unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>, then single characters, then merged pieces in
merge order; byte fallback) with tokenizer_config.json, trained here by plain BPE on the dev
documents so real text tokenizes into real merges.

Weights are drawn larger than a trained model's so logits are well separated and an argmax
comparison means something.

Usage: make_dev_llama.py OUT_DIR [--arch llama|qwen2] [--llama3-rope] [--tied]
           [--data tests/data/debian-descriptions-dev-subset.jsonl] [--vocab 768]
           [--tokenizer-from DIR]   (DIR's tokenizer.json and tokenizer_config.json instead of a
                                     trained one, e.g. a real model's, to test its vocabulary)
"""

import argparse
import collections
import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_np import write_safetensors  # noqa: E402

SPACE = "\u2581"
SPECIALS = ["<unk>", "<s>", "</s>"]


def words(text):
    """SentencePiece's view of text: spaces as U+2581, one prepended, split before each."""
    s = SPACE + text.replace(" ", SPACE)
    out, start = [], 0
    for i in range(1, len(s)):
        if s[i] == SPACE:
            out.append(s[start:i])
            start = i
    out.append(s[start:])
    return [w for w in out if w]


def train_bpe(texts, vocab_size):
    """Single characters seen at least twice, then the most frequent adjacent pair merged
    again and again (ties broken by the pair's text, so runs are deterministic)."""
    counts = collections.Counter(w for t in texts for w in words(t))
    chars = collections.Counter(c for w, n in counts.items() for c in w for _ in range(n))
    alphabet = sorted(c for c, n in chars.items() if n >= 2)
    base = SPECIALS + ["<0x%02X>" % b for b in range(256)] + alphabet
    vocab = {p: i for i, p in enumerate(base)}
    corpus = {tuple(w): n for w, n in counts.items()}
    merges = []
    while len(vocab) < vocab_size:
        pairs = collections.Counter()
        for symbols, n in corpus.items():
            for a, b in zip(symbols, symbols[1:]):
                pairs[(a, b)] += n
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        if best[0] + best[1] in vocab:  # already a piece: merge it, no new id
            merges.append(best)
        else:
            merges.append(best)
            vocab[best[0] + best[1]] = len(vocab)
        joined = best[0] + best[1]
        new_corpus = {}
        for symbols, n in corpus.items():
            out, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    out.append(joined)
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            new_corpus[tuple(out)] = new_corpus.get(tuple(out), 0) + n
        corpus = new_corpus
    return vocab, merges


def tokenizer_json(vocab, merges):
    """The structure of Llama-2's tokenizer.json (legacy normalizer, BPE with byte fallback)."""
    added = [{"id": i, "content": p, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": True} for i, p in enumerate(SPECIALS)]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": SPACE}, {"type": "Replace", "pattern": {"String": " "}, "content": SPACE}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": SPACE}, "content": " "}, {"type": "ByteFallback"},
            {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": [[a, b] for a, b in merges]},
    }


def model_config(args, vocab_size):
    config = {
        "architectures": ["Qwen2ForCausalLM" if args.arch == "qwen2" else "LlamaForCausalLM"],
        "model_type": args.arch, "vocab_size": vocab_size, "hidden_size": args.hidden,
        "intermediate_size": args.ffn, "num_hidden_layers": args.layers, "num_attention_heads": args.heads,
        "num_key_value_heads": args.kv_heads, "max_position_embeddings": 256, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": args.tied, "bos_token_id": 1,
        "eos_token_id": 2, "torch_dtype": "float32", "attention_bias": args.arch == "qwen2",
    }
    if args.llama3_rope:  # original context 64 puts the 8 frequencies of head_dim 16 in all three regimes
        config["rope_scaling"] = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                  "high_freq_factor": 4.0, "original_max_position_embeddings": 64}
    return config


def random_weights(config, rng):
    h, f, v = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    hd = h // config["num_attention_heads"]
    kv = config["num_key_value_heads"] * hd
    w = lambda *shape: (rng.normal(0, 1, shape) / np.sqrt(shape[-1])).astype(np.float32)
    norm = lambda: (1 + 0.1 * rng.normal(0, 1, h)).astype(np.float32)
    t = {"model.embed_tokens.weight": rng.normal(0, 1, (v, h)).astype(np.float32), "model.norm.weight": norm()}
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        t[p + "self_attn.q_proj.weight"] = w(h, h) * 2
        t[p + "self_attn.k_proj.weight"] = w(kv, h) * 2
        t[p + "self_attn.v_proj.weight"] = w(kv, h)
        t[p + "self_attn.o_proj.weight"] = w(h, h)
        t[p + "mlp.gate_proj.weight"] = w(f, h)
        t[p + "mlp.up_proj.weight"] = w(f, h)
        t[p + "mlp.down_proj.weight"] = w(h, f)
        t[p + "input_layernorm.weight"] = norm()
        t[p + "post_attention_layernorm.weight"] = norm()
        if config["attention_bias"]:
            for name, n in (("q_proj", h), ("k_proj", kv), ("v_proj", kv)):
                t[p + f"self_attn.{name}.bias"] = rng.normal(0, 0.5, n).astype(np.float32)
    if not config["tie_word_embeddings"]:
        t["lm_head.weight"] = w(v, h) * 4
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--arch", choices=["llama", "qwen2"], default="llama")
    ap.add_argument("--llama3-rope", action="store_true")
    ap.add_argument("--tied", action="store_true")
    ap.add_argument("--data", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                   "tests", "data", "debian-descriptions-dev-subset.jsonl"))
    ap.add_argument("--vocab", type=int, default=768)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--ffn", type=int, default=176)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--tokenizer-from")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.tokenizer_from:
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(os.path.join(args.tokenizer_from, name), os.path.join(args.out, name))
        with open(os.path.join(args.out, "tokenizer.json"), encoding="utf-8") as f:
            tok = json.load(f)
        vocab = {**tok["model"]["vocab"], **{a["content"]: a["id"] for a in tok.get("added_tokens", [])}}
        merges = tok["model"]["merges"]
    else:
        with open(args.data, encoding="utf-8") as f:
            texts = [json.loads(line)["text"] for line in f if line.strip()]
        vocab, merges = train_bpe(texts, args.vocab)
        with open(os.path.join(args.out, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(tokenizer_json(vocab, merges), f, ensure_ascii=False, indent=1)
        with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
            json.dump({"tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "add_eos_token": False,
                       "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "legacy": True,
                       "model_max_length": 256, "clean_up_tokenization_spaces": False}, f, indent=1)
    config = model_config(args, max(vocab.values()) + 1)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    write_safetensors(os.path.join(args.out, "model.safetensors"),
                      random_weights(config, np.random.default_rng(args.seed)))
    print(f"{args.out}: {config['architectures'][0]}, vocab {len(vocab)} ({len(merges)} merges)")


if __name__ == "__main__":
    main()
