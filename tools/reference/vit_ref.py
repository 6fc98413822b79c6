#!/usr/bin/python3
"""Reference ViT (ViTForImageClassification and a bare ViTModel, eval mode) in plain PyTorch,
written from the equations of ViT as Hugging Face computes it, for the parity fixtures and the
timing script.

Parameters use the canonical HF names (vit.embeddings.*, vit.encoder.layer.N.*, vit.layernorm.*,
classifier.*); linear weights are [out, in] and y = x W^T + b. The patch projection is the
Conv2d weight [D, C, P, P]; its bias [D].

  patches  = the gh x gw grid of P x P pixel squares, gh = H // P, gw = W // P (pixels past
             the last whole patch are ignored, as the strided convolution ignores them),
             numbered row-major (n = row * gw + col), each flattened in (channel, y, x) order
  emb      = patches W_p^T + b_p                             [B, N, D]   (= inputs_embeds)
  x0       = [cls; emb] + position_embeddings                [B, N+1, D] (= hidden.0)
  per layer (pre-LN), x -> x':
    h       = LayerNorm_before(x)
    q, k, v = linear(h) (no bias when qkv_bias is false), H heads of d = D/H
    probs   = softmax(q k^T / sqrt(d))                      (= attn.L; no mask)
    x       = x + linear_o(merge(probs v))
    x'      = x + linear_out(gelu_erf(linear_in(LayerNorm_after(x))))    (= hidden.L+1)
  last_hidden_state = LayerNorm_final(x_L)   (hidden.L is before this LayerNorm, as HF's
                                              hidden_states[-1] is)
  logits   = classifier(last_hidden_state[:, 0])   (absent in a bare ViTModel)

vit_forward() returns every intermediate the fixtures need and can add a perturbation tensor to
any of them (used by the gradient self-checks). Run this file to perform the self-checks:
    /usr/bin/python3 tools/reference/vit_ref.py
(an independent formulation through torch.nn.functional.conv2d, nn.TransformerEncoderLayer with
norm_first=True and nn.MultiheadAttention; a hand-written one with per-patch and per-head loops;
float64 torch.autograd.gradcheck; finite differences of the retained float32 gradients).
"""
import math

import torch
import torch.nn.functional as F

LINEARS = ("attention.attention.query", "attention.attention.key", "attention.attention.value",
           "attention.output.dense", "intermediate.dense", "output.dense")
QKV = LINEARS[:3]


def make_config(image_size, patch_size, hidden, layers, heads, intermediate, labels=2,
                qkv_bias=True, layer_norm_eps=1e-12, label_names=None, channels=3,
                architecture="ViTForImageClassification"):
    """An HF-style ViTConfig dict (what config.json holds). image_size: int or [height, width]."""
    names = label_names or [f"LABEL_{i}" for i in range(labels)]
    assert len(names) == labels and hidden % heads == 0
    return {"architectures": [architecture], "model_type": "vit",
            "image_size": image_size, "patch_size": patch_size, "num_channels": channels,
            "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
            "intermediate_size": intermediate, "hidden_act": "gelu",
            "layer_norm_eps": layer_norm_eps, "qkv_bias": qkv_bias,
            "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
            "initializer_range": 0.02, "encoder_stride": patch_size,
            "id2label": {str(i): n for i, n in enumerate(names)},
            "label2id": {n: i for i, n in enumerate(names)}}


def image_hw(cfg):
    s = cfg["image_size"]
    return (s, s) if isinstance(s, int) else (s[0], s[1])


def grid(cfg):
    """(gh, gw): patch rows and columns."""
    H, W = image_hw(cfg)
    P = cfg["patch_size"]
    return H // P, W // P


def has_head(cfg):
    return cfg["architectures"][0] == "ViTForImageClassification"


