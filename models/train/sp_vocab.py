"""A SentencePiece-style BPE vocabulary (Llama-2's tokenizer.json structure: BPE model with
byte_fallback, pieces with U+2581 for spaces, <0xXX> byte pieces, <unk>/<s>/</s>) as the
exporters need it: each piece with a score and a kind.

Scores: SentencePiece BPE ranks a piece by the order of the merge that created it, and
llama.cpp's SPM tokenizer (like llama2.c's) repeatedly merges the adjacent pair whose joined
piece has the highest score. tokenizer.json keeps that order in `merges`, so a merged piece
scores -(rank of the first merge producing it); pieces no merge produces (single characters,
bytes, special tokens) score 0, as SentencePiece gives them.
"""

import json
import re
from dataclasses import dataclass

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6  # llama.cpp's token types
BYTE_PIECE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


@dataclass
class SpVocab:
    pieces: list
    scores: list
    types: list
    bos_id: int
    eos_id: int
    unk_id: int
    add_bos: bool
    add_eos: bool
    add_space_prefix: bool


def byte_value(piece):
    """The byte a <0xXX> piece stands for, else None."""
    m = BYTE_PIECE.match(piece)
    return int(m.group(1), 16) if m else None


def merge_pair(merge):
    """tokenizer.json writes a merge as "a b" (older) or ["a", "b"] (newer)."""
    return tuple(merge) if isinstance(merge, list) else tuple(merge.split(" ", 1))


def prepends_space(tok):
    """Whether the tokenizer puts U+2581 before the text: Llama-2's legacy Prepend normalizer
    or a Metaspace pre-tokenizer whose prepend_scheme is not "never"."""
    parts = []
    for key in ("normalizer", "pre_tokenizer"):
        node = tok.get(key) or {}
        parts += node.get("normalizers") or node.get("pretokenizers") or [node]
    for part in parts:
        if part.get("type") == "Prepend" and part.get("prepend") == "\u2581":
            return True
        if part.get("type") == "Metaspace" and part.get("prepend_scheme", "always") != "never" and \
                part.get("add_prefix_space", True):
            return True
    return False


def special_id(tok, tok_config, name, fallback):
    """The id of the special token tokenizer_config.json names (e.g. bos_token), else fallback."""
    value = tok_config.get(name)
    if isinstance(value, dict):
        value = value.get("content")
    vocab = tok["model"]["vocab"]
    return vocab.get(value, fallback) if value else fallback


def load_sp_vocab(tokenizer_json, tokenizer_config_json=None):
    with open(tokenizer_json, encoding="utf-8") as f:
        tok = json.load(f)
    tok_config = {}
    if tokenizer_config_json:
        try:
            with open(tokenizer_config_json, encoding="utf-8") as f:
                tok_config = json.load(f)
        except FileNotFoundError:
            pass
    model = tok["model"]
    if model.get("type") != "BPE" or not model.get("byte_fallback"):
        raise ValueError(f"{tokenizer_json}: not a SentencePiece-style BPE with byte fallback "
                         f"(model type {model.get('type')}, byte_fallback {model.get('byte_fallback')})")
    vocab = dict(model["vocab"])
    for added in tok.get("added_tokens", []):
        vocab[added["content"]] = added["id"]
    size = max(vocab.values()) + 1
    pieces = [None] * size
    for piece, i in vocab.items():
        pieces[i] = piece
    missing = [i for i, p in enumerate(pieces) if p is None]
    if missing:
        raise ValueError(f"{tokenizer_json}: ids {missing[:5]} have no piece")
    scores = [0.0] * size
    scored = set()
    for rank, merge in enumerate(model.get("merges", [])):
        joined = "".join(merge_pair(merge))
        if joined in vocab and joined not in scored:
            scores[vocab[joined]] = -float(rank)
            scored.add(joined)
    specials = {a["content"] for a in tok.get("added_tokens", []) if a.get("special")}
    unk = model.get("unk_token")
    types = []
    for piece in pieces:
        if piece == unk:
            types.append(UNKNOWN)
        elif byte_value(piece) is not None:
            types.append(BYTE)
        elif piece in specials:
            types.append(CONTROL)
        else:
            types.append(NORMAL)
    return SpVocab(pieces=pieces, scores=scores, types=types,
                   bos_id=special_id(tok, tok_config, "bos_token", vocab.get("<s>", 1)),
                   eos_id=special_id(tok, tok_config, "eos_token", vocab.get("</s>", 2)),
                   unk_id=vocab.get(unk, 0) if unk else 0,
                   add_bos=tok_config.get("add_bos_token", True), add_eos=tok_config.get("add_eos_token", False),
                   add_space_prefix=prepends_space(tok))
