#!/usr/bin/python3
"""P1's faithfulness pipeline for its "Att" and Grad-SAM baselines, in float32 PyTorch, written
from research-notes §1.3-1.4 (not P1's code): the reference of test_cmd_eval.c's check of
`attx eval --ties p1`.

What P1 does, step by step:
  - tokenizes the list of sentences it is given and pads the list to its longest input;
  - one forward with the attention probabilities (batches of 16: the attention masks make the
    batch irrelevant);
  - Att: per token, the sum over keys of A, summed over layers and heads, / (H L T_padded);
    Grad-SAM: the sum over keys of A * ReLU(dz_pred/dA), summed over layers and heads,
    / (H L T_nonpad);
  - non-players ([CLS], [SEP], padding) set to -inf; for each bin k in {0, 10, 20, 50} %,
    k_n = ceil(n k / 100) and torch.topk(scores, k_n) on the whole padded vector;
  - comprehensiveness: the top tokens -> [MASK]; sufficiency: every other player -> [MASK];
    comp = sum_k [p(x) - p(x_comp)] / 5, suff = sum_k [p(x) - p(x_suff)] / 5 with p the
    softmax probability of the class predicted on x.

The model is bert_ref.bert_forward (checked against Hugging Face's BERT elsewhere); the
tokenizer wordpiece_ref (Hugging Face's BertTokenizer). sst2-short is selected as attx does:
the SST-2 dev sentences with 1..15 WordPiece tokens, in file order.

    /work/venv/bin/python tools/reference/p1_ref.py data/sst2-bert.safetensors ../shared/data/sst2/dev.tsv 10 \
        --shap > test/fixtures/p1/sst2-bert-short10.json

With --shap (a Python with shap, see shap_ref.py) it adds P1's SHAP: shap.Explainer(f, tokenizer)
on each sentence (shap_ref.p1_shap_setup: class 1's logit-odds, shap's Text masker and tree,
500 evaluations), the [CLS]/[SEP] values dropped, the tokens ranked by |value|.
"""
import csv
import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bert_ref import bert_forward  # noqa: E402
from st_io import read_attx_model  # noqa: E402
from wordpiece_ref import encode  # noqa: E402

K = [0, 10, 20, 50]


def comp_suff(P, cfg, ids, amask, scores, n_players, predicted, p_full, special):
    """P1's get_masked_input_ids + calc_faithfulness for one batch: scores [B, T] with -inf at
    the non-players; returns per-example comp and suff."""
    B, T = ids.shape
    mask_id = cfg["attx.vocab"].index("[MASK]")
    comp_ids, suff_ids = [], []
    for b in range(B):
        for k in K:
            n_mask = math.ceil(n_players[b] * k / 100)
            keep = torch.isin(ids[b], special)
            c, s = ids[b].clone(), ids[b].clone()
            if n_mask == 0:
                s = torch.where(keep, s, torch.tensor(mask_id))
            else:
                top = torch.topk(scores[b], k=n_mask, dim=0).indices
                keep_s = keep.clone()
                keep_s[top] = True
                s = torch.where(keep_s, s, torch.tensor(mask_id))
                rest = sorted(set(range(1, n_players[b] + 1)) - set(top.tolist()))
                keep_c = keep.clone()
                keep_c[rest] = True
                c = torch.where(keep_c, c, torch.tensor(mask_id))
            comp_ids.append(c)
            suff_ids.append(s)
    rep = amask.repeat_interleave(len(K), dim=0)
    with torch.no_grad():
        pc = torch.softmax(bert_forward(P, cfg, torch.stack(comp_ids), rep)["logits"], -1)
        ps = torch.softmax(bert_forward(P, cfg, torch.stack(suff_ids), rep)["logits"], -1)
    target = predicted.repeat_interleave(len(K))
    pc = pc.gather(1, target[:, None]).view(B, len(K))
    ps = ps.gather(1, target[:, None]).view(B, len(K))
    comp = ((p_full[:, None] - pc).sum(1) / (len(K) + 1)).tolist()
    suff = ((p_full[:, None] - ps).sum(1) / (len(K) + 1)).tolist()
    return comp, suff