def param_shapes(cfg):
    """Ordered dict canonical name -> (shape, kind), kind in {emb, patch, mat, bias, ln_w, ln_b}.
    A bare ViTModel has no classifier (its optional pooler is not part of attx's model)."""
    D, F_, C, P = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_channels"], cfg["patch_size"]
    gh, gw = grid(cfg)
    s = {"vit.embeddings.cls_token": ((1, 1, D), "emb"),
         "vit.embeddings.position_embeddings": ((1, gh * gw + 1, D), "emb"),
         "vit.embeddings.patch_embeddings.projection.weight": ((D, C, P, P), "patch"),
         "vit.embeddings.patch_embeddings.projection.bias": ((D,), "bias")}
    dims = {"attention.attention.query": (D, D), "attention.attention.key": (D, D),
            "attention.attention.value": (D, D), "attention.output.dense": (D, D),
            "intermediate.dense": (F_, D), "output.dense": (D, F_)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"vit.encoder.layer.{i}."
        s[p + "layernorm_before.weight"] = ((D,), "ln_w")
        s[p + "layernorm_before.bias"] = ((D,), "ln_b")
        for lin in LINEARS:
            s[p + lin + ".weight"] = (dims[lin], "mat")
            if cfg["qkv_bias"] or lin not in QKV:
                s[p + lin + ".bias"] = ((dims[lin][0],), "bias")
            if lin == "attention.output.dense":
                s[p + "layernorm_after.weight"] = ((D,), "ln_w")
                s[p + "layernorm_after.bias"] = ((D,), "ln_b")
    s["vit.layernorm.weight"] = ((D,), "ln_w")
    s["vit.layernorm.bias"] = ((D,), "ln_b")
    if has_head(cfg):
        s["classifier.weight"] = ((len(cfg["id2label"]), D), "mat")
        s["classifier.bias"] = ((len(cfg["id2label"]),), "bias")
    return s


def random_params(cfg, seed, mat_std=0.2, bias_std=0.1, ln_std=0.1, emb_std=0.5, patch_gain=2.0,
                  dtype=torch.float32):
    """Seeded random weights (float32, or rounded to dtype and back when dtype is float16/bf16),
    less degenerate than HF's init: matrices N(0, mat_std), the patch projection
    N(0, patch_gain / sqrt(C*P*P)), biases N(0, bias_std), LayerNorm weights 1 + N(0, ln_std),
    cls/position embeddings N(0, emb_std). Drawn in name order."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, (shape, kind) in param_shapes(cfg).items():
        z = torch.randn(shape, generator=g, dtype=torch.float32)
        if kind == "emb":
            t = z * emb_std
        elif kind == "patch":
            t = z * (patch_gain / math.sqrt(shape[1] * shape[2] * shape[3]))
        elif kind == "mat":
            t = z * mat_std
        elif kind == "ln_w":
            t = 1.0 + z * ln_std
        else:
            t = z * bias_std
        out[name] = t.to(dtype)
    return out


def random_pixels(cfg, batch, seed, dtype=torch.float16):
    """Normalized pixels [B, C, H, W] in [-1, 1] (the range of (x/255 - 0.5) / 0.5): a colour
    per image and channel, uniform in [-0.5, 0.5], plus uniform noise in [-0.5, 0.5], so that
    the images of a batch differ; rounded to dtype so that a stored file holds them exactly."""
    g = torch.Generator().manual_seed(seed)
    H, W = image_hw(cfg)
    C = cfg["num_channels"]
    colour = torch.rand(batch, C, 1, 1, generator=g, dtype=torch.float64) - 0.5
    noise = torch.rand(batch, C, H, W, generator=g, dtype=torch.float64) - 0.5
    return (colour + noise).to(dtype)


def _lin(P, name, x):
    return F.linear(x, P[name + ".weight"], P.get(name + ".bias"))


def _ln(P, name, x, eps):
    return F.layer_norm(x, (x.shape[-1],), P[name + ".weight"], P[name + ".bias"], eps)


def patch_rows(cfg, pixel_values):
    """pixels [B, C, H, W] -> [B, gh*gw, C*P*P] by reshapes (row-major grid, (c, y, x) features)."""
    P = cfg["patch_size"]
    gh, gw = grid(cfg)
    B, C = pixel_values.shape[:2]
    x = pixel_values[:, :, :gh * P, :gw * P].reshape(B, C, gh, P, gw, P)
    return x.permute(0, 2, 4, 1, 3, 5).reshape(B, gh * gw, C * P * P)


def vit_forward(P, cfg, pixel_values, inputs_embeds=None, perturb=None, retain=False):
    """Forward pass. P: canonical name -> tensor (float32 or float64); pixel_values [B, C, H, W]
    (cast to P's dtype). inputs_embeds [B, N, D]: if given, used instead of the patch projection.
    perturb: optional dict {"inputs_embeds"|"attn.L"|"hidden.L": tensor} added to that
    intermediate. retain: retain_grad() on every returned intermediate that requires a gradient.
    Returns dict: logits [B, C] (None for a bare model), last_hidden_state [B, T, D],
    inputs_embeds, hidden (L+1 of [B, T, D]), attn (L of [B, H, T, T])."""
    perturb = perturb or {}
    D, nH = cfg["hidden_size"], cfg["num_attention_heads"]
    d, eps = D // nH, cfg["layer_norm_eps"]
    dtype = P["vit.embeddings.cls_token"].dtype
    B = pixel_values.shape[0]

    def tap(name, t):
        if name in perturb:
            t = t + perturb[name]
        if retain and t.requires_grad:
            t.retain_grad()
        return t

    if inputs_embeds is None:
        W = P["vit.embeddings.patch_embeddings.projection.weight"]
        inputs_embeds = F.linear(patch_rows(cfg, pixel_values.to(dtype)), W.reshape(W.shape[0], -1),
                                 P["vit.embeddings.patch_embeddings.projection.bias"])
    inputs_embeds = tap("inputs_embeds", inputs_embeds)
    cls = P["vit.embeddings.cls_token"].expand(B, -1, -1)
    x = tap("hidden.0", torch.cat([cls, inputs_embeds], 1) + P["vit.embeddings.position_embeddings"])
    T = x.shape[1]
    hidden, attn = [x], []
    scale = 1.0 / math.sqrt(d)
    for i in range(cfg["num_hidden_layers"]):
        p = f"vit.encoder.layer.{i}."

        def heads(t):
            return t.view(B, T, nH, d).transpose(1, 2)           # [B, H, T, d]
        h = _ln(P, p + "layernorm_before", x, eps)
        q = heads(_lin(P, p + "attention.attention.query", h))
        k = heads(_lin(P, p + "attention.attention.key", h))
        v = heads(_lin(P, p + "attention.attention.value", h))
        probs = tap(f"attn.{i}", torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * scale, dim=-1))
        ctx = torch.matmul(probs, v).transpose(1, 2).reshape(B, T, D)
        x = x + _lin(P, p + "attention.output.dense", ctx)
        f = _lin(P, p + "output.dense", F.gelu(_lin(P, p + "intermediate.dense", _ln(P, p + "layernorm_after", x, eps))))
        x = tap(f"hidden.{i + 1}", x + f)
        attn.append(probs)
        hidden.append(x)
    last = _ln(P, "vit.layernorm", x, eps)
    logits = _lin(P, "classifier", last[:, 0]) if "classifier.weight" in P else None
    return {"logits": logits, "last_hidden_state": last, "inputs_embeds": inputs_embeds,
            "hidden": hidden, "attn": attn}


def predicted_logit_seed(logits, predicted=None):
    """s = sum_b logits[b, predicted_b] (predicted = argmax unless given), and predicted."""
    if predicted is None:
        predicted = logits.detach().argmax(-1)
    return logits.gather(1, predicted[:, None]).sum(), predicted


def forward_with_grads(P, cfg, pixel_values):
    """Forward with autograd on activations only (weights are constants): the patch embeddings
    are a leaf, every hidden.L and attn.L retains its gradient; then backward of the
    predicted-logit seed."""
    P = {k: v.detach() for k, v in P.items()}
    with torch.no_grad():
        emb = vit_forward(P, cfg, pixel_values)["inputs_embeds"]
    emb = emb.clone().requires_grad_(True)
    out = vit_forward(P, cfg, pixel_values, inputs_embeds=emb, retain=True)
    s, pred = predicted_logit_seed(out["logits"])
    s.backward()
    out["predicted"] = pred
    return out


# ----------------------------------------------------------------------------------------------
# Self-checks: independent formulations and gradient checks.

def _independent_forward(P, cfg, pixel_values):
    """Same model through F.conv2d (kernel = stride = P) for the patch embeddings,
    nn.TransformerEncoderLayer(norm_first=True, gelu) for the blocks and nn.MultiheadAttention
    (need_weights, per head) on LayerNorm_before(x) for the probabilities."""
    D, nH, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    eps = cfg["layer_norm_eps"]
    dtype = P["vit.embeddings.cls_token"].dtype
    B = pixel_values.shape[0]
    conv = F.conv2d(pixel_values.to(dtype), P["vit.embeddings.patch_embeddings.projection.weight"],
                    P["vit.embeddings.patch_embeddings.projection.bias"], stride=cfg["patch_size"])
    emb = conv.flatten(2).transpose(1, 2)                        # [B, N, D]
    x = torch.cat([P["vit.embeddings.cls_token"].expand(B, -1, -1), emb], 1) \
        + P["vit.embeddings.position_embeddings"]
    hidden, attn = [x], []
    for i in range(L):
        p = f"vit.encoder.layer.{i}."
        layer = torch.nn.TransformerEncoderLayer(
            D, nH, dim_feedforward=cfg["intermediate_size"], dropout=0.0, activation="gelu",
            layer_norm_eps=eps, batch_first=True, norm_first=True).to(dtype).eval()
        sa = layer.self_attn
        W = lambda n: P[p + n + ".weight"]                        # noqa: E731
        b = lambda n: P.get(p + n + ".bias", torch.zeros(D, dtype=dtype))  # noqa: E731
        with torch.no_grad():
            sa.in_proj_weight.copy_(torch.cat([W(n) for n in QKV]))
            sa.in_proj_bias.copy_(torch.cat([b(n) for n in QKV]))
            sa.out_proj.weight.copy_(W("attention.output.dense"))
            sa.out_proj.bias.copy_(b("attention.output.dense"))
            layer.norm1.weight.copy_(W("layernorm_before"))
            layer.norm1.bias.copy_(b("layernorm_before"))
            layer.linear1.weight.copy_(W("intermediate.dense"))
            layer.linear1.bias.copy_(b("intermediate.dense"))
            layer.linear2.weight.copy_(W("output.dense"))
            layer.linear2.bias.copy_(b("output.dense"))
            layer.norm2.weight.copy_(W("layernorm_after"))
            layer.norm2.bias.copy_(b("layernorm_after"))
        h = layer.norm1(x)
        _, w = sa(h, h, h, need_weights=True, average_attn_weights=False)
        x = layer(x)
        attn.append(w)
        hidden.append(x)
    final = torch.nn.LayerNorm(D, eps=eps).to(dtype)
    with torch.no_grad():
        final.weight.copy_(P["vit.layernorm.weight"])
        final.bias.copy_(P["vit.layernorm.bias"])
    last = final(x)
    logits = None
    if "classifier.weight" in P:
        clf = torch.nn.Linear(D, P["classifier.weight"].shape[0]).to(dtype)
        with torch.no_grad():
            clf.weight.copy_(P["classifier.weight"])
            clf.bias.copy_(P["classifier.bias"])
        logits = clf(last[:, 0])
    return {"logits": logits, "last_hidden_state": last, "inputs_embeds": emb, "hidden": hidden,
            "attn": attn}


def _manual_forward(P, cfg, pixel_values):
    """A third, hand-written formulation: patches cut one by one with explicit (c, y, x) loops
    over the grid, explicit mean/var LayerNorm, erf GELU, per-head exp/sum softmax."""
    D, nH = cfg["hidden_size"], cfg["num_attention_heads"]
    d, eps, Pz = D // nH, cfg["layer_norm_eps"], cfg["patch_size"]
    gh, gw = grid(cfg)
    dtype = P["vit.embeddings.cls_token"].dtype
    px = pixel_values.to(dtype)
    B, C = px.shape[:2]

    def ln(n, x):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + eps) * P[n + ".weight"] + P[n + ".bias"]

    def lin(n, x):
        y = x @ P[n + ".weight"].t()
        return y + P[n + ".bias"] if n + ".bias" in P else y

    def gelu(x):
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))

    Wp = P["vit.embeddings.patch_embeddings.projection.weight"]
    emb = torch.zeros(B, gh * gw, D, dtype=dtype)
    for bb in range(B):
        for r in range(gh):
            for c in range(gw):
                feats = torch.zeros(C * Pz * Pz, dtype=dtype)
                for ch in range(C):
                    for ky in range(Pz):
                        for kx in range(Pz):
                            feats[(ch * Pz + ky) * Pz + kx] = px[bb, ch, r * Pz + ky, c * Pz + kx]
                emb[bb, r * gw + c] = Wp.reshape(D, -1) @ feats \
                    + P["vit.embeddings.patch_embeddings.projection.bias"]
    x = torch.cat([P["vit.embeddings.cls_token"].expand(B, -1, -1), emb], 1) \
        + P["vit.embeddings.position_embeddings"]
    T = x.shape[1]
    hidden, attn = [x], []
    for i in range(cfg["num_hidden_layers"]):
        p = f"vit.encoder.layer.{i}."
        h = ln(p + "layernorm_before", x)
        q, k, v = (lin(p + n, h) for n in QKV)
        ctx = torch.zeros_like(x)
        probs = torch.zeros(B, nH, T, T, dtype=dtype)
        for bb in range(B):
            for hh in range(nH):
                sl = slice(hh * d, (hh + 1) * d)
                sc = q[bb, :, sl] @ k[bb, :, sl].t() / math.sqrt(d)
                ex = torch.exp(sc - sc.max(-1, keepdim=True).values)
                pr = ex / ex.sum(-1, keepdim=True)
                probs[bb, hh] = pr
                ctx[bb, :, sl] = pr @ v[bb, :, sl]
        x = x + lin(p + "attention.output.dense", ctx)
        x = x + lin(p + "output.dense", gelu(lin(p + "intermediate.dense", ln(p + "layernorm_after", x))))
        hidden.append(x)
        attn.append(probs)
    last = ln("vit.layernorm", x)
    logits = lin("classifier", last[:, 0]) if "classifier.weight" in P else None
    return {"logits": logits, "last_hidden_state": last, "inputs_embeds": emb, "hidden": hidden,
            "attn": attn}


def _max_diff(a, b):
    """max |a-b| over (inputs_embeds and hidden states, attention, last_hidden_state and logits)."""
    mh = max((x - y).abs().max().item() for x, y in zip(a["hidden"] + [a["inputs_embeds"]],
                                                          b["hidden"] + [b["inputs_embeds"]]))
    ma = max((x - y).abs().max().item() for x, y in zip(a["attn"], b["attn"]))
    ml = (a["last_hidden_state"] - b["last_hidden_state"]).abs().max().item()
    if a["logits"] is not None:
        ml = max(ml, (a["logits"] - b["logits"]).abs().max().item())
    return mh, ma, ml


def self_check_cases():
    """Configurations like the fixtures': square and rectangular grids, images that are not a
    multiple of the patch, qkv_bias on and off, several eps, a bare ViTModel."""
    return [("p8", make_config(32, 8, 16, 2, 2, 32, labels=3), 2),
            ("grid3", make_config(48, 16, 8, 2, 2, 16, labels=4, qkv_bias=False, layer_norm_eps=1e-6), 2),
            ("rect", make_config([26, 40], 8, 12, 3, 3, 16, labels=2, layer_norm_eps=1e-5), 2),
            ("bare", make_config(16, 4, 8, 2, 2, 16, architecture="ViTModel"), 2)]


def self_check():
    torch.set_grad_enabled(True)
    cases = self_check_cases()
    worst = {"float32": [0.0] * 3, "float64": [0.0] * 3}
    for name, cfg, B in cases:
        for dtype in (torch.float32, torch.float64):
            P = {k: v.to(dtype) for k, v in random_params(cfg, 1234).items()}
            px = random_pixels(cfg, B, 99)
            with torch.no_grad():
                ref = vit_forward(P, cfg, px)
                ind = _independent_forward(P, cfg, px)
                man = _manual_forward(P, cfg, px)
            d1, d2 = _max_diff(ref, ind), _max_diff(ref, man)
            key = str(dtype).split(".")[1]
            worst[key] = [max(w, a, b) for w, a, b in zip(worst[key], d1, d2)]
            print(f"{name:6s} {key}: vs conv2d/TransformerEncoderLayer(norm_first)/MHA max|d| hidden "
                  f"{d1[0]:.2e} attn {d1[1]:.2e} out {d1[2]:.2e}; vs hand-written hidden {d2[0]:.2e} "
                  f"attn {d2[1]:.2e} out {d2[2]:.2e}")
    for k, (h, a, l) in worst.items():
        print(f"worst {k}: hidden {h:.2e} attn {a:.2e} logits/last_hidden_state {l:.2e}")
    assert max(worst["float32"]) < 1e-4 and max(worst["float64"]) < 1e-12

    # Gradients: float64 gradcheck of the seed w.r.t. zero perturbations of inputs_embeds,
    # every attn.L and hidden.L; then the retained float32 gradients of forward_with_grads
    # against float64 central finite differences of those probes.
    for name, cfg, B in cases[:3]:
        P64 = {k: v.double() for k, v in random_params(cfg, 1234).items()}
        px = random_pixels(cfg, B, 99)
        with torch.no_grad():
            base = vit_forward(P64, cfg, px)
        pred = base["logits"].argmax(-1)
        probes = {"inputs_embeds": torch.zeros_like(base["inputs_embeds"])}
        for i in range(cfg["num_hidden_layers"]):
            probes[f"attn.{i}"] = torch.zeros_like(base["attn"][i])
        for i in range(cfg["num_hidden_layers"] + 1):
            probes[f"hidden.{i}"] = torch.zeros_like(base["hidden"][i])
        keys = list(probes)

        def seed_fn(*ts):
            out = vit_forward(P64, cfg, px, perturb=dict(zip(keys, ts)))
            return predicted_logit_seed(out["logits"], pred)[0]
        ok = torch.autograd.gradcheck(seed_fn, tuple(t.clone().requires_grad_() for t in probes.values()),
                                      eps=1e-6, atol=1e-6, rtol=1e-4)
        print(f"{name}: float64 gradcheck of seed w.r.t. inputs_embeds, attn.*, hidden.*: {ok}")

        out = forward_with_grads(random_params(cfg, 1234), cfg, px)
        assert torch.equal(out["predicted"], pred)
        retained = {"inputs_embeds": out["inputs_embeds"].grad}
        retained.update({f"attn.{i}": t.grad for i, t in enumerate(out["attn"])})
        retained.update({f"hidden.{i}": t.grad for i, t in enumerate(out["hidden"])})
        g = torch.Generator().manual_seed(5)
        worst_fd = 0.0
        for k in keys:
            flat = retained[k].reshape(-1)
            idx = torch.randint(0, flat.numel(), (12,), generator=g).tolist()
            idx.append(int(flat.abs().argmax()))
            for j in idx:
                h = 1e-5
                pp = torch.zeros_like(probes[k]).reshape(-1)
                pp[j] = h
                with torch.no_grad():
                    up = seed_fn(*[pp.view_as(probes[k]) if kk == k else probes[kk] for kk in keys])
                    dn = seed_fn(*[-pp.view_as(probes[k]) if kk == k else probes[kk] for kk in keys])
                fd = (up - dn).item() / (2 * h)
                worst_fd = max(worst_fd, abs(fd - flat[j].item()) / (1e-3 + abs(fd)))
        print(f"{name}: retained float32 grads vs float64 finite differences, worst rel err {worst_fd:.2e}")
        assert worst_fd < 1e-3
    print("vit_ref self-check OK")


if __name__ == "__main__":
    self_check()
