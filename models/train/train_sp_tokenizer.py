#!/usr/bin/python3
"""Trains a Llama-2-style SentencePiece BPE vocabulary (byte fallback) on the Debian descriptions
and writes it as Hugging Face's Llama-2 / TinyLlama `tokenizer.json`, plus `tokenizer_config.json`,
`special_tokens_map.json` and `sp_scores.json` (every piece's SentencePiece score, for GGUF and
llama2.c exporters).

Vocabulary layout (Llama-2's): <unk> <s> </s> = 0..2, <0x00>..<0xFF> = 3..258, then the merged
pieces in merge order (score -rank: earlier merges win), then the single characters.

    /usr/bin/python3 models/train/train_sp_tokenizer.py --train train.jsonl --out DIR \
        [--vocab-size 2048] [--check dev.jsonl]

--check encodes every document of the given file with both the SentencePiece score rule and the
Hugging Face merges rule (sp_bpe.py), reports agreement and decode round trips, and writes the ids
to DIR/check_ids.jsonl for verify_sp_tokenizer.mjs.
"""

import argparse
import collections
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sp_bpe  # noqa: E402
from sp_bpe import SPACE, SPECIALS  # noqa: E402

# SentencePiece's defaults for Llama-2: characters covering 99.95 % of the text get a piece, the
# rest are spelled as bytes; pieces at most 16 characters; every digit its own piece.
CHARACTER_COVERAGE = 0.9995
MAX_PIECE_CHARS = 16

# Training-time word boundaries (SentencePiece's split by whitespace, Unicode script and digits):
# a piece never spans two of these, so "▁word" and "." stay apart and numbers stay digit by digit.
# Newlines and tabs are not covered: like Llama-2 they are spelled as byte pieces.
WORD = re.compile(SPACE + r"?[^\W\d_]+|" + SPACE + r"?[^\w\s" + SPACE + r"]+|" + SPACE + r"?_+|\d|" + SPACE)

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}{{ '<|user|>\n' + message['content'] + eos_token }}"
    "{% elif message['role'] == 'system' %}{{ '<|system|>\n' + message['content'] + eos_token }}"
    "{% elif message['role'] == 'assistant' %}{{ '<|assistant|>\n' + message['content'] + eos_token }}"
    "{% endif %}"
    "{% if loop.last and add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
    "{% endfor %}")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def read_texts(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


def kept_characters(texts):
    counts = collections.Counter()
    for t in texts:
        counts.update(sp_bpe.normalize(t))
    for c in "\n\r\t":
        counts.pop(c, None)
    total, covered, kept = sum(counts.values()), 0, []
    for c, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if covered >= CHARACTER_COVERAGE * total and c != SPACE:
            break
        kept.append(c)
        covered += n
    return kept


def word_counts(texts, chars):
    keep = set(chars)
    counts = collections.Counter()
    for t in texts:
        # An uncovered character ends a word: no piece may contain it.
        t = "".join(c if c in keep else "\n" for c in sp_bpe.normalize(t))
        counts.update(WORD.findall(t))
    return counts


def learn_merges(words, n_merges):
    """Classic BPE with incremental pair counts: each merge revisits only the words holding the
    chosen pair. Ties go to the lexicographically smallest pair, so runs are reproducible."""
    seqs = [list(w) for w in words]
    freq = list(words.values())
    pair_count = collections.Counter()
    where = collections.defaultdict(set)
    for wi, s in enumerate(seqs):
        for a, b in zip(s, s[1:]):
            pair_count[a, b] += freq[wi]
            where[a, b].add(wi)
    merges = []
    while len(merges) < n_merges and pair_count:
        best = max(pair_count.items(), key=lambda kv: (kv[1], tuple(-ord(c) for c in kv[0][0] + "\0" + kv[0][1])))
        (a, b), n = best
        if n < 2:
            break
        merged = a + b
        if len(merged) > MAX_PIECE_CHARS:
            del pair_count[a, b]
            continue
        merges.append((a, b))
        for wi in list(where.pop((a, b), ())):
            s, f = seqs[wi], freq[wi]
            for x, y in zip(s, s[1:]):
                pair_count[x, y] -= f
                if pair_count[x, y] <= 0:
                    del pair_count[x, y]
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    out.append(merged)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            seqs[wi] = out
            for x, y in zip(out, out[1:]):
                pair_count[x, y] += f
                where[x, y].add(wi)
        pair_count.pop((a, b), None)
    return merges


def build_vocab(texts, vocab_size):
    chars = kept_characters(texts)
    log(f"{len(chars)} characters cover {CHARACTER_COVERAGE:.2%} of the text")
    words = word_counts(texts, chars)
    log(f"{len(words)} distinct words")
    n_fixed = len(SPECIALS) + 256
    merges = learn_merges(words, vocab_size - n_fixed - len(chars))
    merged = []
    seen = set(chars)
    for a, b in merges:
        if a + b not in seen:  # the same string can come from two different pairs
            seen.add(a + b)
            merged.append(a + b)
    pieces = SPECIALS + [sp_bpe.byte_piece(b) for b in range(256)] + merged + chars
    scores = [0.0] * n_fixed + [-float(r) for r in range(len(merged))] + \
             [-float(len(merged) + r) for r in range(len(chars))]
    return pieces, scores


def tokenizer_json(pieces, merges):
    added = [{"id": i, "content": p, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, p in enumerate(SPECIALS)]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": SPACE},
            {"type": "Replace", "pattern": {"String": " "}, "content": SPACE}]},
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [sp_bpe.BOS_ID], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": SPACE}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": "<unk>",
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": True,
            "byte_fallback": True,
            "ignore_merges": False,
            "vocab": {p: i for i, p in enumerate(pieces)},
            "merges": [[a, b] for a, b in merges]},
    }


