#!/usr/bin/python3
"""Turns a .sparq BERT classifier back into what ONNX Runtime serves: the file's own weights,
decoded to float32 (`sparq inspect --tensor --npy`, the values sparq's kernels compute with),
as a Hugging Face BertForSequenceClassification exported to ONNX, beside the tokenizer and
labels stored in the file. The peer then runs the same model as `sparq serve`, weight for
weight, only in dense f32 (ONNX Runtime has no sparse or int8-weight kernels for it here).

  bench/serve/make_onnx_peer.py models/debian-sections-s90b4-q8.sparq build/serve-peers/debian-sections
        [--sparq build/sparq] [--check-texts tests/data/debian-descriptions-dev-subset.jsonl]

Writes into OUT: model.onnx (opset 17; inputs input_ids, attention_mask, token_type_ids with
dynamic batch and sequence axes; output logits), tokenizer.json (the file's, as stored),
tokenizer_config.json, config.json (labels, max_tokens) and check.json: PyTorch's logits of
the ONNX model's weights against `sparq classify --logits` on 32 texts (max abs difference,
argmax agreement). sparq's q8 kernels quantize activations too, so the logits differ a little;
the export fails when fewer than 90 % of the argmaxes agree.

--word-texts FILE also writes 200 texts for the load test made of whole words of the model's
vocabulary, as many as each of the first 200 --check-texts documents has (cut to 1500
characters, as serve_load.py cuts them): for a model whose vocabulary does not know the real
texts (bench/peers/make_bert_base.py's BERT-base), so that each word is one token and the
documents' lengths in tokens are those of real ones. The check then runs on them.

Needs Debian's python3-torch and numpy (bench/peers/bert_torch.py builds the model).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "peers"))
import bert_torch  # noqa: E402


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if r.returncode != 0:
        raise SystemExit(f"make_onnx_peer: {' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")
    return r.stdout


def hf_state(sparq, model, tensor_names, layers, hidden):
    """HF BertForSequenceClassification's state_dict from the .sparq file's decoded tensors."""
    with tempfile.TemporaryDirectory() as tmp:
        def decoded(name):
            path = os.path.join(tmp, "t.npy")
            run([sparq, "inspect", model, "--tensor", name, "--npy", path])
            return np.load(path)

        state, used = {}, set()

        def put(hf, name, reshape=None):
            v = decoded(name)
            used.add(name)
            state[hf] = v.reshape(reshape) if reshape else (v.reshape(-1) if v.shape[0] == 1 else v)

        e = "bert.embeddings."
        put(e + "word_embeddings.weight", "embeddings.word.weight")
        put(e + "position_embeddings.weight", "embeddings.position.weight")
        put(e + "token_type_embeddings.weight", "embeddings.token_type.weight")
        put(e + "LayerNorm.weight", "embeddings.norm.weight")
        put(e + "LayerNorm.bias", "embeddings.norm.bias")
        for i in range(layers):
            s, hf = f"layers.{i}.", f"bert.encoder.layer.{i}."
            for part in ("weight", "bias"):
                qkv = decoded(s + f"attention.qkv.{part}").reshape(3 * hidden, -1)
                used.add(s + f"attention.qkv.{part}")
                for k, which in enumerate(("query", "key", "value")):
                    v = qkv[k * hidden:(k + 1) * hidden]
                    state[hf + f"attention.self.{which}.{part}"] = v.reshape(-1) if part == "bias" else v
                put(hf + f"attention.output.dense.{part}", s + f"attention.output.{part}")
                put(hf + f"attention.output.LayerNorm.{part}", s + f"attention.norm.{part}")
                put(hf + f"intermediate.dense.{part}", s + f"ffn.up.{part}")
                put(hf + f"output.dense.{part}", s + f"ffn.down.{part}")
                put(hf + f"output.LayerNorm.{part}", s + f"ffn.norm.{part}")
        for part in ("weight", "bias"):
            put(f"bert.pooler.dense.{part}", f"pooler.{part}")
            put(f"classifier.{part}", f"classifier.{part}")
        left = sorted(set(tensor_names) - used)
        if left:
            raise SystemExit(f"make_onnx_peer: {model}: tensors not mapped to Hugging Face BERT: {left}")
        return {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in state.items()}


def write_word_texts(tokenizer, like, out, max_tokens):
    vocab = tokenizer["model"]["vocab"]
    words = sorted(w for w in vocab if w.isascii() and w.isalpha() and w.islower() and len(w) >= 2)
    rng = np.random.default_rng(0)
    with open(like) as src, open(out, "w") as dst:
        for k, line in zip(range(200), src):
            n = min(len(json.loads(line)["text"][:1500].split()), max_tokens - 2)
            text = " ".join(words[j] for j in rng.integers(0, len(words), max(n, 1)))
            dst.write(json.dumps({"id": f"w{k}", "text": text}) + "\n")
    print(f"make_onnx_peer: wrote {out} (200 texts of {len(words)} vocabulary words)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a .sparq BERT classifier")
    ap.add_argument("out", help="output directory")
    ap.add_argument("--sparq", default="build/sparq")
    ap.add_argument("--check-texts", default="tests/data/debian-descriptions-dev-subset.jsonl")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--word-texts", metavar="FILE", help="write 200 load-test texts of vocabulary words here")
    args = ap.parse_args()

    info = json.loads(run([args.sparq, "inspect", "--json", args.model]))
    meta, a = info["metadata"], info["metadata"]["architecture"]
    if a.get("name") != "bert" or a.get("pooling") != "pooler" or a.get("activation") != "gelu" or not a.get("num_labels"):
        raise SystemExit(f"make_onnx_peer: {args.model}: only BERT classifiers (pooler, GELU) are exported: {a}")
    if a.get("position_offset", 0) != 0:
        raise SystemExit(f"make_onnx_peer: {args.model}: position_offset {a['position_offset']} is not BERT's 0")
    labels = meta["labels"]
    config = {"architectures": ["BertForSequenceClassification"], "model_type": "bert", "hidden_act": "gelu",
              "vocab_size": a["vocab_size"], "hidden_size": a["hidden_size"], "num_hidden_layers": a["num_layers"],
              "num_attention_heads": a["num_heads"], "intermediate_size": a["intermediate_size"],
              "max_position_embeddings": a["max_positions"], "type_vocab_size": a["type_vocab_size"],
              "layer_norm_eps": a["layer_norm_eps"], "id2label": {str(i): l for i, l in enumerate(labels)},
              "label2id": {l: i for i, l in enumerate(labels)}, "max_tokens": meta.get("max_tokens", a["max_positions"]),
              "source": os.path.abspath(args.model)}
    names = [t["name"] for t in info["tensors"]]
    model = bert_torch.BertForSequenceClassification(bert_torch.BertConfig(config))
    model.load_state_dict(hf_state(args.sparq, args.model, names, a["num_layers"], a["hidden_size"]), strict=True)
    model.eval()

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    with open(os.path.join(args.out, "tokenizer.json"), "w") as f:
        json.dump(meta["tokenizer"], f, ensure_ascii=False)
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "BertTokenizer", "model_max_length": config["max_tokens"]}, f)

    if args.word_texts:
        write_word_texts(meta["tokenizer"], args.check_texts, args.word_texts, config["max_tokens"])
        args.check_texts = args.word_texts
    # PyTorch on sparq's own token ids against `sparq classify --logits`.
    with tempfile.TemporaryDirectory() as tmp:
        texts = os.path.join(tmp, "texts.jsonl")
        with open(args.check_texts) as src, open(texts, "w") as dst:
            for _, line in zip(range(32), src):
                dst.write(json.dumps({"text": json.loads(line)["text"]}) + "\n")
        ids = [json.loads(l) for l in run([args.sparq, "tokenize", args.model, "-i", texts, "-o", "-"]).splitlines()]
        got = [json.loads(l) for l in run([args.sparq, "classify", args.model, "-i", texts, "--logits", "-o", "-"]).splitlines()]
    diffs, agree = [], 0
    with torch.no_grad():
        for t, g in zip(ids, got):
            x = torch.tensor([t["ids"][: config["max_tokens"]]])
            logits = model(x, torch.ones_like(x), torch.tensor([t["type_ids"][: config["max_tokens"]]]))[0].numpy()
            diffs.append(float(np.abs(logits - np.array(g["logits"])).max()))
            agree += int(np.argmax(logits) == np.argmax(g["logits"]))
    check = {"texts": len(ids), "max_abs_logit_diff": max(diffs), "argmax_agreement": agree / len(ids)}
    with open(os.path.join(args.out, "check.json"), "w") as f:
        json.dump(check, f)
    print(f"make_onnx_peer: PyTorch (decoded weights) vs sparq classify --logits: {check}")
    if check["argmax_agreement"] < 0.9:
        raise SystemExit("make_onnx_peer: the decoded model does not agree with sparq; not exporting")

    path = os.path.join(args.out, "model.onnx")
    bert_torch.export_onnx(model, path, args.opset)
    print(f"make_onnx_peer: wrote {path} ({os.path.getsize(path) / 2**20:.1f} MiB) and the tokenizer in {args.out}")


if __name__ == "__main__":
    main()
