#!/usr/bin/python3
"""Exports a Hugging Face Llama checkpoint to karpathy/llama2.c's checkpoint formats, and its
tokenizer.json to llama2.c's tokenizer.bin. Layouts as llama2.c's export.py writes them and
run.c / runq.c read them (re-implemented here from those descriptions):

- version 0 (legacy, run.c): 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
  vocab_size, max_seq_len), vocab_size negative when the classifier is not the embedding;
  then f32: token embedding, every layer's attention norm, wq, wk, wv, wo, ffn norm, w1 (gate),
  w2 (down), w3 (up), each group over all layers; the final norm; the RoPE cos and sin tables
  (max_seq_len x head_size/2 each; run.c skips them); the classifier unless shared.
- version 1: a 256-byte header (uint32 magic 0x616b3432 "ak42", int32 version, the 7 ints
  with a positive vocab_size, uint8 shared_classifier, zeros), then f32: attention norms,
  ffn norms, final norm, embedding, wq, wk, wv, wo, w1, w2, w3, [classifier].
- version 2 (runq.c): the version-1 header plus int32 group_size; f32 attention, ffn and final
  norms; then int8 values of embedding, wq, wk, wv, wo, w1, w2, w3, [classifier], each
  quantized symmetrically per group (scale = max|w| / 127, q = round(w / scale), ties to
  even as torch.round), each tensor (each layer's on its own) followed by its f32 scales, as
  runq.c reads them. The group size starts
  at --group-size and halves until it divides dim.

wq and wk rows are moved from HF's half-split RoPE layout back to Meta's pairwise one
(llama_rope.hf_to_interleaved), which run.c's RoPE rotates. run.c knows only RoPE theta
10000 without scaling, head_size = dim / n_heads and no biases: anything else is refused.

tokenizer.bin: uint32 max_token_length, then per id float32 score, int32 byte length, the
piece's UTF-8 bytes with U+2581 turned into a space; <s> and </s> written as "\\n<s>\\n" and
"\\n</s>\\n" as llama2.c's tokenizer.py does; <0xXX> byte pieces kept as text (run.c decodes
them, and encodes an unknown byte b as id b + 3). Scores as in sp_vocab (merge rank), which
is what run.c's merge loop ranks by.

Usage: llama2c_export.py HF_DIR OUT.bin [--version 0|1|2] [--group-size 64] [--tokenizer OUT_TOKENIZER.bin]
"""

import argparse
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_checkpoint import load_checkpoint  # noqa: E402
from llama_rope import hf_to_interleaved, inverse_frequencies, rope_scaling_type  # noqa: E402
from sp_vocab import load_sp_vocab  # noqa: E402

MAGIC = 0x616B3432  # "ak42"
HEADER_BYTES = 256


def check_supported(cfg):
    problems = []
    if cfg.architecture != "LlamaForCausalLM":
        problems.append(f"architecture {cfg.architecture} (run.c has no attention biases)")
    if cfg.head_dim * cfg.heads != cfg.hidden:
        problems.append(f"head_dim {cfg.head_dim} != hidden / heads")
    if cfg.rope_theta != 10000.0:
        problems.append(f"rope_theta {cfg.rope_theta} (run.c uses 10000)")
    if rope_scaling_type(cfg.rope_scaling) not in ("none", "default"):
        problems.append(f"rope scaling {rope_scaling_type(cfg.rope_scaling)}")
    if problems:
        raise ValueError("llama2.c cannot run this model: " + "; ".join(problems))
    if cfg.rms_eps != 1e-5:
        print(f"warning: run.c's RMSNorm uses eps 1e-5, the model {cfg.rms_eps}", file=sys.stderr)


def model_weights(cfg, t):
    """The weights under llama2.c's names, each a list over layers where it is per layer."""
    f = lambda name: np.asarray(t[name], dtype=np.float32)
    layer = lambda name: [f(f"model.layers.{i}.{name}") for i in range(cfg.layers)]
    return {
        "embedding": f("model.embed_tokens.weight"),
        "attention_norm": layer("input_layernorm.weight"),
        "wq": [hf_to_interleaved(w, cfg.heads) for w in layer("self_attn.q_proj.weight")],
        "wk": [hf_to_interleaved(w, cfg.kv_heads) for w in layer("self_attn.k_proj.weight")],
        "wv": layer("self_attn.v_proj.weight"), "wo": layer("self_attn.o_proj.weight"),
        "ffn_norm": layer("post_attention_layernorm.weight"),
        "w1": layer("mlp.gate_proj.weight"), "w2": layer("mlp.down_proj.weight"), "w3": layer("mlp.up_proj.weight"),
        "final_norm": f("model.norm.weight"),
        "classifier": None if cfg.tied_embeddings else f("lm_head.weight"),
    }


def params(cfg, vocab_size):
    return struct.pack("<7i", cfg.hidden, cfg.ffn, cfg.layers, cfg.heads, cfg.kv_heads, vocab_size, cfg.max_seq_len)


