#!/usr/bin/python3
"""Builds the encoder classifier every peer runs, from one deterministic seed, in one of two
shapes: BERT-base (12 x 768, 12 heads, FFN 3072) or MiniLM-L6 (6 x 384, 12 heads, FFN 1536).

  bench/peers/make_bert_base.py [--shape bert-base|minilm-l6] [--out build/peers] [--seed 0] [--force]

Writes into --out, every name prefixed by the shape (NAME below; large: ~440 MB per BERT-base
copy, so keep it outside the git tree):
  NAME/                Hugging Face layout: config.json (BertForSequenceClassification,
                       id2label), model.safetensors (F32, written by hand), tokenizer.json
                       (WordPiece, 30522-entry vocab)
  NAME-sparse90/       the same weights with every attention and FFN linear weight (query,
                       key, value, attention output, intermediate, output) pruned to 90 %
                       sparsity in 4x4 blocks: the blocks of smallest L2 norm are zeroed
  NAME.onnx            the dense model exported by torch.onnx.export (FP32, dynamic batch
                       and sequence axes; inputs input_ids, attention_mask, token_type_ids;
                       output logits)
  NAME-onnx_check.json a padded batch and the PyTorch logits for it; ort_bench.mjs --check
                       runs the ONNX model on it and reports the max abs difference
  NAME-texts.jsonl,    texts made of whole vocabulary words (so their token ids are known
  NAME-texts_logits.json  without a tokenizer) and the PyTorch logits of both checkpoints for
                       them, for checking sparq's answers on the same model, with PyTorch
                       dynamic INT8's max abs logit error on them as the yardstick for q8

Weights: N(0, 0.02) like HF's initializer for matrices and embeddings, small random biases
and LayerNorm parameters near (1, 0) so no term of the forward is trivially zero.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bert_torch  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PRUNED_LINEARS = ("attention.self.query", "attention.self.key", "attention.self.value",
                  "attention.output.dense", "intermediate.dense", "output.dense")
BLOCK = 4
SPARSITY = 0.9

CONFIG = {
    "architectures": ["BertForSequenceClassification"],
    "attention_probs_dropout_prob": 0.1,
    "classifier_dropout": None,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 768,
    "id2label": {"0": "NEGATIVE", "1": "POSITIVE"},
    "label2id": {"NEGATIVE": 0, "POSITIVE": 1},
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": 512,
    "model_type": "bert",
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "pad_token_id": 0,
    "position_embedding_type": "absolute",
    "torch_dtype": "float32",
    "type_vocab_size": 2,
    "use_cache": True,
    "vocab_size": 30522,
}
# The shapes benchmarked (issue 20 names both): layers, hidden, heads, FFN; the rest as CONFIG.
SHAPES = {"bert-base": (12, 768, 12, 3072), "minilm-l6": (6, 384, 12, 1536)}


def config_of(shape):
    layers, hidden, heads, ffn = SHAPES[shape]
    return dict(CONFIG, num_hidden_layers=layers, hidden_size=hidden, num_attention_heads=heads,
                intermediate_size=ffn)


WORDS = ("the of and to in is was for on that with as by at from it an be this which or are "
         "not have has had but were one all they their there been if more when will would who "
         "so no out up into do only new other some could time these two may first then any "
         "like my now over such our man me even most made after also did many before must "
         "through back years where much your way well down should because each just those "
         "people how too little state good very make world still own see men work long get "
         "here between both life being under never day same another know while last might us "
         "great old year off come since against go came right used take three model fast "
         "document server memory sparse quantized batch token latency throughput cpu query "
         "answer report engine review service delivery product quality support excellent poor "
         "terrible wonderful slow broken happy sad price order refund customer").split()


def build_vocab(size):
    """A BERT-uncased-shaped vocabulary: special tokens at their usual ids, characters and
    their ##continuations, whole words, then [unusedN] filler up to `size` entries."""
    vocab = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = [chr(c) for c in range(33, 127) if not chr(c).isupper()]
    vocab += chars + ["##" + c for c in chars if c.isalnum()]
    vocab += [w for w in dict.fromkeys(WORDS) if w not in vocab]
    n = 99
    while len(vocab) < size:
        vocab.append(f"[unused{n}]")
        n += 1
    return vocab


def tokenizer_json(vocab):
    special = {t: vocab.index(t) for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")}
    cls, sep = special["[CLS]"], special["[SEP]"]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for t, i in sorted(special.items(), key=lambda x: x[1])],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [cls], "tokens": ["[CLS]"]},
                               "[SEP]": {"id": "[SEP]", "ids": [sep], "tokens": ["[SEP]"]}},
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": {t: i for i, t in enumerate(vocab)}},
    }


