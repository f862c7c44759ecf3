"""BERT WordPiece tokenizer: trainer, encoder and Hugging Face tokenizer.json writer.

The encoder reproduces what Hugging Face's tokenizer (transformers.js, which sparq's C++
tokenizer follows) produces for the tokenizer.json written by `write_hf_tokenizer`, so the
model is trained on exactly the ids it will see at inference. The rules, in HF's order:

  split out added (special) tokens appearing verbatim in the raw text;
  BertNormalizer   clean text: drop NUL, U+FFFD and Cc/Cf/Co/Cs except \\t \\n \\r; map the
                   JavaScript \\s whitespace set to ' '; put spaces around BMP CJK ideographs;
                   lowercase the whole string (final-sigma aware, like JS toLowerCase);
                   strip accents: NFD, then drop Mn;
  BertPreTokenizer words are runs of non-whitespace non-punctuation; every punctuation char
                   (Unicode P*, or ASCII 33-47, 58-64, 91-96, 123-126) is its own word;
  WordPiece        greedy longest match from the left, '##' on non-initial pieces; a word
                   longer than 100 code points, or with an unmatchable rest, becomes [UNK].

Python's unicodedata (Unicode 14 on Debian 12) may disagree with node's ICU on characters
assigned later; verify_tokenizer.mjs measures the agreement on real documents.
"""

import collections
import json
import os
import re
import sys
import unicodedata

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PAD, UNK, CLS, SEP, MASK = range(5)
MAX_INPUT_CHARS_PER_WORD = 100

# JavaScript's \s (WhiteSpace + LineTerminator), which transformers.js uses for whitespace.
_JS_WHITESPACE = "\t\n\v\f\r \u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + \
    "\u2028\u2029\u202f\u205f\u3000\ufeff"


def _char_class(pred):
    """A regex character class of all code points where pred holds, as ranges."""
    ranges, start, prev = [], None, None
    for cp in range(0x110000):
        if pred(cp):
            if start is None:
                start = cp
            prev = cp
        elif start is not None:
            ranges.append((start, prev))
            start = None
    if start is not None:
        ranges.append((start, prev))
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
                   for a, b in ranges)


def _is_control(cp):
    if cp in (9, 10, 13):
        return False
    return cp == 0 or cp == 0xFFFD or unicodedata.category(chr(cp)) in ("Cc", "Cf", "Co", "Cs")


def _is_punct(cp):
    return (33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126
            or unicodedata.category(chr(cp)).startswith("P"))


_WS_CLASS = "".join(re.escape(c) for c in _JS_WHITESPACE)
_CONTROL_RE = re.compile("[" + _char_class(_is_control) + "]")
_WS_RE = re.compile("[" + _WS_CLASS + "]")
# BMP only: transformers.js tests UTF-16 code units, so astral ideographs are never spaced.
_CJK_RE = re.compile("[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff]")
_MN_RE = re.compile("[" + _char_class(lambda cp: unicodedata.category(chr(cp)) == "Mn") + "]")
_PUNCT_CLASS = _char_class(_is_punct)
_WORD_RE = re.compile("[^" + _WS_CLASS + _PUNCT_CLASS + "]+|[" + _PUNCT_CLASS + "]")
_SPECIAL_RE = re.compile("(" + "|".join(re.escape(s) for s in SPECIALS) + ")")


def normalize(text):
    text = _CONTROL_RE.sub("", text)
    text = _WS_RE.sub(" ", text)
    text = _CJK_RE.sub(lambda m: " " + m.group(0) + " ", text)
    text = text.lower()
    if not text.isascii():
        text = _MN_RE.sub("", unicodedata.normalize("NFD", text))
    return text


def pre_tokenize(normalized):
    return _WORD_RE.findall(normalized)


def words(text):
    """Normalized, pre-tokenized words of raw text (special tokens not split out)."""
    return pre_tokenize(normalize(text))


