"""A BERT sequence classifier in plain torch with exactly Hugging Face BertForSequenceClassification's
math (post-LN, erf GELU, tanh pooler on [CLS], linear classifier) and its parameter names, so
`state_dict()` is a loadable HF checkpoint; plus the HF config (safetensors I/O: safetensors_io.py).
"""

import json
import math
import os

import torch
from torch import nn
import torch.nn.functional as F

from safetensors_io import read_safetensors, write_safetensors  # noqa: F401  (re-exported)

LAYER_NORM_EPS = 1e-12


def _dropout(p):
    # Identity when off: even p = 0 would cost a bernoulli_ draw per call in training mode.
    return nn.Dropout(p) if p > 0 else nn.Identity()


class SelfAttention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)


class DenseNorm(nn.Module):
    """dense -> dropout -> LayerNorm(x + residual): BertSelfOutput and BertOutput."""

    def __init__(self, d_in, hidden, dropout):
        super().__init__()
        self.dense = nn.Linear(d_in, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=LAYER_NORM_EPS)
        self.dropout = _dropout(dropout)

    def forward(self, x, residual):
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class Attention(nn.Module):
    def __init__(self, hidden, heads, dropout, attn_dropout):
        super().__init__()
        setattr(self, "self", SelfAttention(hidden, heads))
        self.output = DenseNorm(hidden, hidden, dropout)
        self.attn_dropout = _dropout(attn_dropout)

    def forward(self, x, additive_mask):
        sa = getattr(self, "self")
        b, t, h = x.shape
        nh = sa.heads
        dh = h // nh

        def split(y):
            return y.view(b, t, nh, dh).transpose(1, 2)

        q, k, v = split(sa.query(x)), split(sa.key(x)), split(sa.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(dh) + additive_mask
        probs = self.attn_dropout(torch.softmax(scores.float(), dim=-1).to(v.dtype))
        ctx = torch.matmul(probs, v).transpose(1, 2).reshape(b, t, h)
        return self.output(ctx, x)


class Intermediate(nn.Module):
    def __init__(self, hidden, ffn):
        super().__init__()
        self.dense = nn.Linear(hidden, ffn)

    def forward(self, x):
        return F.gelu(self.dense(x))  # erf form, as HF "gelu"


class Layer(nn.Module):
    def __init__(self, hidden, heads, ffn, dropout, attn_dropout):
        super().__init__()
        self.attention = Attention(hidden, heads, dropout, attn_dropout)
        self.intermediate = Intermediate(hidden, ffn)
        self.output = DenseNorm(ffn, hidden, dropout)

    def forward(self, x, additive_mask):
        a = self.attention(x, additive_mask)
        return self.output(self.intermediate(a), a)


class Embeddings(nn.Module):
    def __init__(self, vocab, hidden, max_pos, type_vocab, dropout):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden, padding_idx=0)
        self.position_embeddings = nn.Embedding(max_pos, hidden)
        self.token_type_embeddings = nn.Embedding(type_vocab, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=LAYER_NORM_EPS)
        self.dropout = _dropout(dropout)

    def forward(self, ids):
        pos = torch.arange(ids.shape[1], device=ids.device)
        e = self.word_embeddings(ids) + self.position_embeddings(pos)[None] + \
            self.token_type_embeddings.weight[0][None, None]
        return self.dropout(self.LayerNorm(e))


class Encoder(nn.Module):
    def __init__(self, layers, hidden, heads, ffn, dropout, attn_dropout):
        super().__init__()
        self.layer = nn.ModuleList([Layer(hidden, heads, ffn, dropout, attn_dropout) for _ in range(layers)])


class Pooler(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)

    def forward(self, x):
        return torch.tanh(self.dense(x[:, 0]))


