#!/usr/bin/python3
"""Builds the tokenizer fixtures of decoder models (the layouts of Llama 2 / TinyLlama /
Mistral, Llama 3 and Qwen2), which sparq's tokenizers are compared with Hugging Face on.

usage: make_decoder_tokenizer_fixtures.py TEXTS.jsonl OUT_DIR
(the fixtures in the repository were built from tests/data/debian-descriptions-dev-subset.jsonl)

Writes one sub-directory per fixture, each with a tokenizer.json and tokenizer_config.json:

  sp-bpe-llama2       SentencePiece-style BPE as Llama 2 / TinyLlama ship it: normalizer
                      Prepend("▁") + Replace(" " -> "▁"), no pre-tokenizer, byte_fallback with
                      the 256 <0xXX> tokens (rare characters and "\\n" have no token of their
                      own, as in Llama), fuse_unk, "<s> $A" template, the Replace + ByteFallback
                      + Fuse + Strip decoder
  sp-bpe-metaspace    the same vocabulary behind a Metaspace pre-tokenizer (prepend_scheme
                      "first", split false, as newer Mistral files have), a ByteFallback +
                      Metaspace decoder, one non-special added token
  bpe-llama3          byte-level BPE behind Llama 3's Split regex + ByteLevel(use_regex false),
                      ignore_merges true with whole words in the vocabulary that the merges do
                      not build, 256 special tokens (<|begin_of_text|>, <|eot_id|>, reserved
                      ones), Sequence[ByteLevel, TemplateProcessing] post-processor
  bpe-qwen2           the byte-level vocabulary behind Qwen2's regex (single digits) and NFC
                      normalizer, <|endoftext|>/<|im_start|>/<|im_end|> special and two
                      non-special added tokens, ByteLevel post-processor

Deterministic, standard library only. The vocabularies only need to be plausible: the test
checks that sparq gives the ids (and decoded text) Hugging Face gives for whatever
vocabulary it is handed.
"""
import collections
import os
import re
import sys

from make_tokenizer_fixtures import byte_to_unicode, learn_merges, read_texts, write

