#!/usr/bin/python3
"""Exports a Hugging Face Llama-family checkpoint (LlamaForCausalLM; Qwen2ForCausalLM with its
q/k/v biases) to a GGUF v3 file llama.cpp loads: the hyper-parameters under llama.cpp's keys,
the SentencePiece-BPE vocabulary of tokenizer.json as tokenizer.ggml.model "llama", and the
tensors under llama.cpp's names in F32, F16, Q8_0 or Q4_0.

What llama.cpp expects and this follows (from its GGUF key and tensor tables and the
conversion rules of its convert_hf_to_gguf.py, re-implemented here):
- q and k rows of a Llama are permuted from HF's half-split RoPE layout to the pairwise one
  llama.cpp's "NORM" RoPE uses (llama_rope.hf_to_interleaved); Qwen2 runs NEOX RoPE, which
  is HF's layout, so nothing moves.
- llama3 RoPE scaling is a `rope_freqs.weight` tensor of per-pair frequency divisors;
  linear scaling is rope.scaling.type/factor.
- 1-D tensors (norms, biases, rope_freqs) stay F32; a 2-D weight whose rows are not a whole
  number of 32-value blocks falls back to F16. Every other 2-D weight, token_embd and output
  included, takes the requested type (llama-quantize would keep output at Q6_K for Q4_0).
- A tied output (no lm_head, or tie_word_embeddings) writes no output.weight: llama.cpp then
  uses token_embd.
- The vocabulary is padded to the model's vocab_size with unused [PAD<id>] pieces.

Usage: gguf_export.py HF_DIR OUT.gguf [--type f32|f16|q8_0|q4_0] [--name NAME]
"""

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "formats", "python"))
from ggml_quants import BLOCK, quantize  # noqa: E402
from gguf_writer import ARRAY, BOOL, F32, I32, STRING, U32, write_gguf  # noqa: E402
from hf_checkpoint import load_checkpoint  # noqa: E402
from llama_rope import hf_to_interleaved, llama3_frequency_divisors, rope_scaling_type  # noqa: E402
from sp_vocab import UNUSED, load_sp_vocab  # noqa: E402

GGUF_ARCH = {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2"}
# llama.cpp's llama_ftype for the whole file (general.file_type).
FILE_TYPE = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 7}
LAYER_TENSORS = {  # HF name inside model.layers.N -> llama.cpp name inside blk.N
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
}
TOP_TENSORS = {"model.embed_tokens": "token_embd", "model.norm": "output_norm", "lm_head": "output"}


def gguf_name(hf_name):
    """llama.cpp's name for an HF parameter, or None for what llama.cpp does not use."""
    stem, _, kind = hf_name.rpartition(".")
    if stem in TOP_TENSORS:
        return f"{TOP_TENSORS[stem]}.{kind}"
    parts = stem.split(".")
    if parts[:2] == ["model", "layers"] and ".".join(parts[3:]) in LAYER_TENSORS:
        return f"blk.{parts[2]}.{LAYER_TENSORS['.'.join(parts[3:])]}.{kind}"
    if stem.endswith("rotary_emb"):
        return None
    raise ValueError(f"tensor {hf_name}: no llama.cpp equivalent known")


def storage_type(values, requested):
    if values.ndim == 1:
        return "F32"
    if requested in ("Q8_0", "Q4_0") and values.shape[-1] % BLOCK[requested][0]:
        return "F16"
    return requested


def hparams(cfg, arch, vocab_size):
    a = arch + "."
    meta = [(a + "vocab_size", U32, vocab_size), (a + "context_length", U32, cfg.max_seq_len),
            (a + "embedding_length", U32, cfg.hidden), (a + "block_count", U32, cfg.layers),
            (a + "feed_forward_length", U32, cfg.ffn), (a + "attention.head_count", U32, cfg.heads),
            (a + "attention.head_count_kv", U32, cfg.kv_heads),
            (a + "attention.layer_norm_rms_epsilon", F32, cfg.rms_eps), (a + "rope.freq_base", F32, cfg.rope_theta),
            (a + "rope.dimension_count", U32, cfg.head_dim)]
    if cfg.head_dim * cfg.heads != cfg.hidden:
        meta += [(a + "attention.key_length", U32, cfg.head_dim), (a + "attention.value_length", U32, cfg.head_dim)]
    scaling = rope_scaling_type(cfg.rope_scaling)
    if scaling == "linear":
        meta += [(a + "rope.scaling.type", STRING, "linear"),
                 (a + "rope.scaling.factor", F32, cfg.rope_scaling["factor"])]
    elif scaling not in ("none", "default", "llama3"):
        raise ValueError(f"rope scaling {scaling} is not supported (linear and llama3 are)")
    return meta


