#!/usr/bin/python3
"""ViT parity fixtures for the C engine's tests: test/fixtures/vit/<case>/.

Each case directory is a small random ViT saved as Hugging Face does, plus the reference
activations and gradients for one batch of 2 images:

  config.json               HF ViTConfig (model_type "vit", architectures
                            ["ViTForImageClassification"] or ["ViTModel"], image_size,
                            patch_size, num_channels 3, qkv_bias, layer_norm_eps, hidden_act
                            "gelu" = exact erf GELU, id2label/label2id with made-up names)
  preprocessor_config.json  ViTImageProcessor settings for that image size (bilinear, 1/255,
                            mean = std = 0.5); the tests feed normalized pixels directly
  model.safetensors         all weights under canonical HF names (vit.embeddings.*,
                            vit.encoder.layer.N.*, vit.layernorm.*, classifier.*); the bare
                            ViTModel is saved as HF saves one: no "vit." prefix, and with its
                            pooler (pooler.dense.*), which attx does not use
  reference.safetensors:
    pixel_values [B,3,H,W] F16   normalized pixels, uniform in [-1, 1], F16 so that the file
                                 holds exactly the values the reference used
    logits [B,C], probs [B,C]    probs = softmax(logits)               (classifier cases)
    predicted [B] I64            argmax of logits per example          (classifier cases)
    inputs_embeds [B,N,D]        patch embeddings (Conv2d output, flattened row-major over the
                                 grid), before [CLS] and the position embeddings
    hidden.0 [B,T,D]             embeddings output: [CLS; inputs_embeds] + positions (T = N+1)
    hidden.{L+1}                 output of encoder layer L (0-based); hidden.{num_layers} is
                                 before the final LayerNorm (HF's hidden_states[-1])
    last_hidden_state [B,T,D]    after the final LayerNorm (HF's last_hidden_state)
    attn.L [B,H,T,T]             post-softmax attention probabilities of layer L
    grad_inputs_embeds, grad_hidden.L, grad_attn.L   (classifier cases)
                                 gradients of s = sum_b logits[b, predicted_b]
  Float tensors other than pixel_values are F32, computed in float64 from the stored weights
  (F32, or F16 for the "grid3" case) and rounded once; the script prints how far PyTorch's own
  float32 forward/backward is from them. Every predicted logit beats the runner-up by > 0.01.

Cases: p8 (32x32, 8x8 patches: 4x4 grid, qkv_bias, eps 1e-12), grid3 (48x48/16: 3x3 grid with
K = 768 patch features, no qkv bias, eps 1e-6, weights stored F16), rect (image [26, 40] with
8x8 patches: a 3x5 grid, the last 2 pixel rows ignored by the strided convolution, eps 1e-5),
bare (ViTModel, 16x16/4, no classifier).

The model is tools/reference/vit_ref.py (equations of HF ViT in eval mode, cross-checked there
against conv2d + nn.TransformerEncoderLayer(norm_first=True) + MHA and a hand-written version).
Seeded and deterministic. Re-run from the repo root:
    /usr/bin/python3 tools/reference/make_vit_fixtures.py [--out test/fixtures/vit]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from st_io import write_safetensors  # noqa: E402
from vit_ref import (make_config, random_params, random_pixels, forward_with_grads,  # noqa: E402
                     vit_forward, image_hw, has_head)
from make_bert_fixtures import read_safetensors  # noqa: E402

# name: (config, weight dtype, model seed, pixel seed); seeds picked so that the two images of
# each classifier case predict different classes
CASES = {
    "p8": (make_config(32, 8, 16, 2, 2, 32, labels=3, label_names=["cat", "dog", "bird"]),
           torch.float32, 301, 401),
    "grid3": (make_config(48, 16, 8, 2, 2, 16, labels=4, qkv_bias=False, layer_norm_eps=1e-6,
                          label_names=["red", "green", "blue", "gray"]), torch.float16, 304, 404),
    "rect": (make_config([26, 40], 8, 12, 2, 3, 16, labels=2, layer_norm_eps=1e-5,
                         label_names=["day", "night"]), torch.float32, 304, 404),
    "bare": (make_config(16, 4, 8, 2, 2, 16, architecture="ViTModel"), torch.float32, 304, 404),
}
BATCH = 2


def preprocessor_config(cfg):
    H, W = image_hw(cfg)
    return {"do_normalize": True, "do_rescale": True, "do_resize": True,
            "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
            "image_processor_type": "ViTImageProcessor", "resample": 2,
            "rescale_factor": 1 / 255, "size": {"height": H, "width": W}}


def reference_tensors(P, cfg, px):
    """Forward (+ backward with a classifier) in float64 from the stored weights; returns
    (dict, max |torch float32 - float64| per group)."""
    P64 = {k: v.double() for k, v in P.items()}
    P32 = {k: v.float() for k, v in P.items()}
    t = {"pixel_values": px}
    if has_head(cfg):
        o, o32 = forward_with_grads(P64, cfg, px), forward_with_grads(P32, cfg, px)
        assert torch.equal(o["predicted"], o32["predicted"])
        top2 = o["logits"].detach().topk(2, -1).values
        assert (top2[:, 0] - top2[:, 1]).min().item() > 1e-2, "argmax too close to a tie"
        logits = o["logits"].detach()
        t.update({"logits": logits, "probs": torch.softmax(logits, -1), "predicted": o["predicted"]})
    else:
        with torch.no_grad():
            o, o32 = vit_forward(P64, cfg, px), vit_forward(P32, cfg, px)
    t["inputs_embeds"] = o["inputs_embeds"].detach()
    t["last_hidden_state"] = o["last_hidden_state"].detach()
    for i, h in enumerate(o["hidden"]):
        t[f"hidden.{i}"] = h.detach()
    for i, a in enumerate(o["attn"]):
        t[f"attn.{i}"] = a.detach()
    if has_head(cfg):
        t["grad_inputs_embeds"] = o["inputs_embeds"].grad
        for i, h in enumerate(o["hidden"]):
            t[f"grad_hidden.{i}"] = h.grad
        for i, a in enumerate(o["attn"]):
            t[f"grad_attn.{i}"] = a.grad
    t = {k: (v.float() if v.is_floating_point() and k != "pixel_values" else v).contiguous()
         for k, v in t.items()}

    f32 = {"inputs_embeds": o32["inputs_embeds"], "last_hidden_state": o32["last_hidden_state"]}
    if has_head(cfg):
        f32["logits"] = o32["logits"]
        f32["grad_inputs_embeds"] = o32["inputs_embeds"].grad
    for i, h in enumerate(o32["hidden"]):
        f32[f"hidden.{i}"] = h
        if has_head(cfg):
            f32[f"grad_hidden.{i}"] = h.grad
    for i, a in enumerate(o32["attn"]):
        f32[f"attn.{i}"] = a
        if has_head(cfg):
            f32[f"grad_attn.{i}"] = a.grad
    err = {}
    for k, v in f32.items():
        g = k.split(".")[0]
        err[g] = max(err.get(g, 0.0), (v.detach() - t[k]).abs().max().item())
    return t, err


def stored_weights(P, cfg):
    """The state dict as HF writes it: ViTForImageClassification as is; a bare ViTModel without
    the "vit." prefix and with its pooler (dense D x D + tanh, unused by attx)."""
    if has_head(cfg):
        return dict(P)
    out = {k[len("vit."):]: v for k, v in P.items()}
    D = cfg["hidden_size"]
    g = torch.Generator().manual_seed(7)
    out["pooler.dense.weight"] = (torch.randn(D, D, generator=g) * 0.2).to(next(iter(P.values())).dtype)
    out["pooler.dense.bias"] = (torch.randn(D, generator=g) * 0.1).to(next(iter(P.values())).dtype)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="test/fixtures/vit")
    args = ap.parse_args()
    total = 0
    for name, (cfg, wdtype, mseed, iseed) in CASES.items():
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        cfg = dict(cfg, torch_dtype=str(wdtype).split(".")[1])
        P = random_params(cfg, mseed, dtype=wdtype)
        px = random_pixels(cfg, BATCH, iseed)
        ref, err = reference_tensors(P, cfg, px)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
        with open(os.path.join(d, "preprocessor_config.json"), "w") as f:
            json.dump(preprocessor_config(cfg), f, indent=2)
            f.write("\n")
        W = stored_weights(P, cfg)
        write_safetensors(os.path.join(d, "model.safetensors"), W, {"format": "pt"})
        meta = {"case": name, "seed": "sum_b logits[b, predicted_b]",
                "computed_in": "float64 from the stored weights",
                "generator": "tools/reference/make_vit_fixtures.py"}
        write_safetensors(os.path.join(d, "reference.safetensors"), ref, meta)

        if wdtype == torch.float32:      # read-back checks (numpy has no direct F16 view issue)
            back, _ = read_safetensors(os.path.join(d, "model.safetensors"))
            assert all(np.array_equal(back[k], W[k].numpy()) for k in W)
        size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
        total += size
        H, Wd = image_hw(cfg)
        line = f"{name}: {H}x{Wd}/{cfg['patch_size']} B={BATCH} T={ref['hidden.0'].shape[1]}"
        if has_head(cfg):
            lg = " ".join(f"{v:+.4f}" for v in ref["logits"].flatten().tolist())
            gn = ", ".join(f"{k} {ref[k].norm().item():.3g}" for k in
                           ("grad_inputs_embeds", "grad_hidden.0", "grad_attn.0"))
            line += f" predicted={ref['predicted'].tolist()} logits [{lg}] |{gn}|"
        print(f"{line}  {size} bytes")
        print("    torch float32 vs float64 max|d|: "
              + ", ".join(f"{k} {v:.1e}" for k, v in sorted(err.items())))
    print(f"total bytes written: {total}")


if __name__ == "__main__":
    main()
