#!/usr/bin/python3
"""BERT parity fixtures for the C engine's tests: test/fixtures/bert/<case>/.

Each case directory is a small random BertForSequenceClassification saved as Hugging Face
does, plus the reference activations and gradients for one input batch:

  config.json          HF BertConfig (model_type "bert", architectures
                       ["BertForSequenceClassification"], sizes, layer_norm_eps, hidden_act
                       "gelu" = exact erf GELU, id2label/label2id with made-up names)
  vocab.txt            64 lines: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4, then 59 ordinary
                       lowercase words / ##wordpieces (ids differ from bert-base; fine)
  model.safetensors    all weights, canonical HF names (bert.embeddings.*, bert.encoder.layer.N.*,
                       bert.pooler.dense.*, classifier.*), F32
  reference.safetensors, for the batch of B sequences padded to length T:
    input_ids [B,T] I64         [CLS] random ids in 5..63 [SEP] then [PAD] (0), right padded
    attention_mask [B,T] I64    1 = real token, 0 = padding (token_type_ids are all 0)
    logits [B,C], probs [B,C]   probs = softmax(logits)
    predicted [B] I64           argmax of logits per example
    inputs_embeds [B,T,hidden]  word-embedding rows, before positions are added
    hidden.0 [B,T,hidden]       embeddings output (after the embedding LayerNorm)
    hidden.{L+1}                output of encoder layer L (0-based)
    attn.L [B,H,T,T]            post-softmax attention probabilities of layer L (the tensor used
                                in probs @ v); padded keys have probability exactly 0
    grad_inputs_embeds, grad_hidden.L, grad_attn.L
                                gradients of s = sum_b logits[b, predicted_b] (each example's
                                predicted-class logit, pre-softmax; examples are independent so
                                this equals per-example backward passes)
  All float tensors are F32. They are computed in float64 from the (float32) stored weights and
  rounded once, so they are the exact answer for these weights; the script prints how far
  PyTorch's own float32 forward/backward is from them (a floor for the C test tolerances).
  The header's __metadata__ records the case name, seed rule and mask convention.

Note on padding: grad_attn.L is generally NOT zero in padded key columns (ds/dp = grad_ctx . v
there, even though p = 0), and is zero in padded query rows; grad_hidden.L and
grad_inputs_embeds are zero at padded positions, grad_hidden.{num_layers} is zero except at
position 0 (only [CLS] feeds the pooler). Padded query rows of attn.L are ordinary distributions
over the real keys (HF masks keys only). Every predicted logit beats the runner-up by > 0.01.

The model is tools/reference/bert_ref.py (equations of HF BERT in eval mode, cross-checked there
against torch.nn.TransformerEncoderLayer). Seeded and deterministic. Re-run from the repo root:
    /usr/bin/python3 tools/reference/make_bert_fixtures.py [--out test/fixtures/bert]
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from st_io import write_safetensors  # noqa: E402
from bert_ref import (make_config, random_params, forward_with_grads,  # noqa: E402
                      example_batch)

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
         "the", "a", "of", "and", "to", "in", "is", "was", "it", "for",
         "on", "with", "as", "not", "but", "good", "bad", "movie", "film", "great",
         "plot", "actor", "story", "very", "really", "boring", "fun", "love", "hate", "time",
         "team", "game", "win", "lost", "market", "price", "stock", "rain", "sun", "city",
         "##s", "##ing", "##ed", "##ly", "##er", "##est", "##ness", "##ful", "##less", "un",
         "re", "pre", "##tion", "##able", ".", ",", "!", "?", "'"]
assert len(VOCAB) == 64 and len(set(VOCAB)) == 64

# name: (config, lengths, model seed, input seed)
CASES = {
    "tiny": (make_config(16, 2, 2, 32, vocab=64, max_position=16, labels=2,
                         label_names=["negative", "positive"]), [9], 101, 201),
    "heads4": (make_config(32, 3, 4, 48, vocab=64, max_position=24, labels=3,
                           label_names=["world", "sports", "business"]), [14], 102, 202),
    "batch": (make_config(24, 2, 3, 40, vocab=64, max_position=20, labels=2, layer_norm_eps=1e-5,
                          label_names=["ham", "spam"]), [12, 7, 3], 103, 203),
    "deep1head": (make_config(8, 4, 1, 8, vocab=64, max_position=12, labels=4,
                              label_names=["north", "east", "south", "west"]), [10, 10], 104, 204),
}


def reference_tensors(P32, cfg, ids, mask):
    """Forward + backward in float64 from the float32 weights; returns (dict, float32 run)."""
    P64 = {k: v.double() for k, v in P32.items()}
    o = forward_with_grads(P64, cfg, ids, mask)
    o32 = forward_with_grads(P32, cfg, ids, mask)
    assert torch.equal(o["predicted"], o32["predicted"])
    top2 = o["logits"].detach().topk(2, -1).values
    assert (top2[:, 0] - top2[:, 1]).min().item() > 1e-2, "argmax too close to a tie"
    logits = o["logits"].detach()
    t = {"input_ids": ids, "attention_mask": mask, "logits": logits,
         "probs": torch.softmax(logits, -1), "predicted": o["predicted"],
         "inputs_embeds": o["inputs_embeds"].detach()}
    for i, h in enumerate(o["hidden"]):
        t[f"hidden.{i}"] = h.detach()
    for i, a in enumerate(o["attn"]):
        t[f"attn.{i}"] = a.detach()
    t["grad_inputs_embeds"] = o["inputs_embeds"].grad
    for i, h in enumerate(o["hidden"]):
        t[f"grad_hidden.{i}"] = h.grad
    for i, a in enumerate(o["attn"]):
        t[f"grad_attn.{i}"] = a.grad
    t = {k: (v.float() if v.is_floating_point() else v).contiguous() for k, v in t.items()}

    # how far torch float32 is from the float64 answer, per group
    f32 = {"logits": o32["logits"].detach(), "grad_inputs_embeds": o32["inputs_embeds"].grad}
    for i, h in enumerate(o32["hidden"]):
        f32[f"hidden.{i}"], f32[f"grad_hidden.{i}"] = h.detach(), h.grad
    for i, a in enumerate(o32["attn"]):
        f32[f"attn.{i}"], f32[f"grad_attn.{i}"] = a.detach(), a.grad
    err = {}
    for k, v in f32.items():
        g = k.split(".")[0]
        err[g] = max(err.get(g, 0.0), (v - t[k]).abs().max().item())
    return t, err


def read_safetensors(path):
    """Read-back check of what we wrote (numpy only)."""
    np_dt = {"F32": np.float32, "I64": np.int64}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[a:b], dtype=np_dt[v["dtype"]]).reshape(v["shape"])
    return out, hdr.get("__metadata__", {})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="test/fixtures/bert")
    args = ap.parse_args()
    total = 0
    for name, (cfg, lens, mseed, iseed) in CASES.items():
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        P = random_params(cfg, mseed)
        ids, mask = example_batch(cfg, lens, iseed)
        ref, err = reference_tensors(P, cfg, ids, mask)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
        with open(os.path.join(d, "vocab.txt"), "w") as f:
            f.write("\n".join(VOCAB) + "\n")
        write_safetensors(os.path.join(d, "model.safetensors"), P, {"format": "pt"})
        meta = {"case": name, "seed": "sum_b logits[b, predicted_b]",
                "mask": "(1 - attention_mask[key]) * finfo.min",
                "computed_in": "float64 from the F32 weights",
                "generator": "tools/reference/make_bert_fixtures.py"}
        write_safetensors(os.path.join(d, "reference.safetensors"), ref, meta)

        back, _ = read_safetensors(os.path.join(d, "reference.safetensors"))
        assert set(back) == set(ref) and all(np.array_equal(back[k], ref[k].numpy()) for k in ref)
        wb, _ = read_safetensors(os.path.join(d, "model.safetensors"))
        assert all(np.array_equal(wb[k], P[k].numpy()) for k in P)

        size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
        total += size
        lg = " ".join(f"{v:+.4f}" for v in ref["logits"].flatten().tolist())
        gn = ", ".join(f"{k} {ref[k].norm().item():.3g}" for k in
                       ("grad_inputs_embeds", "grad_hidden.0", "grad_attn.0"))
        print(f"{name}: B={ids.shape[0]} T={ids.shape[1]} predicted={ref['predicted'].tolist()} "
              f"logits [{lg}]  |{gn}|  {size} bytes")
        print("    torch float32 vs float64 max|d|: "
              + ", ".join(f"{k} {v:.1e}" for k, v in sorted(err.items())))
    print(f"total bytes written: {total}")


if __name__ == "__main__":
    main()