def tokenizer_metadata(vocab, vocab_size):
    if len(vocab.pieces) > vocab_size:
        raise ValueError(f"tokenizer.json has {len(vocab.pieces)} pieces, the model only {vocab_size} rows")
    pad = range(len(vocab.pieces), vocab_size)
    return [
        ("tokenizer.ggml.model", STRING, "llama"),
        ("tokenizer.ggml.tokens", ARRAY, (STRING, vocab.pieces + [f"[PAD{i}]" for i in pad])),
        ("tokenizer.ggml.scores", ARRAY, (F32, vocab.scores + [-1000.0] * len(pad))),
        ("tokenizer.ggml.token_type", ARRAY, (I32, vocab.types + [UNUSED] * len(pad))),
        ("tokenizer.ggml.bos_token_id", U32, vocab.bos_id), ("tokenizer.ggml.eos_token_id", U32, vocab.eos_id),
        ("tokenizer.ggml.unknown_token_id", U32, vocab.unk_id),
        ("tokenizer.ggml.add_bos_token", BOOL, int(vocab.add_bos)),
        ("tokenizer.ggml.add_eos_token", BOOL, int(vocab.add_eos)),
        ("tokenizer.ggml.add_space_prefix", BOOL, int(vocab.add_space_prefix)),
    ]


def export_tensors(cfg, tensors, arch, requested):
    """[(gguf name, ggml type, dims fastest first, callable giving the bytes)] in llama.cpp's order."""
    out = []

    def add(name, values, tname=None):
        tname = tname or storage_type(values, requested)
        dims = list(reversed(values.shape))
        out.append((name, tname, dims, lambda: quantize(tname, np.asarray(values, dtype=np.float32))))

    if rope_scaling_type(cfg.rope_scaling) == "llama3":
        add("rope_freqs.weight", llama3_frequency_divisors(cfg.head_dim, cfg.rope_theta, cfg.rope_scaling), "F32")
    for hf_name in sorted(tensors, key=lambda n: (n.startswith("model.layers."), layer_index(n), n)):
        name = gguf_name(hf_name)
        if name is None or (name.startswith("output.") and cfg.tied_embeddings):
            continue
        values = tensors[hf_name]
        if arch == "llama" and name.split(".")[2:3] in (["attn_q"], ["attn_k"]):
            heads = cfg.heads if ".attn_q." in name else cfg.kv_heads
            values = hf_to_interleaved(np.asarray(values, dtype=np.float32), heads)
        add(name, values)
    return out


def layer_index(hf_name):
    parts = hf_name.split(".")
    return int(parts[2]) if parts[:2] == ["model", "layers"] else -1


def file_metadata(cfg, vocab, requested, name):
    """Every key/value of a GGUF decoder file: general.*, the hyper-parameters, the vocabulary."""
    arch = GGUF_ARCH[cfg.architecture]
    metadata = [("general.architecture", STRING, arch), ("general.name", STRING, name),
                ("general.file_type", U32, FILE_TYPE[requested])]
    if requested in ("Q8_0", "Q4_0"):
        metadata.append(("general.quantization_version", U32, 2))
    return metadata + hparams(cfg, arch, cfg.vocab_size) + tokenizer_metadata(vocab, cfg.vocab_size)


def export(hf_dir, out_path, requested, name=None):
    cfg, _, tensors = load_checkpoint(hf_dir)
    vocab = load_sp_vocab(os.path.join(hf_dir, "tokenizer.json"), os.path.join(hf_dir, "tokenizer_config.json"))
    metadata = file_metadata(cfg, vocab, requested, name or os.path.basename(os.path.normpath(hf_dir)))
    write_gguf(out_path, 3, metadata, export_tensors(cfg, tensors, GGUF_ARCH[cfg.architecture], requested))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("hf_dir")
    ap.add_argument("out")
    ap.add_argument("--type", default="f16", choices=["f32", "f16", "q8_0", "q4_0"])
    ap.add_argument("--name")
    args = ap.parse_args()
    export(args.hf_dir, args.out, args.type.upper(), args.name)
    print(f"{args.out}: {os.path.getsize(args.out)} bytes")


if __name__ == "__main__":
    main()