SP_MERGES = 3000
BYTE_LEVEL_MERGES = 3000
# Characters seen fewer times than this get no token: byte fallback spells them.
SP_MIN_CHAR_COUNT = 30
IGNORE_MERGES_WORDS = 200
SPACE = "\u2581"

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
# Llama 3's split with Python's classes standing in for \p{L} and \p{N}; only used to count
# training words.
LLAMA3_TRAINING_SPLIT = re.compile(r"""'(?i:[st]|re|ve|m|ll|d)|[^\r\n\w]?[^\W\d_]+|\d{1,3}| ?[^\s\w]+[\r\n]*"""
                                   r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")


def special(content, token_id, is_special=True):
    return {"id": token_id, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": is_special}


def template(bos):
    return {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {bos: {"id": bos, "ids": [1], "tokens": [bos]}},
    }


def sp_vocabulary(texts):
    """Llama's layout: <unk>, <s>, </s>, the 256 byte tokens, then pieces."""
    chars = collections.Counter(ch for text in texts for ch in text.replace(" ", SPACE))
    alphabet = sorted((c for c, n in chars.items() if n >= SP_MIN_CHAR_COUNT and c not in "\n\r"),
                      key=lambda c: (-chars[c], c))
    alphabet_set = set(alphabet) | {SPACE}
    words = collections.Counter()
    for text in texts:
        for word in re.findall(SPACE + "?[^" + SPACE + "]*", SPACE + text.replace(" ", SPACE)):
            if word and all(c in alphabet_set for c in word):
                words[word] += 1
    merges = learn_merges(words, SP_MERGES)
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    for c in [SPACE] + alphabet:
        vocab.setdefault(c, len(vocab))
    return vocab, merges


def sp_llama2(vocab, merges):
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [special("<unk>", 0), special("<s>", 1), special("</s>", 2)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": SPACE}, {"type": "Replace", "pattern": {"String": " "}, "content": SPACE}]},
        "pre_tokenizer": None,
        "post_processor": template("<s>"),
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": SPACE}, "content": " "}, {"type": "ByteFallback"},
            {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": [a + " " + b for a, b in merges]},
    }


def sp_metaspace(vocab, merges):
    t = sp_llama2(dict(vocab), merges)
    t["model"]["vocab"]["Debian GNU"] = len(vocab)
    t["added_tokens"].append(special("Debian GNU", len(vocab), is_special=False))
    t["normalizer"] = None
    t["pre_tokenizer"] = {"type": "Metaspace", "replacement": SPACE, "prepend_scheme": "first", "split": False}
    t["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "ByteFallback"}, {"type": "Metaspace", "replacement": SPACE, "prepend_scheme": "first", "split": False}]}
    t["model"]["merges"] = [[a, b] for a, b in merges]
    return t


def sp_config(add_bos):
    return {"tokenizer_class": "LlamaTokenizer", "add_bos_token": add_bos, "add_eos_token": False,
            "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "legacy": False,
            "clean_up_tokenization_spaces": False, "model_max_length": 2048}


def byte_level_vocabulary(texts):
    table = byte_to_unicode()
    words = collections.Counter()
    for text in texts:
        for piece in LLAMA3_TRAINING_SPLIT.findall(text):
            words["".join(table[b] for b in piece.encode("utf-8"))] += 1
    merges = learn_merges(words, BYTE_LEVEL_MERGES)
    vocab = {}
    for b in range(256):
        vocab[table[b]] = len(vocab)
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    return words, vocab, merges


def pre_tokenizer(pattern):
    return {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}


def byte_level_model(vocab, merges, ignore_merges):
    return {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": ignore_merges,
            "vocab": vocab, "merges": [[a, b] for a, b in merges]}


def llama3(words, vocab, merges):
    vocab = dict(vocab)
    # Whole words the merges do not build: with ignore_merges they are one token each.
    extra = [w for w, _ in sorted(words.items(), key=lambda kv: (-kv[1], kv[0])) if w not in vocab and len(w) > 2]
    for w in extra[:IGNORE_MERGES_WORDS]:
        vocab[w] = len(vocab)
    names = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
             "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>", "<|start_header_id|>",
             "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"]
    names += [f"<|reserved_special_token_{i}|>" for i in range(3, 256 - len(names) + 3)]
    added = [special(name, len(vocab) + i) for i, name in enumerate(names)]
    bos = template("<|begin_of_text|>")
    bos["special_tokens"]["<|begin_of_text|>"]["ids"] = [len(vocab)]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
        "pre_tokenizer": pre_tokenizer(LLAMA3_PATTERN),
        "post_processor": {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True}, bos]},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": byte_level_model(vocab, merges, True),
    }


def llama3_config():
    return {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|begin_of_text|>",
            "eos_token": "<|eot_id|>", "clean_up_tokenization_spaces": True, "model_max_length": 131072}


def qwen2(vocab, merges):
    added = [special("<|endoftext|>", len(vocab)), special("<|im_start|>", len(vocab) + 1),
             special("<|im_end|>", len(vocab) + 2), special("<tool_call>", len(vocab) + 3, is_special=False),
             special("</tool_call>", len(vocab) + 4, is_special=False)]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": pre_tokenizer(QWEN2_PATTERN),
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": byte_level_model(vocab, merges, False),
    }


def qwen2_config():
    return {"tokenizer_class": "Qwen2Tokenizer", "bos_token": None, "eos_token": "<|im_end|>",
            "pad_token": "<|endoftext|>", "unk_token": None, "clean_up_tokenization_spaces": False,
            "model_max_length": 131072}


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: make_decoder_tokenizer_fixtures.py TEXTS.jsonl OUT_DIR")
    texts = read_texts(sys.argv[1])
    out_dir = sys.argv[2]
    sp, sp_merges = sp_vocabulary(texts)
    write(out_dir, "sp-bpe-llama2", sp_llama2(sp, sp_merges), sp_config(True))
    write(out_dir, "sp-bpe-metaspace", sp_metaspace(sp, sp_merges), sp_config(True))
    words, bl, bl_merges = byte_level_vocabulary(texts)
    write(out_dir, "bpe-llama3", llama3(words, bl, bl_merges), llama3_config())
    write(out_dir, "bpe-qwen2", qwen2(bl, bl_merges), qwen2_config())


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
