#!/usr/bin/python3
"""Builds the tokenizer fixtures sparq's tokenizers are compared with Hugging Face on.

From the Debian descriptions training split (path given as the first argument), writes into
the output directory (second argument) one sub-directory per fixture, each holding a
Hugging Face tokenizer.json and tokenizer_config.json:

  wordpiece-uncased   BERT-style uncased WordPiece, ~8k tokens (lowercase, accents stripped),
                      plus one non-special added token that is normalized like the text
  wordpiece-cased     cased WordPiece, strip_accents false, CJK ideographs spaced
  wordpiece-sequence  the uncased vocabulary behind Sequence normalizers (Replace, NFKC,
                      Lowercase, NFD, StripAccents, Strip) and pre-tokenizers (Whitespace,
                      Digits), with a TemplateProcessing that has no pair-specific ids
  bpe-byte-level      RoBERTa-style byte-level BPE, ~2k merges learned here, RobertaProcessing
  bpe-prefix-space    the same with add_prefix_space true

Deterministic (sorted counts, ties broken by the token), standard library only. The
vocabularies only need to be plausible: the test checks that sparq gives the ids Hugging
Face gives for whatever vocabulary it is handed.
"""
import collections
import json
import os
import re
import sys
import unicodedata

WORDPIECE_SIZE = 8000
BPE_MERGES = 2000
BPE_TRAINING_DOCS = 6000


def read_texts(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


def is_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def bert_words(text, lowercase):
    """Roughly BERT's basic tokenizer; good enough to count words for a vocabulary."""
    if lowercase:
        text = "".join(c for c in unicodedata.normalize("NFD", text.lower()) if unicodedata.category(c) != "Mn")
    words = []
    for chunk in text.split():
        current = ""
        for ch in chunk:
            if is_punct(ch):
                if current:
                    words.append(current)
                    current = ""
                words.append(ch)
            else:
                current += ch
        if current:
            words.append(current)
    return words


def wordpiece_vocab(texts, lowercase, specials):
    words = collections.Counter()
    for text in texts:
        words.update(bert_words(text, lowercase))
    chars = collections.Counter()
    suffixes = collections.Counter()
    for word, n in words.items():
        for i, ch in enumerate(word):
            chars[ch if i == 0 else "##" + ch] += n
        for start in range(1, len(word)):
            for end in range(start + 2, min(len(word), start + 6) + 1):
                suffixes["##" + word[start:end]] += n
    ranked = lambda counter: [t for t, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]
    vocab = list(specials)
    seen = set(vocab)

    def add(token):
        if token not in seen and len(vocab) < WORDPIECE_SIZE:
            seen.add(token)
            vocab.append(token)

    for token in ranked(chars):
        add(token)
    # Whole words and word-internal pieces, interleaved so both are well represented.
    for word, piece in zip(ranked(words), ranked(suffixes)):
        add(word)
        add(piece)
    return {token: i for i, token in enumerate(vocab)}


def wordpiece_tokenizer(vocab, lowercase, strip_accents, added):
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    added_tokens = [
        {"id": vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
        for t in specials
    ]
    for content in added:
        vocab[content] = len(vocab)
        added_tokens.append({"id": vocab[content], "content": content, "single_word": False, "lstrip": False,
                             "rstrip": False, "normalized": True, "special": False})
    cls, sep = vocab["[CLS]"], vocab["[SEP]"]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added_tokens,
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": strip_accents, "lowercase": lowercase},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [cls], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [sep], "tokens": ["[SEP]"]},
            },
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab},
    }


def bert_config(lowercase, strip_accents):
    return {"tokenizer_class": "BertTokenizer", "do_lower_case": lowercase, "strip_accents": strip_accents,
            "tokenize_chinese_chars": True, "model_max_length": 512, "unk_token": "[UNK]", "sep_token": "[SEP]",
            "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"}


def byte_to_unicode():
    keep = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