def main():
    model_path, dev_path, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with_shap = "--shap" in sys.argv[4:]
    cfg, P = read_attx_model(model_path)
    vocab = {t: i for i, t in enumerate(cfg["attx.vocab"])}
    cls, sep, pad = vocab["[CLS]"], vocab["[SEP]"], vocab["[PAD]"]
    sentences, texts = [], []
    with open(dev_path, newline="", encoding="utf-8") as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(rows)
        for label, text in rows:
            ids = encode(text, vocab)
            if 1 <= len(ids) <= 15:
                sentences.append([cls] + ids + [sep])
                texts.append(text)
            if len(sentences) == limit:
                break
    T = max(len(s) for s in sentences)   # P1 pads the list it is given to its longest input
    ids = torch.tensor([s + [pad] * (T - len(s)) for s in sentences])
    amask = torch.tensor([[1] * len(s) + [0] * (T - len(s)) for s in sentences])
    n_players = [len(s) - 2 for s in sentences]
    special = torch.tensor([cls, sep, pad])
    valid = (amask == 1) & (ids != cls) & (ids != sep)

    # one forward; dz_pred/dA through zero perturbations of the probabilities (bert_ref's taps)
    Pd = {k: v.detach() for k, v in P.items()}
    L, H = cfg["num_hidden_layers"], cfg["num_attention_heads"]
    B = ids.shape[0]
    zeros = {f"attn.{i}": torch.zeros(B, H, T, T, requires_grad=True) for i in range(L)}
    out = bert_forward(Pd, cfg, ids, amask, perturb=zeros)
    predicted = out["logits"].detach().argmax(-1)
    p_full = torch.softmax(out["logits"].detach(), -1).gather(1, predicted[:, None])[:, 0]
    out["logits"].gather(1, predicted[:, None]).sum().backward()
    A = [a.detach() for a in out["attn"]]
    dA = [zeros[f"attn.{i}"].grad for i in range(L)]

    att = torch.cat(A, dim=1).sum(dim=-1).sum(dim=1) / (H * L * T)        # P1's Att
    gsam = torch.cat([a * torch.relu(g) for a, g in zip(A, dA)], dim=1).sum(dim=-1).sum(dim=1)
    gsam = gsam / (H * L * amask.sum(1, keepdim=True))                    # Grad-SAM
    result = {"model": os.path.basename(model_path), "padded_length": T, "examples": []}
    per = {}
    methods = [("att", att), ("grad-sam", gsam)]
    if with_shap:
        import numpy as np
        import shap
        from shap_ref import p1_shap_setup
        _, _, tokenizer, f = p1_shap_setup(model_path)
        np.random.seed(1337)   # P1's set_seed before its loop
        explainer = shap.Explainer(f, tokenizer)
        shap_abs = torch.full((len(texts), T), 0.0)
        for b, text in enumerate(texts):
            values = explainer([text]).values[0]
            assert len(values) == len(sentences[b]), "shap's tokens are not attx's"
            shap_abs[b, 1:len(values) - 1] = torch.tensor(abs(values[1:-1]), dtype=torch.float32)
        methods.append(("shap", shap_abs))
    for name, s in methods:
        masked = s.masked_fill(~valid, float("-inf"))
        per[name] = comp_suff(P, cfg, ids, amask, masked, n_players, predicted, p_full, special)
        tied = [len(set(masked[b, 1:n + 1].tolist())) == 1 for b, n in enumerate(n_players)]
        per[name + ".tied"] = tied
    for b in range(len(sentences)):
        result["examples"].append({
            "n_players": n_players[b], "predicted": int(predicted[b]),
            "comp": {m: per[m][0][b] for m, _ in methods},
            "suff": {m: per[m][1][b] for m, _ in methods},
            "all_tied": {m: per[m + ".tied"][b] for m, _ in methods}})
    json.dump(result, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
