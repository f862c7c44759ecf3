#!/usr/bin/python3
"""Writes random-weight GGUF files shaped like TinyLlama-1.1B (22 layers, hidden 2048, 32
heads, 4 KV heads, FFN 5632, vocabulary 32000, context 2048) in Q4_0, Q8_0 and F16, for
benchmarking llama.cpp (bench/llama_cpp_peer.mjs) and sparq on the same shapes without
downloading a model. Speed, not text, is what they are for: weights are N(0, 0.02) and the
vocabulary is a stand-in with Llama-2's structure (<unk>, <s>, </s>, the 256 <0xXX> byte
pieces, then made-up pieces) that llama.cpp's SentencePiece tokenizer loads.

Metadata and tensor layout come from models/train/gguf_export.py, the same code that exports
real checkpoints. Weights are drawn tensor by tensor while the file is written (never all in
memory) from one seed, so the three files hold the same model.

Usage: make_tinyllama_gguf.py OUT_DIR [--types q4_0,q8_0,f16] [--layers 22]
  writes OUT_DIR/tinyllama-1.1b-random-<type>.gguf
"""

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "models", "train"))
sys.path.insert(0, os.path.join(HERE, "..", "formats", "python"))
from ggml_quants import quantize  # noqa: E402
from gguf_export import file_metadata, storage_type  # noqa: E402
from gguf_writer import write_gguf  # noqa: E402
from hf_checkpoint import DecoderConfig  # noqa: E402
from sp_vocab import BYTE, CONTROL, NORMAL, UNKNOWN, SpVocab  # noqa: E402

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def tinyllama_config(layers):
    return DecoderConfig(architecture="LlamaForCausalLM", vocab_size=32000, hidden=2048, layers=layers, heads=32,
                         kv_heads=4, head_dim=64, ffn=5632, max_seq_len=2048, rms_eps=1e-5, rope_theta=10000.0)


def stand_in_vocab(size):
    """Specials, bytes, then '▁'-prefixed letter strings, each distinct, scored by position."""
    pieces = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)]
    types = [UNKNOWN, CONTROL, CONTROL] + [BYTE] * 256
    i = 0
    while len(pieces) < size:
        word, n = "", i
        while True:
            word = LETTERS[n % 26] + word
            n = n // 26 - 1
            if n < 0:
                break
        pieces.append("\u2581" + word)
        types.append(NORMAL)
        i += 1
    scores = [0.0] * 259 + [-float(k) for k in range(size - 259)]
    return SpVocab(pieces=pieces, scores=scores, types=types, bos_id=1, eos_id=2, unk_id=0, add_bos=True,
                   add_eos=False, add_space_prefix=True)


def random_tensors(cfg, requested, seed):
    """llama.cpp's tensors in file order, each drawn from its own seed when it is written."""
    kv = cfg.kv_heads * cfg.head_dim
    shapes = [("token_embd.weight", (cfg.vocab_size, cfg.hidden))]
    for i in range(cfg.layers):
        b = f"blk.{i}."
        shapes += [(b + "attn_norm.weight", (cfg.hidden,)), (b + "attn_q.weight", (cfg.hidden, cfg.hidden)),
                   (b + "attn_k.weight", (kv, cfg.hidden)), (b + "attn_v.weight", (kv, cfg.hidden)),
                   (b + "attn_output.weight", (cfg.hidden, cfg.hidden)), (b + "ffn_norm.weight", (cfg.hidden,)),
                   (b + "ffn_gate.weight", (cfg.ffn, cfg.hidden)), (b + "ffn_up.weight", (cfg.ffn, cfg.hidden)),
                   (b + "ffn_down.weight", (cfg.hidden, cfg.ffn))]
    shapes += [("output_norm.weight", (cfg.hidden,)), ("output.weight", (cfg.vocab_size, cfg.hidden))]
    out = []
    for index, (name, shape) in enumerate(shapes):
        tname = "F32" if len(shape) == 1 else storage_type(np.empty((1, shape[-1])), requested)

        def data(index=index, shape=shape, tname=tname):
            rng = np.random.default_rng([seed, index])
            if len(shape) == 1:
                values = np.ones(shape, np.float32)  # RMSNorm gains
            else:
                values = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)
            return quantize(tname, values)

        out.append((name, tname, list(reversed(shape)), data))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--types", default="q4_0,q8_0,f16")
    ap.add_argument("--layers", type=int, default=22)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    cfg = tinyllama_config(args.layers)
    vocab = stand_in_vocab(cfg.vocab_size)
    for t in args.types.split(","):
        requested = t.strip().upper()
        path = os.path.join(args.out_dir, f"tinyllama-1.1b-random-{t.strip().lower()}.gguf")
        metadata = file_metadata(cfg, vocab, requested, f"TinyLlama-1.1B-shaped random ({requested})")
        write_gguf(path, 3, metadata, random_tensors(cfg, requested, args.seed))
        print(f"{path}: {os.path.getsize(path) / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