def flat(*arrays):
    """f32 bytes of the arrays (lists of per-layer arrays flattened in layer order)."""
    out = []
    for a in arrays:
        out += a if isinstance(a, list) else [a]
    return b"".join(np.ascontiguousarray(x, dtype="<f4").tobytes() for x in out)


def rope_tables(cfg):
    angles = np.outer(np.arange(cfg.max_seq_len, dtype=np.float64), inverse_frequencies(cfg.head_dim, cfg.rope_theta))
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


def write_legacy(f, cfg, w):
    shared = w["classifier"] is None
    f.write(params(cfg, cfg.vocab_size if shared else -cfg.vocab_size))
    cos, sin = rope_tables(cfg)
    f.write(flat(w["embedding"], w["attention_norm"], w["wq"], w["wk"], w["wv"], w["wo"], w["ffn_norm"],
                 w["w1"], w["w2"], w["w3"], w["final_norm"], cos, sin))
    if not shared:
        f.write(flat(w["classifier"]))


def header(cfg, w, version, extra=b""):
    head = struct.pack("<Ii", MAGIC, version) + params(cfg, cfg.vocab_size)
    head += struct.pack("<B", int(w["classifier"] is None)) + extra
    return head + bytes(HEADER_BYTES - len(head))


def write_v1(f, cfg, w):
    f.write(header(cfg, w, 1))
    f.write(flat(w["attention_norm"], w["ffn_norm"], w["final_norm"], w["embedding"], w["wq"], w["wk"], w["wv"],
                 w["wo"], w["w1"], w["w2"], w["w3"]))
    if w["classifier"] is not None:
        f.write(flat(w["classifier"]))


def quantize_groups(x, group_size):
    """llama2.c's Q8_0: int8 round(w / s) with s = max|w| / 127 per group (an all-zero group
    gets scale 0 and zeros rather than the NaNs a division would give)."""
    g = np.asarray(x, dtype=np.float32).reshape(-1, group_size)
    scale = np.abs(g).max(axis=1) / np.float32(127.0)
    safe = np.where(scale == 0, np.float32(1), scale)
    return np.round(g / safe[:, None]).astype(np.int8), scale.astype(np.float32)


def write_v2(f, cfg, w, group_size):
    while cfg.hidden % group_size:
        group_size //= 2
    quantized = [w["embedding"]] + w["wq"] + w["wk"] + w["wv"] + w["wo"] + w["w1"] + w["w2"] + w["w3"]
    if w["classifier"] is not None:
        quantized.append(w["classifier"])
    for q in quantized:
        if q.size % group_size:
            raise ValueError(f"a weight of shape {q.shape} is not a whole number of groups of {group_size}")
    f.write(header(cfg, w, 2, struct.pack("<i", group_size)))
    f.write(flat(w["attention_norm"], w["ffn_norm"], w["final_norm"]))
    # runq.c's init_quantized_tensors reads each tensor (each layer's, one by one) as its int8
    # values followed by its own scales.
    for q in quantized:
        values, scale = quantize_groups(q, group_size)
        f.write(values.tobytes())
        f.write(flat([scale]))


def tokenizer_bin(vocab):
    pieces = []
    for i, piece in enumerate(vocab.pieces):
        if i == vocab.bos_id:
            piece = "\n<s>\n"
        elif i == vocab.eos_id:
            piece = "\n</s>\n"
        pieces.append(piece.replace("\u2581", " ").encode("utf-8"))
    out = [struct.pack("<I", max(len(p) for p in pieces))]
    for piece, score in zip(pieces, vocab.scores):
        out.append(struct.pack("<fi", score, len(piece)) + piece)
    return b"".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("hf_dir")
    ap.add_argument("out")
    ap.add_argument("--version", type=int, default=0, choices=[0, 1, 2])
    ap.add_argument("--group-size", type=int, default=64)
    ap.add_argument("--tokenizer", help="also write llama2.c's tokenizer.bin here")
    args = ap.parse_args()
    cfg, _, tensors = load_checkpoint(args.hf_dir)
    check_supported(cfg)
    w = model_weights(cfg, tensors)
    with open(args.out, "wb") as f:
        if args.version == 0:
            write_legacy(f, cfg, w)
        elif args.version == 1:
            write_v1(f, cfg, w)
        else:
            write_v2(f, cfg, w, args.group_size)
    print(f"{args.out}: llama2.c version {args.version}, {os.path.getsize(args.out)} bytes")
    if args.tokenizer:
        vocab = load_sp_vocab(os.path.join(args.hf_dir, "tokenizer.json"))
        if len(vocab.pieces) != cfg.vocab_size:
            raise ValueError(f"tokenizer has {len(vocab.pieces)} pieces, the model {cfg.vocab_size}")
        with open(args.tokenizer, "wb") as f:
            f.write(tokenizer_bin(vocab))
        print(f"{args.tokenizer}: {len(vocab.pieces)} pieces")


if __name__ == "__main__":
    main()