class WordPiece:
    def __init__(self, vocab):
        self.vocab = list(vocab)
        self.ids = {t: i for i, t in enumerate(self.vocab)}
        self.cache = {}

    def word_ids(self, word):
        hit = self.cache.get(word)
        if hit is not None:
            return hit
        if len(word) > MAX_INPUT_CHARS_PER_WORD:
            out = [UNK]
        else:
            out, start = [], 0
            while start < len(word):
                end, piece = len(word), None
                while start < end:
                    sub = word[start:end] if start == 0 else "##" + word[start:end]
                    piece = self.ids.get(sub)
                    if piece is not None:
                        break
                    end -= 1
                if piece is None:
                    out = [UNK]
                    break
                out.append(piece)
                start = end
        if len(self.cache) < 2_000_000:
            self.cache[word] = out
        return out

    def encode(self, text, max_len=None):
        """Ids of [CLS] text [SEP]; with max_len, the text is truncated to fit max_len ids."""
        ids = [CLS]
        for part in _SPECIAL_RE.split(text) if "[" in text else [text]:
            if part in SPECIALS:
                ids.append(SPECIALS.index(part))
                continue
            for w in words(part):
                ids.extend(self.word_ids(w))
            if max_len is not None and len(ids) >= max_len - 1:
                break
        if max_len is not None:
            ids = ids[:max_len - 1]
        ids.append(SEP)
        return ids


def train_vocab(texts, vocab_size, min_char_count=20, log=print):
    """A WordPiece vocabulary by frequency: specials, then characters (bare and '##'), then
    whole words and frequent word prefixes / '##' suffixes scored by the characters they cover,
    until vocab_size. Simple on purpose: fidelity of encoding matters more than vocabulary quality.
    """
    word_counts = collections.Counter()
    for t in texts:
        word_counts.update(words(t))
    log(f"vocab: {len(word_counts)} distinct words")
    first, inner = collections.Counter(), collections.Counter()
    for w, c in word_counts.items():
        first[w[0]] += c
        for ch in w[1:]:
            inner[ch] += c
    vocab = list(SPECIALS)
    vocab += sorted(ch for ch, c in first.items() if c >= min_char_count)
    vocab += sorted("##" + ch for ch, c in inner.items() if c >= min_char_count)
    have = set(vocab)
    # Whole words first (most frequent, up to 3/4 of what is left), then prefixes and '##'
    # suffixes of length 2..8 of the remaining words, scored count*(len-1): a piece saves
    # len-1 tokens over single characters.
    words_end = len(vocab) + (vocab_size - len(vocab)) * 3 // 4
    for w, _ in word_counts.most_common():
        if len(vocab) >= words_end:
            break
        if w not in have:
            vocab.append(w)
            have.add(w)
    budget = vocab_size - len(vocab)
    scores = collections.Counter()
    for w, c in word_counts.items():
        if w in have or len(w) < 3:
            continue
        for k in range(2, min(8, len(w) - 1) + 1):
            scores[w[:k]] += c * (k - 1)
            scores["##" + w[-k:]] += c * (k - 1)
    for piece, _ in scores.most_common():
        if budget <= 0:
            break
        if piece not in have:
            vocab.append(piece)
            have.add(piece)
            budget -= 1
    return vocab


def write_hf_tokenizer(vocab, out_dir, model_max_length):
    """tokenizer.json, tokenizer_config.json, special_tokens_map.json and vocab.txt."""
    ids = {t: i for i, t in enumerate(vocab)}
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": ids[s], "content": s, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True} for s in SPECIALS],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {s: {"id": s, "ids": [ids[s]], "tokens": [s]}
                               for s in ("[CLS]", "[SEP]")},
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": MAX_INPUT_CHARS_PER_WORD, "vocab": ids},
    }
    config = {
        "tokenizer_class": "BertTokenizer", "do_lower_case": True, "tokenize_chinese_chars": True,
        "strip_accents": None, "model_max_length": model_max_length,
        "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
        "mask_token": "[MASK]", "clean_up_tokenization_spaces": True,
    }
    special_map = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                   "cls_token": "[CLS]", "mask_token": "[MASK]"}
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(out_dir, "special_tokens_map.json"), "w", encoding="utf-8") as f:
        json.dump(special_map, f, indent=2)
    with open(os.path.join(out_dir, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in vocab))


def main():
    """Encode a JSONL file with a vocab.txt and print one JSON id list per line (for checks)."""
    vocab_path, data_path, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(vocab_path, encoding="utf-8") as f:
        wp = WordPiece(line.rstrip("\n") for line in f)
    with open(data_path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= limit:
                break
            print(json.dumps(wp.encode(json.loads(line)["text"])))


if __name__ == "__main__":
    main()