def random_state(model, seed):
    """Deterministic parameters, drawn in state_dict order from one generator."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for name, p in model.state_dict().items():
        t = 0.02 * torch.randn(p.shape, generator=g)
        if name.endswith("LayerNorm.weight"):
            t = 1.0 + 2.5 * t
        state[name] = t.float()
    return state


def prune_blocks(w, sparsity, block):
    """Zeroes the block x block tiles of smallest L2 norm: exactly round(sparsity * tiles)."""
    rows, cols = w.shape
    if rows % block or cols % block:
        raise ValueError(f"shape {w.shape} not a multiple of {block}")
    tiles = w.reshape(rows // block, block, cols // block, block)
    norms = np.sqrt((tiles.astype(np.float64) ** 2).sum(axis=(1, 3))).ravel()
    drop = np.argsort(norms, kind="stable")[: int(round(sparsity * norms.size))]
    keep = np.ones(norms.size, dtype=bool)
    keep[drop] = False
    mask = keep.reshape(rows // block, 1, cols // block, 1)
    return (tiles * mask).reshape(rows, cols).astype(np.float32)


def sparse_state(state):
    out = {}
    for name, a in state.items():
        pruned = name.endswith(".weight") and ".encoder.layer." in name and any(f".{s}.weight" in name for s in PRUNED_LINEARS)
        out[name] = prune_blocks(a, SPARSITY, BLOCK) if pruned else a
    return out


def write_checkpoint(directory, state, vocab, config):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(directory, "tokenizer.json"), "w") as f:
        json.dump(tokenizer_json(vocab), f, ensure_ascii=False)
    with open(os.path.join(directory, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "model_max_length": 512, "tokenizer_class": "BertTokenizer"}, f)
    tmp = os.path.join(directory, "model.safetensors.tmp")
    bert_torch.write_safetensors(tmp, state)
    os.replace(tmp, os.path.join(directory, "model.safetensors"))


def check_batch(seed, vocab_size):
    """A padded batch of three sequences of different lengths (token 0 = [PAD])."""
    g = np.random.default_rng(seed + 1)
    lengths = [128, 77, 9]
    ids = np.zeros((len(lengths), max(lengths)), dtype=np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for i, n in enumerate(lengths):
        ids[i, :n] = g.integers(1000, vocab_size, n)
        ids[i, 0], ids[i, n - 1] = 101, 102
        mask[i, :n] = 1
        types[i, n // 2 : n] = 1
    return ids, mask, types


def logits_of(model, ids, mask, types):
    with torch.inference_mode():
        return model(torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(types)).numpy()


def texts_and_ids(vocab, count, seed):
    """Texts of whole vocabulary words, and the ids BERT's tokenizer gives them ([CLS] w.. [SEP])."""
    index = {t: i for i, t in enumerate(vocab)}
    g = np.random.default_rng(seed + 2)
    words = [w for w in dict.fromkeys(WORDS)]
    out = []
    for k in range(count):
        n = int(g.integers(3, 60))
        chosen = [words[j] for j in g.integers(0, len(words), n)]
        out.append((f"t{k}", " ".join(chosen), [index["[CLS]"]] + [index[w] for w in chosen] + [index["[SEP]"]]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="bert-base")
    ap.add_argument("--out", default=os.path.join(REPO, "build", "peers"), help="output directory (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--opset", type=int, default=17, help="ONNX opset (torch 1.13 exports up to 17)")
    ap.add_argument("--force", action="store_true", help="rebuild even when the outputs exist")
    ap.add_argument("--no-onnx-check", action="store_true", help="skip running the ONNX model in onnxruntime-node")
    args = ap.parse_args()

    out = os.path.abspath(args.out)
    name = args.shape
    dense_dir, sparse_dir = os.path.join(out, name), os.path.join(out, f"{name}-sparse90")
    onnx_path = os.path.join(out, f"{name}.onnx")
    stamp = os.path.join(out, f"made-{name}.json")
    os.makedirs(out, exist_ok=True)
    if not args.force and os.path.exists(stamp):
        with open(stamp) as f:
            if json.load(f).get("seed") == args.seed:
                print(f"make_bert_base: {out} is up to date (seed {args.seed}); --force rebuilds")
                return 0

    t0 = time.time()
    cfg = config_of(name)
    config = bert_torch.BertConfig(cfg)
    torch.manual_seed(args.seed)
    model = bert_torch.BertForSequenceClassification(config).eval()
    state_t = random_state(model, args.seed)
    model.load_state_dict(state_t, strict=True)
    state = {k: v.numpy() for k, v in state_t.items()}
    vocab = build_vocab(cfg["vocab_size"])
    assert len(vocab) == cfg["vocab_size"] and len(set(vocab)) == len(vocab)

    write_checkpoint(dense_dir, state, vocab, cfg)
    sparse = sparse_state(state)
    write_checkpoint(sparse_dir, sparse, vocab, cfg)
    pruned = [k for k in sparse if sparse[k] is not state[k]]
    zeros = sum(int((sparse[k] == 0).sum()) for k in pruned)
    total = sum(sparse[k].size for k in pruned)
    params = sum(a.size for a in state.values())
    print(f"make_bert_base: {name}, {params / 1e6:.1f} M parameters; {len(pruned)} linear weights pruned to "
          f"{zeros / total:.4f} zeros in {BLOCK}x{BLOCK} blocks")

    bert_torch.export_onnx(model, onnx_path, args.opset)
    print(f"make_bert_base: exported {onnx_path} (opset {args.opset}, {os.path.getsize(onnx_path) / 2**20:.0f} MiB)")

    ids, mask, types = check_batch(args.seed, cfg["vocab_size"])
    logits = logits_of(model, ids, mask, types)
    check_path = os.path.join(out, f"{name}-onnx_check.json")
    with open(check_path, "w") as f:
        json.dump({"input_ids": ids.tolist(), "attention_mask": mask.tolist(), "token_type_ids": types.tolist(),
                   "logits": logits.tolist()}, f)

    sparse_model = bert_torch.BertForSequenceClassification(config).eval()
    sparse_model.load_state_dict({k: torch.from_numpy(v) for k, v in sparse.items()}, strict=True)
    texts = texts_and_ids(vocab, 16, args.seed)
    with open(os.path.join(out, f"{name}-texts.jsonl"), "w") as f:
        for tid, text, _ in texts:
            f.write(json.dumps({"id": tid, "text": text}) + "\n")
    # PyTorch's own dynamic INT8 error on the same texts: the yardstick for sparq's q8 error.
    per_text, int8_diff = {}, {}
    for src, m in ((name, model), (f"{name}-sparse90", sparse_model)):
        q = torch.ao.quantization.quantize_dynamic(m, {torch.nn.Linear}, dtype=torch.qint8)
        per_text[src], int8_diff[src] = {}, 0.0
        for tid, _, tids in texts:
            a = np.array([tids], dtype=np.int64)
            ref = logits_of(m, a, np.ones_like(a), np.zeros_like(a))[0]
            per_text[src][tid] = ref.tolist()
            int8 = logits_of(q, a, np.ones_like(a), np.zeros_like(a))[0]
            int8_diff[src] = max(int8_diff[src], float(np.abs(int8 - ref).max()))
    with open(os.path.join(out, f"{name}-texts_logits.json"), "w") as f:
        json.dump({"labels": [cfg["id2label"][str(i)] for i in range(len(CONFIG["id2label"]))], "logits": per_text,
                   "torch_dynamic_int8_max_abs_diff": int8_diff}, f)

    onnx_diff = None
    if not args.no_onnx_check:
        ort = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ort_bench.mjs")
        r = subprocess.run(["node", ort, "--model", onnx_path, "--check", check_path], stdout=subprocess.PIPE, text=True)
        if r.returncode != 0:
            print("make_bert_base: the ONNX check failed (see above)", file=sys.stderr)
            return 1
        result = json.loads(r.stdout)
        onnx_diff = result["max_abs_diff"]
        print(f"make_bert_base: ONNX Runtime {result['version']} vs PyTorch logits on a padded batch "
              f"(lengths 128/77/9): max abs diff {onnx_diff:.3g}, max |logit| {np.abs(logits).max():.3g}")
        if not onnx_diff <= 1e-4:
            print("make_bert_base: ONNX and PyTorch disagree: the peers would not run the same model", file=sys.stderr)
            return 1

    with open(stamp, "w") as f:
        json.dump({"shape": name, "config": SHAPES[name], "parameters": params, "seed": args.seed, "opset": args.opset, "onnx_vs_torch_max_abs_diff": onnx_diff,
                   "sparsity": zeros / total, "block": BLOCK, "seconds": round(time.time() - t0, 1)}, f, indent=1)
    print(f"make_bert_base: done in {time.time() - t0:.0f} s -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