# GPT-2's split with Python's classes standing in for \p{L} and \p{N}; only used to count
# training words.
GPT2_SPLIT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?[^\s\w]+|\s+(?!\S)|\s+""")


def learn_merges(words, count):
    """Up to `count` merges, most frequent pair first (ties by the pair), over a Counter of
    words (each a string whose characters are the initial symbols)."""
    # Word symbols, pair counts and where each pair occurs, updated incrementally per merge.
    symbols = {w: list(w) for w in words}
    pairs = collections.Counter()
    where = collections.defaultdict(set)
    for w, syms in symbols.items():
        for a, b in zip(syms, syms[1:]):
            pairs[(a, b)] += words[w]
            where[(a, b)].add(w)
    merges = []
    for _ in range(count):
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        if pairs[best] < 2:
            break
        merges.append(best)
        merged = best[0] + best[1]
        for w in list(where[best]):
            syms, n = symbols[w], words[w]
            for a, b in zip(syms, syms[1:]):
                pairs[(a, b)] -= n
                if pairs[(a, b)] <= 0:
                    del pairs[(a, b)]
                where[(a, b)].discard(w)
            out, i = [], 0
            while i < len(syms):
                if i + 1 < len(syms) and (syms[i], syms[i + 1]) == best:
                    out.append(merged)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            symbols[w] = out
            for a, b in zip(out, out[1:]):
                pairs[(a, b)] += n
                where[(a, b)].add(w)
    return merges


def train_bpe(texts):
    table = byte_to_unicode()
    words = collections.Counter()
    for text in texts:
        for piece in GPT2_SPLIT.findall(text):
            words["".join(table[b] for b in piece.encode("utf-8"))] += 1
    return table, learn_merges(words, BPE_MERGES)


def bpe_tokenizer(table, merges, add_prefix_space):
    vocab = {}
    for token in ["<s>", "<pad>", "</s>", "<unk>"]:
        vocab[token] = len(vocab)
    for b in range(256):
        vocab.setdefault(table[b], len(vocab))
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    vocab["<mask>"] = len(vocab)
    added = []
    for token in ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]:
        added.append({"id": vocab[token], "content": token, "single_word": False, "lstrip": token == "<mask>",
                      "rstrip": False, "normalized": False, "special": True})
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": add_prefix_space, "trim_offsets": True,
                          "use_regex": True},
        "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", vocab["</s>"]], "cls": ["<s>", vocab["<s>"]],
                           "trim_offsets": True, "add_prefix_space": add_prefix_space},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
                  # Both spellings of merges occur in the wild; use one per fixture.
                  "merges": [[a, b] for a, b in merges] if add_prefix_space else [a + " " + b for a, b in merges]},
    }


def roberta_config(add_prefix_space):
    return {"tokenizer_class": "RobertaTokenizer", "add_prefix_space": add_prefix_space, "model_max_length": 512,
            "bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>", "unk_token": "<unk>",
            "pad_token": "<pad>", "mask_token": "<mask>"}


def write(out_dir, name, tokenizer, config):
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False, separators=(",", ":"))
    with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=1)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: make_tokenizer_fixtures.py TRAIN.jsonl OUT_DIR")
    texts = read_texts(sys.argv[1])
    out_dir = sys.argv[2]
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

    uncased = wordpiece_vocab(texts, True, specials)
    write(out_dir, "wordpiece-uncased", wordpiece_tokenizer(dict(uncased), True, None, ["Debian-Pkg"]),
          bert_config(True, None))
    sequence = wordpiece_tokenizer(dict(uncased), True, None, [])
    sequence["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Replace", "pattern": {"String": "``"}, "content": "\""}, {"type": "NFKC"}, {"type": "Lowercase"},
        {"type": "NFD"}, {"type": "StripAccents"}, {"type": "Strip", "strip_left": True, "strip_right": True}]}
    sequence["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Whitespace"}, {"type": "Digits", "individual_digits": True}]}
    write(out_dir, "wordpiece-sequence", sequence, bert_config(True, None))
    cased = wordpiece_vocab(texts, False, specials)
    write(out_dir, "wordpiece-cased", wordpiece_tokenizer(cased, False, False, []), bert_config(False, False))

    table, merges = train_bpe(texts[:BPE_TRAINING_DOCS])
    write(out_dir, "bpe-byte-level", bpe_tokenizer(table, merges, False), roberta_config(False))
    write(out_dir, "bpe-prefix-space", bpe_tokenizer(table, merges, True), roberta_config(True))


if __name__ == "__main__":
    main()
