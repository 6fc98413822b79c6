#!/usr/bin/python3
"""PyTorch timing baseline for `make bench`: a random ViT-B/16-sized ViTForImageClassification
(224x224 images, 16x16 patches = 196 + [CLS] = 197 tokens, 12 layers, hidden 768, 12 heads,
intermediate 3072, 1000 labels) built by tools/reference/vit_ref.py from a seed (no files).

Timing prints machine-readable lines on stdout:
    torch_forward_ms <median ms>            forward under torch.no_grad (eval, no dropout)
    torch_forward_backward_ms <median ms>   forward with autograd (weights are constants; the
                                            gradient flows from the patch embeddings), retain_grad
                                            on the patch embeddings, every hidden state and every
                                            layer's attention probabilities, then backward of the
                                            predicted logit (sum over the batch)
Each is the median of --repeat runs after 2 warm-ups. Details (threads, BLAS) go to stderr.

--check DIR --pixels FILE (instead of timing): the real-size cross-check. Loads the F32 HF
directory DIR (canonical names; e.g. the one bench_vit writes), reads FILE as raw little-endian
float32 pixels [1, 3, H, W], runs the forward in float64 and prints `logits <v0> <v1> ...`.

Examples, from the repository root:
    /usr/bin/python3 tools/reference/torch_bench_vit.py --threads 2 --batch 1 --repeat 5
    /usr/bin/python3 tools/reference/torch_bench_vit.py --check build/bench/vit-base \
        --pixels build/bench/vit-base/pixels.f32
"""
import json
import argparse
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from vit_ref import make_config, random_params, random_pixels, vit_forward, forward_with_grads  # noqa: E402
from torch_bench_bert import median_ms, blas_name  # noqa: E402
from make_bert_fixtures import read_safetensors  # noqa: E402


def check(directory, pixel_file):
    with open(os.path.join(directory, "config.json")) as f:
        cfg = json.load(f)
    cfg.setdefault("architectures", ["ViTForImageClassification"])
    arrays, _ = read_safetensors(os.path.join(directory, "model.safetensors"))
    P = {k: torch.from_numpy(v.copy()).double() for k, v in arrays.items()}
    s = cfg["image_size"]
    H, W = (s, s) if isinstance(s, int) else s
    with open(pixel_file, "rb") as f:
        px = torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(1, cfg.get("num_channels", 3), H, W)
    with torch.no_grad():
        logits = vit_forward(P, cfg, px.double())["logits"][0]
    print("logits " + " ".join(f"{v:.9g}" for v in logits.tolist()))


def base_model(seed):
    cfg = make_config(224, 16, 768, 12, 12, 3072, labels=1000)
    # std 0.04 keeps activations near unit scale at width 768; timing does not depend on it
    P = random_params(cfg, seed, mat_std=0.04, bias_std=0.05, ln_std=0.05, emb_std=0.5)
    return cfg, P


def main():
    ap = argparse.ArgumentParser(description="PyTorch ViT-B/16 timing (see docstring)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check", metavar="DIR")
    ap.add_argument("--pixels", metavar="FILE")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    if args.check:
        check(args.check, args.pixels)
        return
    t0 = time.perf_counter()
    cfg, P = base_model(args.seed)
    px = random_pixels(cfg, args.batch, args.seed + 1, dtype=torch.float32)
    print(f"# built model in {time.perf_counter() - t0:.1f} s; torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}, BLAS {blas_name()}", file=sys.stderr)

    def fwd():
        with torch.no_grad():
            return vit_forward(P, cfg, px)["logits"]

    def fwd_bwd():
        return forward_with_grads(P, cfg, px)

    f_ms, f_all = median_ms(fwd, args.repeat)
    fb_ms, fb_all = median_ms(fwd_bwd, args.repeat)
    print(f"# batch {args.batch} repeat {args.repeat}: forward runs " + " ".join(f"{t:.1f}" for t in f_all)
          + "; forward+backward runs " + " ".join(f"{t:.1f}" for t in fb_all), file=sys.stderr)
    print(f"torch_forward_ms {f_ms:.3f}")
    print(f"torch_forward_backward_ms {fb_ms:.3f}")


if __name__ == "__main__":
    main()
