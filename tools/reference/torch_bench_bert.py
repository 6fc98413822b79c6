#!/usr/bin/python3
"""PyTorch timing baseline for `make bench`: a random BERT-base-sized BertForSequenceClassification
(12 layers, hidden 768, 12 heads, intermediate 3072, vocab 30522, max_position 512, 2 labels)
built by tools/reference/bert_ref.py from a seed (no files needed).

Timing (default action) prints machine-readable lines on stdout:
    torch_forward_ms <median ms>            forward under torch.no_grad (eval, no dropout)
    torch_forward_backward_ms <median ms>   forward with autograd (weights are constants; a
                                            gradient flows from inputs_embeds), retain_grad on
                                            inputs_embeds, every hidden state and every layer's
                                            attention probabilities, then backward of the
                                            predicted logit (sum over the batch)
Each is the median of --repeat runs after 2 warm-ups. Details go to stderr.

Other actions (they replace the timing unless --time is also given):
    --save DIR            write the same model as an HF directory: config.json, model.safetensors
                          (F32, canonical names) and vocab.txt copied from
                          ../shared/data/bert-vocab/vocab.txt (relative to the repository root)
    --input-ids "101 7592 ... 102"
                          run that one sequence (batch 1, no padding) and print
                          `logits <v0> <v1>` and `predicted <c>` (add --f64 to compute in
                          float64 from the F32 weights)
Examples, from the repository root:
    /usr/bin/python3 tools/reference/torch_bench_bert.py --threads 2 --seq 128 --repeat 10
    /usr/bin/python3 tools/reference/torch_bench_bert.py --save /tmp/bert-rand
    /usr/bin/python3 tools/reference/torch_bench_bert.py --input-ids "101 7592 2088 102"
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from st_io import write_safetensors  # noqa: E402
from bert_ref import make_config, random_params, bert_forward, forward_with_grads  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
VOCAB = os.path.join(REPO, "..", "shared", "data", "bert-vocab", "vocab.txt")


def base_model(seed):
    cfg = make_config(768, 12, 12, 3072, vocab=30522, max_position=512, labels=2,
                      label_names=["NEGATIVE", "POSITIVE"])
    # std 0.04 keeps activations near unit scale at width 768 (attention neither uniform nor
    # one-hot), so the logits are a meaningful cross-check; timing does not depend on it.
    P = random_params(cfg, seed, mat_std=0.04, bias_std=0.05, ln_std=0.05, emb_std=0.5)
    return cfg, P


def random_input(batch, seq, seed):
    g = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(1000, 30000, (batch, seq), generator=g)   # ordinary wordpieces
    ids[:, 0], ids[:, -1] = 101, 102                               # [CLS] ... [SEP]
    return ids, torch.ones(batch, seq, dtype=torch.int64)


def median_ms(fn, repeat, warmup=2):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts), ts


def blas_name():
    """Which BLAS library is mapped into this process (torch links libblas.so.3 via alternatives)."""
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
        for lib in ("libopenblas", "libmkl", "libblis", "libblas"):
            if lib in maps:
                return lib
    except OSError:
        pass
    return "unknown"


def main():
    ap = argparse.ArgumentParser(description="PyTorch BERT-base timing / reference (see docstring)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", metavar="DIR")
    ap.add_argument("--input-ids", metavar="IDS")
    ap.add_argument("--f64", action="store_true", help="with --input-ids: compute in float64")
    ap.add_argument("--time", action="store_true", help="also time when --save/--input-ids given")
    ap.add_argument("--param-grads", action="store_true",
                    help="timing: also compute weight gradients in the backward")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    cfg, P = base_model(args.seed)
    print(f"# built model in {time.perf_counter() - t0:.1f} s; torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}, BLAS {blas_name()}", file=sys.stderr)

    if args.save:
        os.makedirs(args.save, exist_ok=True)
        with open(os.path.join(args.save, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
        write_safetensors(os.path.join(args.save, "model.safetensors"), P, {"format": "pt"})
        shutil.copyfile(VOCAB, os.path.join(args.save, "vocab.txt"))
        print(f"# saved {args.save}", file=sys.stderr)

    if args.input_ids:
        ids = torch.tensor([[int(t) for t in args.input_ids.split()]], dtype=torch.int64)
        assert ids.shape[1] <= cfg["max_position_embeddings"]
        Q = {k: v.double() for k, v in P.items()} if args.f64 else P
        with torch.no_grad():
            logits = bert_forward(Q, cfg, ids, torch.ones_like(ids))["logits"][0]
        print("logits " + " ".join(f"{v:.9g}" for v in logits.tolist()))
        print(f"predicted {int(logits.argmax())}")

    if (args.save or args.input_ids) and not args.time:
        return

    ids, mask = random_input(args.batch, args.seq, args.seed)

    def fwd():
        with torch.no_grad():
            return bert_forward(P, cfg, ids, mask)["logits"]

    if args.param_grads:
        Pg = {k: v.detach().clone().requires_grad_(True) for k, v in P.items()}

    def fwd_bwd():
        if args.param_grads:
            for v in Pg.values():
                v.grad = None
            emb = Pg["bert.embeddings.word_embeddings.weight"][ids]
            out = bert_forward(Pg, cfg, ids, mask, inputs_embeds=emb, retain=True)
            out["logits"].gather(1, out["logits"].detach().argmax(-1)[:, None]).sum().backward()
            return out
        return forward_with_grads(P, cfg, ids, mask)

    f_ms, f_all = median_ms(fwd, args.repeat)
    fb_ms, fb_all = median_ms(fwd_bwd, args.repeat)
    print(f"# batch {args.batch} seq {args.seq} repeat {args.repeat}: forward runs "
          + " ".join(f"{t:.1f}" for t in f_all) + "; forward+backward runs "
          + " ".join(f"{t:.1f}" for t in fb_all), file=sys.stderr)
    print(f"torch_forward_ms {f_ms:.3f}")
    print(f"torch_forward_backward_ms {fb_ms:.3f}")


if __name__ == "__main__":
    main()
