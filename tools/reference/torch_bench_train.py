#!/usr/bin/python3
"""PyTorch baseline for bench_train.c: training steps of the small BERT that `attx train` makes
for the demo (4 layers, hidden 256, 4 heads, FFN 1024, vocabulary 8000, 64 positions, 2 labels),
batch 32 x sequence 64 of random ids, no dropout (so both programs compute the same thing):
forward (tools/reference/bert_ref.py), mean cross-entropy, backward to every parameter,
clip_grad_norm_(1.0), AdamW step. Prints `torch_train_tokens_per_s <value>` (median step time
of --repeat steps after 2 warm-ups). Run from the repository root:
    /usr/bin/python3 tools/reference/torch_bench_train.py --threads 2
"""
import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bert_ref import make_config, random_params, bert_forward  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = make_config(256, 4, 4, 1024, vocab=8000, max_position=64, labels=2)
    P = {k: v.detach().clone().requires_grad_(True)
         for k, v in random_params(cfg, 0, mat_std=0.02, bias_std=0.0, ln_std=0.0, emb_std=0.02).items()}
    opt = torch.optim.AdamW(list(P.values()), lr=5e-4, weight_decay=0.01)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(5, 8000, (args.batch, args.seq), generator=g)
    ids[:, 0], ids[:, -1] = 2, 3
    mask = torch.ones_like(ids)
    labels = torch.randint(0, 2, (args.batch,), generator=g)

    def step():
        opt.zero_grad(set_to_none=False)
        logits = bert_forward(P, cfg, ids, mask)["logits"]
        loss = torch.nn.functional.cross_entropy(logits, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(P.values()), 1.0)
        opt.step()

    for _ in range(2):
        step()
    ts = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        step()
        ts.append(time.perf_counter() - t0)
    print(f"torch_train_tokens_per_s {args.batch * args.seq / statistics.median(ts):.1f}")


if __name__ == "__main__":
    main()
