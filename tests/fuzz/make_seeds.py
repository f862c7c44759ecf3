#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/) from the
repository's own fixtures: small valid inputs, each prefixed with the mode byte its target
reads first (see the comment at the top of each *_fuzz.cpp). Run from anywhere; the
output is checked in, so this only needs running again when a fixture or a mode changes.
The .sparq reader's seeds are written by `sparq synth` at run time (run_fuzz.sh)."""
import glob
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ENC = os.path.join(ROOT, "tests/runtime/fixtures/encoders")
TOK = os.path.join(ROOT, "tests/tokenizers/fixtures")


def read(*parts):
    with open(os.path.join(ROOT, *parts), "rb") as f:
        return f.read()


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def small_tokenizer(path, keep, merges=0):
    """The fixture with its vocabulary cut to the first `keep` ids (specials first)."""
    t = json.loads(read(path))
    vocab = t["model"]["vocab"]
    t["model"]["vocab"] = {k: v for k, v in vocab.items() if v < keep}
    if "merges" in t["model"]:
        kept = set(t["model"]["vocab"])
        out = []
        for m in t["model"]["merges"]:
            a, b = m.split(" ") if isinstance(m, str) else m
            if a in kept and b in kept and a + b in kept:
                out.append(m)
        t["model"]["merges"] = out[:merges]
    t["added_tokens"] = [a for a in t["added_tokens"] if a["id"] < keep]
    return t


def safetensors(entries, metadata=None):
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    return compact(header), data


