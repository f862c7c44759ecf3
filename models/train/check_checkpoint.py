#!/usr/bin/python3
"""Checks a checkpoint directory written by train_classifier.py, independently of bert_model.py's
forward: parses model.safetensors by hand, runs a float64 numpy forward written from Hugging Face
BertForSequenceClassification's definition (embeddings + LayerNorm, post-LN layers, erf GELU,
tanh pooler on [CLS], classifier) on N dev documents, and compares its predictions with the
torch model's; prints per-tensor exact-zero fractions of the encoder linear weights.

Run: /usr/bin/python3 models/train/check_checkpoint.py DIR [--data dev.jsonl] [--n 200]
"""

import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bert_tokenizer as bt  # noqa: E402
from bert_model import BertForSequenceClassification, encoder_linear_weights  # noqa: E402

_erf = np.vectorize(math.erf)


def load_weights(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    return {k: np.frombuffer(data[h["data_offsets"][0]:h["data_offsets"][1]], "<f4").reshape(h["shape"])
            .astype(np.float64) for k, h in header.items()}


def layer_norm(x, w, b, eps):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * w + b


def forward(W, cfg, ids):
    eps, nh = cfg["layer_norm_eps"], cfg["num_attention_heads"]
    lin = lambda x, n: x @ W[n + ".weight"].T + W[n + ".bias"]  # noqa: E731
    x = W["bert.embeddings.word_embeddings.weight"][ids] + \
        W["bert.embeddings.position_embeddings.weight"][:len(ids)] + \
        W["bert.embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, W["bert.embeddings.LayerNorm.weight"], W["bert.embeddings.LayerNorm.bias"], eps)
    t, h = x.shape
    dh = h // nh
    for i in range(cfg["num_hidden_layers"]):
        p = f"bert.encoder.layer.{i}."
        q, k, v = (lin(x, p + "attention.self." + n).reshape(t, nh, dh).transpose(1, 0, 2)
                   for n in ("query", "key", "value"))
        s = q @ k.transpose(0, 2, 1) / math.sqrt(dh)
        s = np.exp(s - s.max(-1, keepdims=True))
        ctx = (s / s.sum(-1, keepdims=True) @ v).transpose(1, 0, 2).reshape(t, h)
        a = layer_norm(lin(ctx, p + "attention.output.dense") + x, W[p + "attention.output.LayerNorm.weight"],
                       W[p + "attention.output.LayerNorm.bias"], eps)
        u = lin(a, p + "intermediate.dense")
        u = 0.5 * u * (1.0 + _erf(u / math.sqrt(2.0)))
        x = layer_norm(lin(u, p + "output.dense") + a, W[p + "output.LayerNorm.weight"],
                       W[p + "output.LayerNorm.bias"], eps)
    pooled = np.tanh(lin(x[0], "bert.pooler.dense"))
    return lin(pooled, "classifier")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--data", default="/work/shared/data/debian-descriptions/dev.jsonl")
    ap.add_argument("--n", type=int, default=200)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = json.load(open(os.path.join(args.dir, "config.json")))
    W = load_weights(os.path.join(args.dir, "model.safetensors"))
    model = BertForSequenceClassification(cfg)
    model.load_state_dict({k: torch.tensor(v, dtype=torch.float32) for k, v in W.items()})
    model.eval()
    with open(os.path.join(args.dir, "vocab.txt"), encoding="utf-8") as f:
        wp = bt.WordPiece(line.rstrip("\n") for line in f)
    label2id = cfg["label2id"]
    agree = correct = 0
    max_diff = 0.0
    with open(args.data, encoding="utf-8") as f:
        docs = [json.loads(next(f)) for _ in range(args.n)]
    for d in docs:
        ids = wp.encode(d["text"], cfg["max_position_embeddings"])
        ref = forward(W, cfg, np.array(ids))
        with torch.no_grad():
            got = model(torch.tensor([ids]))[0].double().numpy()
        max_diff = max(max_diff, float(np.abs(ref - got).max()))
        agree += int(ref.argmax() == got.argmax())
        correct += int(ref.argmax() == label2id[d["label"]])
    print(json.dumps({"documents": len(docs), "prediction_agreement": agree / len(docs),
                      "max_abs_logit_diff": max_diff, "numpy_accuracy": correct / len(docs)}))
    for n, p in encoder_linear_weights(model).items():
        print(f"{n}: {float((p == 0).float().mean()):.4f} zeros")


if __name__ == "__main__":
    main()
