#!/work/venv/bin/python
"""Reference SHAP values from shap itself, as P1 computes them, for test/test_shap_text.c.

P1 (research-notes §1.3, SHAP) calls shap.Explainer(f, tokenizer) with a BERT tokenizer: shap
picks its Text masker (mask token [MASK], collapse_mask_token False) and the Partition explainer
(max_evals 500), and f(x) is log(p1 / (1 - p1)) of class 1 on the strings tokenized again,
padded to the tokenizer's max length. This script does exactly that with an attx model loaded
into PyTorch (tools/reference/bert_ref.py's BERT, weights and vocabulary from the .safetensors
file, lowercasing as attx's default), on a few SST-2 dev sentences, and writes for each one:
the text, shap's token segments, its clustering (the tree) and its values for every token
([CLS] and [SEP] included), the strings and ids of a few hand-made masks, and how often
string masking and id masking give different ids over random masks.

Needs shap and transformers (tokenizers only) in a venv, numpy < 2 for torch 1.13:
    /work/venv/bin/pip install "numpy<2" "shap==0.46.0" transformers
Run from the repository root:
    /work/venv/bin/python tools/reference/shap_ref.py
(reads ../shared/data/sst2/dev.tsv to pick the sentences; the tests read only the fixture).

One deliberate difference from P1's f: P1 computes softmax and logit in float32 from the
logits; here log(p1/(1-p1)) = z1 - logsumexp_{j != 1} z_j is taken in float64 from the same
float32 logits, as attx does, because float32 rounding of 1 - p1 alone moves the value by up to
~1e-4 for confident predictions, which would hide the algorithmic agreement tested at 1e-5.
"""
import inspect
import json
import os
import random
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bert_ref import bert_forward  # noqa: E402
from st_io import read_attx_model  # noqa: E402

import shap  # noqa: E402
import transformers  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MODEL = os.path.join(ROOT, "data", "sst2-bert.safetensors")
DEV = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "sst2", "dev.tsv"))
OUT = os.path.join(ROOT, "test", "fixtures", "shap", "p1_shap.json")
SEED = 1337
N_PLAIN, N_SUBWORD, MAX_TOKENS = 5, 3, 14
RANDOM_MASKS = 200
HAND_MADE = [
    "it's good (really), fine.",
    "Well... I can't say (honestly) it's bad, but it isn't GREAT! Or is it?",
    "  The film (a remake (of a remake)) and the gutterball scene , sadly , fail .",
    "an [MASK] film, and [SEP] or not",
    "half-baked, over-heated: 1990s detox and Gutterball's end.",
]

def p1_shap_setup(model_path):
    """(cfg, P, tokenizer, f) for shap.Explainer(f, tokenizer) as P1 calls it, on an attx model:
    a fast BERT tokenizer from the model's vocabulary and P1's f (class 1's logit-odds on the
    strings tokenized again, padded to the model's length)."""
    cfg, P = read_attx_model(model_path)
    vocab_lines = cfg["attx.vocab"]
    max_len = cfg["max_position_embeddings"]
    cls = getattr(transformers, "BertTokenizerFast", transformers.BertTokenizer)
    if "vocab" in inspect.signature(cls.__init__).parameters:   # transformers 5: a dict
        tokenizer = cls(vocab={t: i for i, t in enumerate(vocab_lines)}, do_lower_case=True, model_max_length=max_len)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            vocab = os.path.join(tmp, "vocab.txt")
            with open(vocab, "w", encoding="utf-8") as f:
                f.write("\n".join(vocab_lines) + "\n")
            tokenizer = cls(vocab_file=vocab, do_lower_case=True, model_max_length=max_len)
    assert tokenizer.is_fast, "shap's Text masker needs offsets: a fast tokenizer"

    def logits_of(enc):
        with torch.no_grad():
            out = bert_forward(P, cfg, torch.tensor(enc["input_ids"], dtype=torch.int64),
                               torch.tensor(enc["attention_mask"], dtype=torch.int64))
        return out["logits"].double().numpy()

    def f(x):   # P1's f: class 1's logit-odds on the strings tokenized again, padded to max length
        enc = tokenizer([str(v) for v in x], padding="max_length", max_length=max_len, truncation=True)
        z = logits_of(enc)
        others = np.delete(z, 1, axis=1)
        m = others.max(axis=1, keepdims=True)
        return z[:, 1] - (m[:, 0] + np.log(np.exp(others - m).sum(axis=1)))

    return cfg, P, tokenizer, f


