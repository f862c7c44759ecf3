#!/usr/bin/python3
"""The PyTorch side of tests/runtime/decoder_reference_test.cpp: for the project's debian-llama
and each tiny architecture variant (models/train/make_tiny_variants.py: llama3 RoPE scaling,
Qwen2 biases + tied embeddings, Mistral, multi-query, BF16, sharded), writes under OUT/NAME/:

  model.sparq     `sparq convert --from hf` of the checkpoint, f32 weights
  prompts.jsonl   prompts as text (the dev subset's first documents in the training format)
  logits.json/.npy  float32 logits of every prompt position from models/train/llama_reference.py
                  (its own SentencePiece-BPE encoder gives the ids, BOS in front)
  greedy.jsonl    greedy continuations (up to 24 tokens, stopping at EOS) from the same reference
  mistral-f16-weights/, bf16-bf16-weights/  the F16 and BF16 checkpoints converted with
                  `--weights f16` / `--weights bf16` (2-byte weights run by their own kernels),
                  with the reference files of mistral/ and bf16/: the values are the same
  llama_cpp/{q8_0,q4_0}.gguf, .sparq, tokens.json, argmax.json  (debian-llama only) the
                  checkpoint exported to GGUF (models/train/gguf_export.py), converted by sparq
                  from that file, and llama.cpp's teacher-forced next-token argmax on the dev
                  subset's first documents (bench/llama_cpp_peer.mjs argmax, f32 KV cache as sparq's)
  perplexity.txt/.json  (debian-llama only) dev descriptions as one text and the reference's
                  perplexity over it with windows of 64 tokens every 32

usage: make_decoder_reference.py SPARQ OUT_DIR
"""
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
TRAIN = os.path.join(ROOT, "models", "train")
# In-process, not one interpreter per call: importing torch costs seconds each time.
sys.path.insert(0, TRAIN)
import llama_reference as reference  # noqa: E402
import torch  # noqa: E402

VARIANTS = ["llama3", "qwen2", "mistral", "mqa", "bf16", "sharded"]


def run(args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


def prompts(n):
    out = []
    with open(os.path.join(ROOT, "tests", "data", "debian-descriptions-dev-subset.jsonl"), encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            # A prompt the model was trained to continue, and one mid-description.
            out.append({"id": d["id"], "text": f"Package: {d['id']}\nSection: {d['label']}\nDescription:"})
            out.append({"id": d["id"] + "/text", "text": d["text"][:120]})
            if len(out) >= n:
                return out
    return out


def main():
    sparq, out = sys.argv[1], sys.argv[2]
    torch.set_num_threads(2)
    os.makedirs(out, exist_ok=True)
    tiny = os.path.join(out, "hf-variants")
    run(["/usr/bin/python3", os.path.join(TRAIN, "make_tiny_variants.py"), tiny])
    checkpoints = {"debian-llama": os.path.join(ROOT, "models", "debian-llama")}
    checkpoints.update({v: os.path.join(tiny, v) for v in VARIANTS})
    for name, hf in checkpoints.items():
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "prompts.jsonl"), "w", encoding="utf-8") as f:
            for p in prompts(8 if name == "debian-llama" else 2):
                f.write(json.dumps(p) + "\n")
        run([sparq, "convert", "--from", "hf", hf, "-o", os.path.join(d, "model.sparq"), "--quiet"])
        model = reference.load_checkpoint(hf)
        prompt_ids = reference.load_prompts(os.path.join(d, "prompts.jsonl"), hf)
        reference.run_logits(model, prompt_ids, os.path.join(d, "logits"), False)
        reference.run_greedy(model, prompt_ids, 24, hf, os.path.join(d, "greedy.jsonl"))
    for name, weights in (("mistral", "f16"), ("bf16", "bf16")):
        d = os.path.join(out, f"{name}-{weights}-weights")
        os.makedirs(d, exist_ok=True)
        for f in ("prompts.jsonl", "logits.json", "logits.npy", "greedy.jsonl"):
            shutil.copy(os.path.join(out, name, f), d)
        run([sparq, "convert", "--from", "hf", checkpoints[name], "--weights", weights, "-o",
             os.path.join(d, "model.sparq"), "--quiet"])
    d = os.path.join(out, "debian-llama")
    with open(os.path.join(ROOT, "tests", "data", "debian-descriptions-dev-subset.jsonl"), encoding="utf-8") as f:
        text = "\n\n".join(json.loads(line)["text"] for _, line in zip(range(12), f))
    with open(os.path.join(d, "perplexity.txt"), "w", encoding="utf-8") as f:
        f.write(text)
    tokenizer = reference.Tokenizer(checkpoints["debian-llama"])
    with open(os.path.join(d, "perplexity.json"), "w") as f:
        result = reference.run_perplexity(reference.load_checkpoint(checkpoints["debian-llama"]),
                                          [tokenizer.bos] + tokenizer.encode(text), 64, 32)
        f.write(json.dumps(result) + "\n")
    peer = os.path.join(d, "llama_cpp")
    os.makedirs(peer, exist_ok=True)
    tokens = [p["ids"] for p in json.load(open(os.path.join(d, "logits.json")))["prompts"]]
    with open(os.path.join(ROOT, "tests", "data", "debian-descriptions-dev-subset.jsonl"), encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for _, line in zip(range(16), f)]
    # Whole documents too: the prompts above are short.
    tokens += [([tokenizer.bos] + tokenizer.encode(x))[:200] for x in texts]
    with open(os.path.join(peer, "tokens.json"), "w") as f:
        json.dump(tokens, f)
    for t in ("q8_0", "q4_0"):
        gguf = os.path.join(peer, t + ".gguf")
        run(["/usr/bin/python3", os.path.join(TRAIN, "gguf_export.py"), checkpoints["debian-llama"], gguf, "--type", t])
        run([sparq, "convert", "--from", "gguf", gguf, "-o", os.path.join(peer, t + ".sparq"), "--quiet"])
        with open(os.path.join(peer, t + ".argmax.json"), "w") as f:
            subprocess.run(["node", os.path.join(ROOT, "bench", "llama_cpp_peer.mjs"), "argmax", gguf,
                            os.path.join(peer, "tokens.json"), "--threads", "2", "--kv-cache", "F32"], check=True, stdout=f,
                           stderr=subprocess.DEVNULL)
    with open(os.path.join(out, "models.json"), "w") as f:
        json.dump(list(checkpoints), f)


if __name__ == "__main__":
    with torch.inference_mode():
        main()