class Bert(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embeddings = Embeddings(cfg["vocab_size"], cfg["hidden_size"], cfg["max_position_embeddings"],
                                     cfg["type_vocab_size"], cfg["hidden_dropout_prob"])
        self.encoder = Encoder(cfg["num_hidden_layers"], cfg["hidden_size"], cfg["num_attention_heads"],
                               cfg["intermediate_size"], cfg["hidden_dropout_prob"],
                               cfg["attention_probs_dropout_prob"])
        self.pooler = Pooler(cfg["hidden_size"])

    def forward(self, ids, hidden=None):
        """The last layer's hidden states; with `hidden` (a list), each layer's are appended to it."""
        mask = (ids != 0)
        # HF: (1 - mask) * finfo(dtype).min added to the scores of padded keys.
        additive = (~mask)[:, None, None, :].float() * torch.finfo(torch.float32).min
        x = self.embeddings(ids)
        for layer in self.encoder.layer:
            x = layer(x, additive)
            if hidden is not None:
                hidden.append(x)
        return x


class BertForSequenceClassification(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.bert = Bert(cfg)
        cd = cfg.get("classifier_dropout")
        self.dropout = _dropout(cfg["hidden_dropout_prob"] if cd is None else cd)
        self.classifier = nn.Linear(cfg["hidden_size"], len(cfg["id2label"]))
        self.mlm_head = None
        self.apply(self._init)

    def add_mlm_head(self):
        """HF BertOnlyMLMHead shape (dense, GELU, LayerNorm, decoder tied to the word embeddings,
        own bias), for pre-training only: save_checkpoint leaves it out."""
        h, v = self.cfg["hidden_size"], self.cfg["vocab_size"]
        self.mlm_head = MlmHead(h, v)
        self.mlm_head.apply(self._init)

    def mlm_logits(self, ids, positions, candidates=None):
        """Vocabulary logits at `positions` (a bool mask over ids) only: the 16k-wide decoder is
        the costliest matmul, so it runs on the masked tokens alone. With `candidates` (sorted
        token ids), logits over those tokens only (sampled softmax)."""
        x = self.bert(ids)[positions]
        return self.mlm_head(x, self.bert.embeddings.word_embeddings.weight, candidates)

    def _init(self, m):
        # HF BertPreTrainedModel._init_weights: normal(0, 0.02), zero biases, unit LayerNorm.
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
            if isinstance(m, nn.Embedding) and m.padding_idx is not None:
                with torch.no_grad():
                    m.weight[m.padding_idx].zero_()
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, ids, hidden=None):
        x = self.bert(ids, hidden)
        return self.classifier(self.dropout(self.bert.pooler(x)))


class MlmHead(nn.Module):
    def __init__(self, hidden, vocab):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=LAYER_NORM_EPS)
        self.bias = nn.Parameter(torch.zeros(vocab))

    def forward(self, x, word_embeddings, candidates=None):
        # .float(): CPU autocast leaves layer_norm alone, and its weights are fp32.
        h = self.LayerNorm(F.gelu(self.dense(x)).float())
        if candidates is None:
            return F.linear(h, word_embeddings, self.bias)
        return F.linear(h, word_embeddings[candidates], self.bias[candidates])


def encoder_linear_weights(model):
    """The prunable tensors: attention q/k/v/output and FFN up/down weights of every layer."""
    return {n: p for n, p in model.named_parameters()
            if n.startswith("bert.encoder.layer.") and n.endswith(".weight") and "LayerNorm" not in n}


def hf_config(vocab_size, hidden, layers, heads, ffn, max_pos, labels, dropout=0.0, attn_dropout=0.0,
              classifier_dropout=0.1):
    # Dropout inside the encoder is off by default: torch's bernoulli_ costs ~40 % of a training
    # step here, and the few epochs we can afford do not overfit much.
    return {
        "architectures": ["BertForSequenceClassification"],
        "model_type": "bert",
        "vocab_size": vocab_size,
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": dropout,
        "attention_probs_dropout_prob": attn_dropout,
        "max_position_embeddings": max_pos,
        "type_vocab_size": 2,
        "initializer_range": 0.02,
        "layer_norm_eps": LAYER_NORM_EPS,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "classifier_dropout": classifier_dropout,
        "problem_type": "single_label_classification",
        "torch_dtype": "float32",
        "id2label": {str(i): l for i, l in enumerate(labels)},
        "label2id": {l: i for i, l in enumerate(labels)},
    }


def save_checkpoint(model, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(model.cfg, f, indent=2)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("mlm_head")}
    write_safetensors(state, os.path.join(out_dir, "model.safetensors"))
