#!/usr/bin/python3
"""A tiny BertForSequenceClassification checkpoint saved by torch.save, as many fine-tuned BERTs
ship: test/fixtures/tiny_bert_bin/{config.json, vocab.txt, pytorch_model.bin}.

The state dict uses the legacy LayerNorm.gamma/beta names in the encoder, keeps the I64
bert.embeddings.position_ids buffer and a pretraining-head tensor the classifier never uses,
so that `attx convert` must rename, skip and check. expected.safetensors holds the tensors
`attx convert` must produce: canonical HF names, same values, nothing else.
Run from the repository root:  /usr/bin/python3 tools/reference/make_tiny_bert_bin.py
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from st_io import write_safetensors  # noqa: E402

torch.manual_seed(7)
out = "test/fixtures/tiny_bert_bin"
V, H, L, NH, F, P, TV, C = 24, 8, 2, 2, 16, 12, 2, 3
config = {"architectures": ["BertForSequenceClassification"], "model_type": "bert",
          "vocab_size": V, "hidden_size": H, "num_hidden_layers": L, "num_attention_heads": NH,
          "intermediate_size": F, "max_position_embeddings": P, "type_vocab_size": TV,
          "hidden_act": "gelu", "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.1,
          "attention_probs_dropout_prob": 0.1, "pad_token_id": 0,
          "id2label": {"0": "World", "1": "Sports", "2": "Business"},
          "label2id": {"World": 0, "Sports": 1, "Business": 2}}


def r(*shape):
    return torch.randn(*shape) * 0.2


state, canonical = {}, {}


def put(name, t, stored_name=None):
    state[stored_name or name] = t
    canonical[name] = t


put("bert.embeddings.word_embeddings.weight", r(V, H))
put("bert.embeddings.position_embeddings.weight", r(P, H))
put("bert.embeddings.token_type_embeddings.weight", r(TV, H))
put("bert.embeddings.LayerNorm.weight", 1 + r(H))
put("bert.embeddings.LayerNorm.bias", r(H))
state["bert.embeddings.position_ids"] = torch.arange(P).unsqueeze(0)
for i in range(L):
    p = f"bert.encoder.layer.{i}."
    for lin, (o, n) in {"attention.self.query": (H, H), "attention.self.key": (H, H),
                        "attention.self.value": (H, H), "attention.output.dense": (H, H),
                        "intermediate.dense": (F, H), "output.dense": (H, F)}.items():
        put(p + lin + ".weight", r(o, n))
        put(p + lin + ".bias", r(o))
    for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
        put(p + ln + ".weight", 1 + r(H), p + ln + ".gamma")      # legacy names on disk
        put(p + ln + ".bias", r(H), p + ln + ".beta")
put("bert.pooler.dense.weight", r(H, H))
put("bert.pooler.dense.bias", r(H))
# the classifier stored transposed-then-transposed back: a non-contiguous view on disk
cls_t = r(H, C)
put("classifier.weight", cls_t.t())
put("classifier.bias", r(C))
state["cls.predictions.bias"] = r(V)                               # unused pretraining head

os.makedirs(out, exist_ok=True)
torch.save(state, os.path.join(out, "pytorch_model.bin"))
with open(os.path.join(out, "config.json"), "w") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
with open(os.path.join(out, "vocab.txt"), "w") as f:
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "match", "market",
             "election", "won", "lost", "shares", "team", "vote", "##s", "##ed", "rise", "fall",
             "goal", "bank", "minister", ".", ","]
    assert len(words) == V
    f.write("\n".join(words) + "\n")
write_safetensors("test/fixtures/tiny_bert_bin.expected.safetensors",
                  {k: v.contiguous() for k, v in canonical.items()})
print(f"{len(state)} stored tensors, {len(canonical)} canonical")
