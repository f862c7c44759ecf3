"""BERT for sequence classification in plain PyTorch, with Hugging Face's parameter names.

No `transformers` package exists on this machine, so the peers build the model here. The
module tree mirrors transformers' BertForSequenceClassification (bert.embeddings.*,
bert.encoder.layer.N.attention.self.query, ..., bert.pooler.dense, classifier), so its
state_dict() is exactly an HF checkpoint's tensor set and the forward is HF's in eval mode:
absolute positions, exact (erf) GELU, LayerNorm eps from the config, additive padding mask
of dtype-min. Also reads and writes the safetensors format by hand (8-byte little-endian
header length, JSON header, raw little-endian tensor bytes).
"""
import json
import math
import os
import struct

import numpy as np
import torch
from torch import nn


class BertConfig:
    def __init__(self, d):
        self.vocab_size = d["vocab_size"]
        self.hidden_size = d["hidden_size"]
        self.num_hidden_layers = d["num_hidden_layers"]
        self.num_attention_heads = d["num_attention_heads"]
        self.intermediate_size = d["intermediate_size"]
        self.max_position_embeddings = d["max_position_embeddings"]
        self.type_vocab_size = d["type_vocab_size"]
        self.layer_norm_eps = d["layer_norm_eps"]
        self.num_labels = len(d["id2label"])
        if d.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"config.json: hidden_act {d['hidden_act']!r}: only 'gelu' is modelled here")


class BertEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        # Not persistent: recent HF checkpoints do not store position_ids either.
        self.register_buffer("position_ids", torch.arange(c.max_position_embeddings).unsqueeze(0), persistent=False)

    def forward(self, input_ids, token_type_ids):
        positions = self.position_ids[:, : input_ids.shape[1]]
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids) + self.position_embeddings(positions)
        return self.LayerNorm(x)


class BertSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads = c.num_attention_heads
        self.head_dim = c.hidden_size // c.num_attention_heads
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)

    def split(self, x):
        b, s, _ = x.shape
        return x.view(b, s, self.heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, x, additive_mask):
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim) + additive_mask
        context = torch.matmul(torch.softmax(scores, dim=-1), v)
        b, _, s, _ = context.shape
        return context.permute(0, 2, 1, 3).reshape(b, s, self.heads * self.head_dim)


class BertDenseResidualNorm(nn.Module):
    """HF's BertSelfOutput / BertOutput: dense, then LayerNorm(dense(x) + residual)."""

    def __init__(self, c, in_features):
        super().__init__()
        self.dense = nn.Linear(in_features, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class BertAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = BertSelfAttention(c)
        self.output = BertDenseResidualNorm(c, c.hidden_size)

    def forward(self, x, additive_mask):
        return self.output(self.self(x, additive_mask), x)


class BertIntermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intermediate_size)

    def forward(self, x):
        return nn.functional.gelu(self.dense(x))


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = BertAttention(c)
        self.intermediate = BertIntermediate(c)
        self.output = BertDenseResidualNorm(c, c.intermediate_size)

    def forward(self, x, additive_mask):
        a = self.attention(x, additive_mask)
        return self.output(self.intermediate(a), a)


class BertEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(c) for _ in range(c.num_hidden_layers))

    def forward(self, x, additive_mask):
        for layer in self.layer:
            x = layer(x, additive_mask)
        return x


class BertPooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)

    def forward(self, x):
        return torch.tanh(self.dense(x[:, 0]))


class BertModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = BertEmbeddings(c)
        self.encoder = BertEncoder(c)
        self.pooler = BertPooler(c)

    def forward(self, input_ids, attention_mask, token_type_ids):
        x = self.embeddings(input_ids, token_type_ids)
        dtype = x.dtype
        additive_mask = (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
        return self.pooler(self.encoder(x, additive_mask))


class BertForSequenceClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bert = BertModel(c)
        self.classifier = nn.Linear(c.hidden_size, c.num_labels)

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.classifier(self.bert(input_ids, attention_mask, token_type_ids))


def write_safetensors(path, tensors):
    """tensors: name -> float32 numpy array (C order). Names are stored sorted."""
    header, offset = {}, 0
    names = sorted(tensors)
    for name in names:
        a = tensors[name]
        if a.dtype != np.float32:
            raise TypeError(f"{name}: {a.dtype}, expected float32")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    header["__metadata__"] = {"format": "pt"}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # keeps the data 8-byte aligned, as HF's writer does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for name in names:
            f.write(np.ascontiguousarray(tensors[name]).astype("<f4", copy=False).tobytes())


def read_safetensors(path):
    """name -> float32 numpy array; F32 only (the files make_bert_base.py writes)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name}: dtype {t['dtype']} not supported here")
        begin, end = t["data_offsets"]
        out[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(t["shape"])
    return out


def load_checkpoint(directory):
    """BertForSequenceClassification in eval mode from an HF directory (config.json + model.safetensors)."""
    with open(f"{directory}/config.json") as f:
        config = BertConfig(json.load(f))
    model = BertForSequenceClassification(config)
    state = {k: torch.from_numpy(v.copy()) for k, v in read_safetensors(f"{directory}/model.safetensors").items()}
    model.load_state_dict(state, strict=True)
    return model.eval()


def export_onnx(model, path, opset):
    """The model as ONNX at `path` (written to PATH.tmp, then renamed): inputs input_ids,
    attention_mask, token_type_ids with dynamic batch and sequence axes, output logits. The
    example input only drives the trace; BERT's graph does not depend on its values."""
    x = torch.ones((2, 16), dtype=torch.long)
    axes = {n: {0: "batch", 1: "sequence"} for n in ("input_ids", "attention_mask", "token_type_ids")}
    with torch.no_grad():
        torch.onnx.export(model, (x, torch.ones_like(x), torch.zeros_like(x)), path + ".tmp",
                          input_names=list(axes), output_names=["logits"], opset_version=opset,
                          do_constant_folding=True, dynamic_axes=axes | {"logits": {0: "batch"}})
    os.replace(path + ".tmp", path)