def tokenizer_config(max_len):
    special = {str(i): {"content": p, "lstrip": False, "normalized": False, "rstrip": False,
                        "single_word": False, "special": True} for i, p in enumerate(SPECIALS)}
    return {
        "add_bos_token": True,
        "add_eos_token": False,
        "added_tokens_decoder": special,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": None,
        "clean_up_tokenization_spaces": False,
        "legacy": False,
        "model_max_length": max_len,
        "padding_side": "right",
        "sp_model_kwargs": {},
        "tokenizer_class": "LlamaTokenizerFast",
        "use_default_system_prompt": False,
        "chat_template": CHAT_TEMPLATE,
    }


def write_tokenizer(out_dir, pieces, scores, max_len):
    os.makedirs(out_dir, exist_ok=True)
    merges = sp_bpe.hf_merges(pieces, scores)

    def dump(name, obj, indent=2):
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=indent)
            f.write("\n")

    dump("tokenizer.json", tokenizer_json(pieces, merges))
    dump("tokenizer_config.json", tokenizer_config(max_len))
    dump("special_tokens_map.json", {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"})
    dump("sp_scores.json", scores, indent=None)
    return merges


def load_tokenizer(out_dir):
    """(pieces, scores, merges) back from a directory written by write_tokenizer."""
    with open(os.path.join(out_dir, "tokenizer.json"), encoding="utf-8") as f:
        tj = json.load(f)
    vocab = tj["model"]["vocab"]
    pieces = [None] * len(vocab)
    for p, i in vocab.items():
        pieces[i] = p
    with open(os.path.join(out_dir, "sp_scores.json")) as f:
        scores = json.load(f)
    return pieces, scores, [tuple(m) for m in tj["model"]["merges"]]


def check(out_dir, path, pieces, scores, merges):
    texts = read_texts(path)
    agree = roundtrip = 0
    n_tokens = 0
    with open(os.path.join(out_dir, "check_ids.jsonl"), "w") as f:
        for t in texts:
            a = sp_bpe.encode_sp_scores(t, pieces, scores)
            b = sp_bpe.encode_hf_bpe(t, pieces, merges)
            agree += a == b
            roundtrip += sp_bpe.decode(b, pieces) == t
            n_tokens += len(b)
            f.write(json.dumps([sp_bpe.BOS_ID] + b) + "\n")
    result = {"documents": len(texts), "sp_scores_equals_hf_bpe": agree, "decode_round_trips": roundtrip,
              "tokens": n_tokens, "tokens_per_document": round(n_tokens / len(texts), 1)}
    log(json.dumps(result))
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", default="/work/shared/data/debian-descriptions/train.jsonl")
    ap.add_argument("--out", required=True, help="directory for tokenizer.json and friends")
    ap.add_argument("--vocab-size", type=int, default=2048)
    ap.add_argument("--model-max-length", type=int, default=256)
    ap.add_argument("--check", metavar="JSONL", help="compare the two encoders on these documents")
    ap.add_argument("--check-only", action="store_true", help="reuse the tokenizer already in --out")
    args = ap.parse_args()
    t0 = time.time()
    if args.check_only:
        pieces, scores, merges = load_tokenizer(args.out)
    else:
        pieces, scores = build_vocab(read_texts(args.train), args.vocab_size)
        merges = write_tokenizer(args.out, pieces, scores, args.model_max_length)
        log(f"vocab {len(pieces)}, {len(merges)} merges, {time.time() - t0:.0f} s")
    if args.check:
        check(args.out, args.check, pieces, scores, merges)


if __name__ == "__main__":
    main()