def main():
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    cfg, P, tokenizer, f = p1_shap_setup(MODEL)

    # the sentences: the first short ones of the dev set without and with word pieces
    plain, subword = [], []
    with open(DEV, encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            text = line.rstrip("\n").split("\t")[1].strip()   # label, content
            toks = tokenizer.tokenize(text)
            if len(toks) >= MAX_TOKENS:
                continue
            has_piece = any(t.startswith("##") for t in toks)
            if has_piece and len(subword) < N_SUBWORD:
                subword.append(text)
            elif not has_piece and len(plain) < N_PLAIN:
                plain.append(text)
            if len(plain) == N_PLAIN and len(subword) == N_SUBWORD:
                break

    cases = []
    for text in plain + subword:
        np.random.seed(SEED)
        explainer = shap.Explainer(f, tokenizer)
        sv = explainer([text])
        masker = explainer.masker
        tree = masker.clustering(text)
        masker._update_s_cache(text)
        segments = [str(v) for v in masker._segments_s]
        ids = [int(v) for v in masker._tokenized_s]
        M = len(ids)
        # hand-made masks (True = kept over all M tokens): each content token removed alone, and
        # every content token removed
        masks = []
        for i in range(1, M - 1):
            m = np.ones(M, dtype=bool)
            m[i] = False
            masks.append(m)
        m = np.ones(M, dtype=bool)
        m[1:M - 1] = False
        masks.append(m)
        mask_cases = []
        for m in masks:
            s = str(masker(m, text)[0][0])
            mask_cases.append({"kept": [int(v) for v in m], "text": s,
                               "ids": tokenizer(s, truncation=True)["input_ids"]})
        # string masking against id masking over random masks of the content tokens
        rng = np.random.RandomState(SEED)
        differ = 0
        for _ in range(RANDOM_MASKS):
            m = np.ones(M, dtype=bool)
            m[1:M - 1] = rng.randint(0, 2, M - 2).astype(bool)
            by_text = tokenizer(str(masker(m, text)[0][0]), truncation=True)["input_ids"]
            by_ids = [v if m[t] else tokenizer.mask_token_id for t, v in enumerate(ids)]
            differ += by_text != by_ids
        cases.append({
            "text": text,
            "ids": ids,
            "segments": segments,
            "tree": [[int(r[0]), int(r[1])] for r in tree],
            "tree_size": [int(r[3]) for r in tree],
            "values": [float(v) for v in sv.values[0]],
            "base_value": float(np.ravel(sv.base_values)[0]),
            "full_value": float(f([text])[0]),
            "evaluations": int(explainer.last_eval_count) + 2,
            "masks": mask_cases,
            "random_masks": RANDOM_MASKS,
            "random_masks_differ": int(differ),
        })
        print(f"{len(ids):3d} tokens, {differ:3d}/{RANDOM_MASKS} masks differ: {text}")
    # hand-made texts for the tree's rules alone (apostrophes, parentheses, commas, connectors,
    # sentence ends, capitals, word pieces, a control token)
    trees = []
    masker = shap.maskers.Text(tokenizer)
    for text in HAND_MADE:
        masker._update_s_cache(text)
        tree = masker.clustering(text)
        trees.append({"text": text, "segments": [str(v) for v in masker._segments_s],
                      "ids": [int(v) for v in masker._tokenized_s],
                      "tree": [[int(r[0]), int(r[1])] for r in tree], "tree_size": [int(r[3]) for r in tree]})
    doc = {
        "about": "shap.Explainer(f, tokenizer) as P1 calls it, on data/sst2-bert.safetensors; "
                 "written by tools/reference/shap_ref.py",
        "shap_version": shap.__version__,
        "transformers_version": transformers.__version__,
        "model": "data/sst2-bert.safetensors",
        "max_evals": 500,
        "f": "log(p1/(1-p1)) of class 1 = z1 - logsumexp(other logits), float64 from float32 logits",
        "cases": cases,
        "trees": trees,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    print("wrote", os.path.relpath(OUT, ROOT))


if __name__ == "__main__":
    main()