def main():
    # Only the seeds below are (re)written: the reproducers of fixed findings (crash_*,
    # oom_*, ubsan_*) beside them stay.
    # safetensors_header: 0 whole file, 1 "header\0data", 2 index.json beside two shards.
    f32 = struct.pack("<4f", 1.0, -2.0, 0.5, 3.0)
    f16 = struct.pack("<4H", 0x3C00, 0xC000, 0x7C00, 0x0001)
    bf16 = struct.pack("<2H", 0x3F80, 0x7FC0)
    files = [
        safetensors([("a.weight", "F32", [2, 2], f32)]),
        safetensors([("b", "F16", [4], f16), ("c", "BF16", [1, 2], bf16), ("position_ids", "I64", [1, 1], b"\0" * 8)],
                    {"format": "pt"}),
        safetensors([("empty", "F32", [0, 3], b""), ("scalar", "F32", [], f32[:4])]),
    ]
    for i, (h, d) in enumerate(files):
        write("safetensors_header", f"file_{i}", b"\x00" + struct.pack("<Q", len(h)) + h + d)
        write("safetensors_header", f"header_{i}", b"\x01" + h + b"\x00" + d)
    index = {"metadata": {"total_size": 24}, "weight_map": {"a.weight": "model-00001-of-00002.safetensors",
                                                            "b.bias": "model-00002-of-00002.safetensors"}}
    write("safetensors_header", "index_0", b"\x02" + compact(index))

    # tokenizer_json: tokenizer.json, "\0", a text to encode.
    seeds = {
        "wordpiece": small_tokenizer("tests/runtime/fixtures/encoders/bert-odd/tokenizer.json", 120),
        "bpe": small_tokenizer("tests/runtime/fixtures/encoders/roberta-cls/tokenizer.json", 120, 30),
    }
    seq = small_tokenizer("tests/runtime/fixtures/encoders/bert-odd/tokenizer.json", 60)
    full = json.loads(read("tests/tokenizers/fixtures/wordpiece-sequence/tokenizer.json"))
    seq["normalizer"], seq["pre_tokenizer"] = full["normalizer"], full["pre_tokenizer"]
    seeds["sequence"] = seq
    prefix = small_tokenizer("tests/tokenizers/fixtures/bpe-prefix-space/tokenizer.json", 80, 20)
    seeds["bpe_prefix_space"] = prefix
    seeds["sp_bpe_byte_fallback"] = small_tokenizer("tests/tokenizers/fixtures/sp-bpe-llama2/tokenizer.json", 300, 20)
    seeds["sp_bpe_metaspace"] = small_tokenizer("tests/tokenizers/fixtures/sp-bpe-metaspace/tokenizer.json", 300, 20)
    # Llama 3's and Qwen2's added tokens come after the vocabulary: the first few, renumbered.
    for name, fixture in [("bpe_llama3", "bpe-llama3"), ("bpe_qwen2", "bpe-qwen2")]:
        full = json.loads(read(f"tests/tokenizers/fixtures/{fixture}/tokenizer.json"))
        t = small_tokenizer(f"tests/tokenizers/fixtures/{fixture}/tokenizer.json", 280, 20)
        t["added_tokens"] = [dict(a, id=280 + i) for i, a in enumerate(full["added_tokens"][:12])]
        seeds[name] = t
    texts = {"wordpiece": "Hello, World! déjà 東京", "bpe": " the cat's 3 hats", "sequence": "``Quote'' 1234 Ünïcode",
             "bpe_prefix_space": "a b\tc\n🙂", "sp_bpe_byte_fallback": "<s>Hi  there\n𓀀 ok",
             "sp_bpe_metaspace": "a <s>b  c", "bpe_llama3": "<|begin_of_text|>It'S 12345  x\n\n y<|eot_id|>",
             "bpe_qwen2": "<|im_start|>user\n1234 'll<|im_end|>"}
    for name, t in seeds.items():
        write("tokenizer_json", name, compact(t) + b"\x00" + texts[name].encode())

    # model_config: 0 config.json, 1 .sparq architecture, 2 tokenizer_config.json,
    # 3 tokenizer.json, 4 modules.json.
    for name in ["bert-odd", "roberta-cls", "distilbert-cls", "minilm-st"]:
        write("model_config", f"config_{name}", b"\x00" + compact(json.loads(read(ENC, name, "config.json"))))
    small = {"vocab_size": 12, "hidden_size": 8, "num_heads": 2, "num_layers": 1, "intermediate_size": 16,
             "max_positions": 16}
    write("model_config", "architecture_bert",
          b"\x01" + compact(dict(small, type="bert", activation="gelu", type_vocab_size=2, pooler=True)))
    write("model_config", "architecture_llama", b"\x01" + compact(dict(small, type="llama", num_kv_heads=1)))
    write("model_config", "tokenizer_config",
          b"\x02" + compact(json.loads(read(TOK, "wordpiece-uncased", "tokenizer_config.json"))))
    tiny = {"version": "1.0", "added_tokens": [], "normalizer": {"type": "BertNormalizer", "lowercase": True},
            "pre_tokenizer": {"type": "BertPreTokenizer"}, "post_processor": None,
            "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                      "vocab": {w: i for i, w in enumerate(
                          ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "##s", "sat"])}}}
    write("model_config", "tokenizer", b"\x03" + compact(tiny))
    write("model_config", "modules", b"\x04" + compact(json.loads(read(ENC, "minilm-st", "modules.json"))))

    # document_records: bits 0-1 format, 2 label field, 3 small text limit, 4 zstd, 5 other names.
    lines = read("tests/data/debian-descriptions-dev-subset.jsonl").split(b"\n")
    recs = [json.loads(l) for l in lines[:3] if l.strip()]
    jsonl = b"".join(compact({"id": r.get("id", i), "text": r["text"][:80], "label": "pos" if i % 2 else "neg"}) + b"\n"
                     for i, r in enumerate(recs))
    write("document_records", "jsonl", b"\x00" + jsonl)
    write("document_records", "jsonl_label_zstd", bytes([4 | 16]) + jsonl)
    write("document_records", "jsonl_errors", b"\x00" + b'{"id":"b","text":"x","n":1e400}\n{"text":""}\nnot json\n'
          b'{"id":[1],"text":5}\n{"text":"\xff"}\n')
    write("document_records", "csv", b"\x05" + b'id,text,label\n1,"a, quoted ""field""",pos\n2,plain,neg\r\n3,"multi\nline",pos\n')
    write("document_records", "csv_names", bytes([1 | 32]) + b'key,body\nx,"unterminated\ny,z\n')
    write("document_records", "txt", bytes([2 | 8]) + b"one line\n\n  \nthird line that is longer than sixty-four bytes so it is too long\n")

    # workload_and_recipe: bit 0 yaml, (byte >> 1) % 5: 0 workload 1 recipe 2 bench 3 eval 4 catalog.
    write("workload_and_recipe", "workload_yaml", b"\x01" + read("models/example-workload.yaml"))
    write("workload_and_recipe", "workload_json",
          b"\x00" + compact({"documents_per_day": 100000, "hours_per_day": 10, "peak_to_average": 2, "redundancy": 1}))
    write("workload_and_recipe", "llm_workload_yaml", b"\x01" + read("models/example-llm-workload.yaml"))
    write("workload_and_recipe", "recipe_yaml", bytes([1 | 2]) + read("models/recipes/bert-2of4-q4.yaml"))
    write("workload_and_recipe", "recipe_yaml_block", bytes([1 | 2]) + read("models/recipes/bert-90-block4x4-q8.yaml"))
    write("workload_and_recipe", "bench_json", bytes([4]) + read("tests/runtime/fixtures/planner/bench.json"))
    write("workload_and_recipe", "decoder_bench_json",
          bytes([4]) + read("tests/runtime/fixtures/planner/decoder-bench.json"))
    write("workload_and_recipe", "eval_json", bytes([6]) + read("tests/runtime/fixtures/planner/eval.json"))
    catalog = json.loads(read("runtime/plan/catalog.json"))
    for key, value in catalog.items():  # two devices of each kind keep it small
        if isinstance(value, list):
            catalog[key] = value[:2]
    write("workload_and_recipe", "catalog_json", bytes([8]) + compact(catalog))
    write("workload_and_recipe", "yaml_anchors", b"\x01" + b"base: &b {documents_per_day: 10}\nname: *b\ncosts: {pue: 1.2}\n")

    # chat_template: "template" or "template\0messages.json"; the fixture templates.
    for path in sorted(glob.glob(os.path.join(ROOT, "tests/text/chat_templates/*.jinja"))):
        name = os.path.basename(path)[:-len(".jinja")].replace(".", "_").replace("-", "_")
        write("chat_template", name, read(os.path.relpath(path, ROOT)))
    write("chat_template", "with_messages", b"{% for m in messages %}{{ m.role ~ m['content'] | trim }}{% endfor %}\0"
          + compact([{"role": "user", "content": " x "}, {"role": "assistant", "content": 5}]))

    # job_checkpoint: even = as it is, odd = checksum recomputed.
    ckpt = {"version": 2, "job": {"command": "classify", "model": "model.sparq", "input": "docs.jsonl",
                                  "max_length": 128, "batch_size": 32, "shard": None},
            "records_consumed": 4096, "records_written": 4096, "output_bytes": 123456,
            "input_xxh3": "0123456789abcdef", "output_xxh3": "fedcba9876543210",
            "errors_by_code": {"malformed_json": 2}, "truncated_documents": 1, "truncated_tokens": 7, "isa": "avx2"}
    write("job_checkpoint", "fixed", b"\x01" + compact(ckpt))
    ckpt2 = dict(ckpt, job={"command": "embed", "max_length": 64}, errors_by_code={}, isa="")
    write("job_checkpoint", "fixed_embed", b"\x01" + compact(ckpt2))
    write("job_checkpoint", "as_is", b"\x00" + compact(dict(ckpt, checksum="0000000000000000")))

    # serve_request: the route byte (embed, predict, tokenize, embeddings, completions, chat,
    # llama completion), then a body as the peers' docs and the serve tests send them.
    bodies = [
        (0, "embed", {"inputs": ["Fast lossless compression", "a second text"], "normalize": False,
                      "truncate": True, "truncation_direction": "right"}),
        (1, "predict_pair", {"inputs": ["a question", "its answer"], "raw_scores": True}),
        (1, "predict_batch", {"inputs": [["one"], ["two"]], "truncate": False}),
        (2, "tokenize", {"inputs": "Package: zstd", "add_special_tokens": False}),
        (3, "embeddings", {"input": ["x", "y"], "model": "m", "encoding_format": "base64", "dimensions": 8,
                           "user": "u"}),
        (4, "completions", {"model": "m", "prompt": "Package: zstd\nDescription:", "max_tokens": 40,
                            "temperature": 0.7, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "stop": ["\n", "."],
                            "seed": 5, "logprobs": 2, "frequency_penalty": 0.5, "presence_penalty": -0.5, "n": 1,
                            "stream": True, "stream_options": {"include_usage": True}}),
        (5, "chat", {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is zstd?"}],
                     "max_completion_tokens": 30, "temperature": 0, "logprobs": True, "top_logprobs": 3,
                     "stop": "\n"}),
        (6, "llama", {"prompt": "Package: zstd", "n_predict": -1, "temperature": 0.8, "top_k": 40, "top_p": 0.95,
                      "min_p": 0.05, "repeat_penalty": 1.1, "stop": ["\n\n"], "seed": -1, "n_probs": 3,
                      "ignore_eos": True, "stream": True}),
    ]
    for route, name, body in bodies:
        write("serve_request", name, bytes([route]) + compact(body))


if __name__ == "__main__":
    main()
