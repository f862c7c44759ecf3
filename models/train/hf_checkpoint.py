"""A Hugging Face decoder checkpoint directory as numpy: config.json plus the weights of
model.safetensors or of the shards listed in model.safetensors.index.json, and the
hyper-parameters the exporters need under one set of names (with HF's defaults)."""

import json
import os
from dataclasses import dataclass, field

from safetensors_np import read_safetensors

SUPPORTED_ARCHITECTURES = ("LlamaForCausalLM", "Qwen2ForCausalLM")


@dataclass
class DecoderConfig:
    architecture: str
    vocab_size: int
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    max_seq_len: int
    rms_eps: float
    rope_theta: float
    rope_scaling: dict = field(default_factory=dict)
    tied_embeddings: bool = False


def decoder_config(config):
    arch = (config.get("architectures") or ["?"])[0]
    if arch not in SUPPORTED_ARCHITECTURES:
        raise ValueError(f"architecture {arch} is not supported (only {', '.join(SUPPORTED_ARCHITECTURES)})")
    heads = config["num_attention_heads"]
    return DecoderConfig(
        architecture=arch, vocab_size=config["vocab_size"], hidden=config["hidden_size"],
        layers=config["num_hidden_layers"], heads=heads, kv_heads=config.get("num_key_value_heads") or heads,
        head_dim=config.get("head_dim") or config["hidden_size"] // heads, ffn=config["intermediate_size"],
        max_seq_len=config.get("max_position_embeddings", 2048), rms_eps=config.get("rms_norm_eps", 1e-6),
        rope_theta=config.get("rope_theta", 10000.0), rope_scaling=config.get("rope_scaling") or {},
        tied_embeddings=config.get("tie_word_embeddings", False))


def load_checkpoint(directory):
    """(DecoderConfig, raw config dict, name -> numpy array)."""
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    index = os.path.join(directory, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
    else:
        shards = ["model.safetensors"]
    tensors = {}
    for shard in shards:
        tensors.update(read_safetensors(os.path.join(directory, shard)))
    cfg = decoder_config(config)
    if "lm_head.weight" not in tensors:
        cfg.tied_embeddings = True  # HF omits lm_head when it is the embedding
    return cfg, config, tensors
