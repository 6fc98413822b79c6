#!/usr/bin/python3
"""Reference BERT (BertForSequenceClassification, eval mode) in plain PyTorch, written from the
equations of BERT as Hugging Face computes it, for the parity fixtures and the timing script.

Parameters use the canonical HF names (bert.embeddings.*, bert.encoder.layer.N.*, bert.pooler.*,
classifier.*); linear weights are [out, in] and y = x W^T + b.

  emb      = LayerNorm(word[ids] + position[0..T) + token_type[0])            (= hidden.0)
  per layer (post-LN), x -> x':
    q, k, v = linear(x), split into H heads of d = hidden/H (head h owns [h*d, (h+1)*d))
    probs   = softmax(q k^T / sqrt(d) + (1 - mask[key]) * finfo.min)          (= attn.L)
    a       = LayerNorm(x + linear_o(merge(probs v)))
    x'      = LayerNorm(a + linear_out(gelu_erf(linear_in(a))))               (= hidden.L+1)
  logits   = classifier(tanh(linear_pooler(x_L[:, 0])))

bert_forward() returns every intermediate the fixtures need and can add a perturbation tensor
to any of them (used by the gradient self-checks). Run this file to perform the self-checks:
    /usr/bin/python3 tools/reference/bert_ref.py
(an independent formulation through torch.nn.TransformerEncoderLayer / nn.MultiheadAttention,
float64 torch.autograd.gradcheck, and finite differences of the retained gradients).
"""
import math

import torch
import torch.nn.functional as F

LINEARS = ("attention.self.query", "attention.self.key", "attention.self.value",
           "attention.output.dense", "intermediate.dense", "output.dense")
LAYERNORMS = ("attention.output.LayerNorm", "output.LayerNorm")


def make_config(hidden, layers, heads, intermediate, vocab=64, max_position=512, labels=2,
                layer_norm_eps=1e-12, type_vocab=2, label_names=None):
    """An HF-style BertConfig dict (what config.json holds)."""
    names = label_names or [f"LABEL_{i}" for i in range(labels)]
    assert len(names) == labels and hidden % heads == 0
    return {"architectures": ["BertForSequenceClassification"], "model_type": "bert",
            "vocab_size": vocab, "hidden_size": hidden, "num_hidden_layers": layers,
            "num_attention_heads": heads, "intermediate_size": intermediate,
            "max_position_embeddings": max_position, "type_vocab_size": type_vocab,
            "hidden_act": "gelu", "layer_norm_eps": layer_norm_eps,
            "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
            "initializer_range": 0.02, "pad_token_id": 0,
            "position_embedding_type": "absolute",
            "id2label": {str(i): n for i, n in enumerate(names)},
            "label2id": {n: i for i, n in enumerate(names)}}


def param_shapes(cfg):
    """Ordered dict name -> (shape, kind) with kind in {emb, mat, bias, ln_w, ln_b}."""
    Hd, F_, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    C = len(cfg["id2label"])
    s = {"bert.embeddings.word_embeddings.weight": ((V, Hd), "emb"),
         "bert.embeddings.position_embeddings.weight": ((cfg["max_position_embeddings"], Hd), "emb"),
         "bert.embeddings.token_type_embeddings.weight": ((cfg["type_vocab_size"], Hd), "emb"),
         "bert.embeddings.LayerNorm.weight": ((Hd,), "ln_w"),
         "bert.embeddings.LayerNorm.bias": ((Hd,), "ln_b")}
    dims = {"attention.self.query": (Hd, Hd), "attention.self.key": (Hd, Hd),
            "attention.self.value": (Hd, Hd), "attention.output.dense": (Hd, Hd),
            "intermediate.dense": (F_, Hd), "output.dense": (Hd, F_)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"bert.encoder.layer.{i}."
        for lin in LINEARS:
            s[p + lin + ".weight"] = (dims[lin], "mat")
            s[p + lin + ".bias"] = ((dims[lin][0],), "bias")
            if lin == "attention.output.dense":
                s[p + "attention.output.LayerNorm.weight"] = ((Hd,), "ln_w")
                s[p + "attention.output.LayerNorm.bias"] = ((Hd,), "ln_b")
        s[p + "output.LayerNorm.weight"] = ((Hd,), "ln_w")
        s[p + "output.LayerNorm.bias"] = ((Hd,), "ln_b")
    s["bert.pooler.dense.weight"] = ((Hd, Hd), "mat")
    s["bert.pooler.dense.bias"] = ((Hd,), "bias")
    s["classifier.weight"] = ((C, Hd), "mat")
    s["classifier.bias"] = ((C,), "bias")
    return s


def random_params(cfg, seed, mat_std=0.2, bias_std=0.1, ln_std=0.1, emb_std=0.5):
    """Seeded random float32 weights, deliberately less degenerate than HF's N(0, 0.02) init:
    matrices N(0, mat_std), biases and LayerNorm biases N(0, bias_std), LayerNorm weights
    1 + N(0, ln_std), embeddings N(0, emb_std). Deterministic: drawn in name order."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, (shape, kind) in param_shapes(cfg).items():
        z = torch.randn(shape, generator=g, dtype=torch.float32)
        if kind == "emb":
            out[name] = z * emb_std
        elif kind == "mat":
            out[name] = z * mat_std
        elif kind == "ln_w":
            out[name] = 1.0 + z * ln_std
        else:
            out[name] = z * bias_std
    return out


def _lin(P, name, x):
    return F.linear(x, P[name + ".weight"], P[name + ".bias"])


def _ln(P, name, x, eps):
    return F.layer_norm(x, (x.shape[-1],), P[name + ".weight"], P[name + ".bias"], eps)


def bert_forward(P, cfg, input_ids, attention_mask=None, inputs_embeds=None, perturb=None,
                 retain=False):
    """Forward pass. P: name -> tensor (float32 or float64). input_ids [B, T] int64;
    attention_mask [B, T] (1 = real token, 0 = padding; default all ones).
    inputs_embeds [B, T, hidden]: if given, used instead of word_embeddings[input_ids].
    perturb: optional dict {"inputs_embeds"|"attn.L"|"hidden.L": tensor} added to that
    intermediate (zero tensors make gradient probes). retain: call retain_grad() on every
    returned intermediate that requires a gradient.
    Returns dict with logits [B,C], inputs_embeds, hidden (list of L+1 [B,T,hidden]),
    attn (list of L [B,H,T,T] post-softmax probabilities, the very tensors used in probs @ v)."""
    perturb = perturb or {}
    Hd, nH = cfg["hidden_size"], cfg["num_attention_heads"]
    d = Hd // nH
    eps = cfg["layer_norm_eps"]
    B, T = input_ids.shape
    if attention_mask is None:
        attention_mask = torch.ones(B, T, dtype=torch.int64)
    dtype = P["bert.embeddings.word_embeddings.weight"].dtype

    def tap(name, t):
        if name in perturb:
            t = t + perturb[name]
        if retain and t.requires_grad:
            t.retain_grad()
        return t

    if inputs_embeds is None:
        inputs_embeds = P["bert.embeddings.word_embeddings.weight"][input_ids]
    inputs_embeds = tap("inputs_embeds", inputs_embeds)
    e = (inputs_embeds + P["bert.embeddings.position_embeddings.weight"][:T].unsqueeze(0)
         + P["bert.embeddings.token_type_embeddings.weight"][0])
    x = tap("hidden.0", _ln(P, "bert.embeddings.LayerNorm", e, eps))
    hidden, attn = [x], []
    # additive key mask [B, 1, 1, T]: 0 for real keys, finfo.min for padding
    amask = (1.0 - attention_mask.to(dtype))[:, None, None, :] * torch.finfo(dtype).min
    scale = 1.0 / math.sqrt(d)
    for i in range(cfg["num_hidden_layers"]):
        p = f"bert.encoder.layer.{i}."

        def heads(t):
            return t.view(B, T, nH, d).transpose(1, 2)           # [B, H, T, d]
        q = heads(_lin(P, p + "attention.self.query", x))
        k = heads(_lin(P, p + "attention.self.key", x))
        v = heads(_lin(P, p + "attention.self.value", x))
        scores = torch.matmul(q, k.transpose(-1, -2)) * scale + amask
        probs = tap(f"attn.{i}", torch.softmax(scores, dim=-1))
        ctx = torch.matmul(probs, v).transpose(1, 2).reshape(B, T, Hd)
        a = _ln(P, p + "attention.output.LayerNorm", x + _lin(P, p + "attention.output.dense", ctx), eps)
        f = _lin(P, p + "output.dense", F.gelu(_lin(P, p + "intermediate.dense", a)))
        x = tap(f"hidden.{i + 1}", _ln(P, p + "output.LayerNorm", a + f, eps))
        attn.append(probs)
        hidden.append(x)
    pooled = torch.tanh(_lin(P, "bert.pooler.dense", x[:, 0]))
    logits = _lin(P, "classifier", pooled)
    return {"logits": logits, "inputs_embeds": inputs_embeds, "hidden": hidden, "attn": attn}


def predicted_logit_seed(logits, predicted=None):
    """s = sum_b logits[b, predicted_b] (predicted = argmax unless given), and predicted."""
    if predicted is None:
        predicted = logits.detach().argmax(-1)
    return logits.gather(1, predicted[:, None]).sum(), predicted


def forward_with_grads(P, cfg, input_ids, attention_mask):
    """Forward with autograd on activations only (weights are constants), retain_grad on
    inputs_embeds, every hidden.L and attn.L, then backward of the predicted-logit seed."""
    P = {k: v.detach() for k, v in P.items()}
    emb = P["bert.embeddings.word_embeddings.weight"][input_ids].clone().requires_grad_(True)
    out = bert_forward(P, cfg, input_ids, attention_mask, inputs_embeds=emb, retain=True)
    s, pred = predicted_logit_seed(out["logits"])
    s.backward()
    out["predicted"] = pred
    return out


# ----------------------------------------------------------------------------------------------
# Self-checks: an independent formulation and gradient checks.

def _independent_forward(P, cfg, input_ids, attention_mask):
    """Same model through torch.nn.TransformerEncoderLayer (post-LN, gelu) for the layer
    outputs and torch.nn.MultiheadAttention (need_weights, per head) for the probabilities.
    The embedding LayerNorm, pooler and classifier are written with nn modules too."""
    Hd, nH, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    eps = cfg["layer_norm_eps"]
    dtype = P["classifier.weight"].dtype
    B, T = input_ids.shape
    emb_ln = torch.nn.LayerNorm(Hd, eps=eps).to(dtype)
    emb_ln.weight.data.copy_(P["bert.embeddings.LayerNorm.weight"])
    emb_ln.bias.data.copy_(P["bert.embeddings.LayerNorm.bias"])
    word = torch.nn.Embedding.from_pretrained(P["bert.embeddings.word_embeddings.weight"])
    pos = torch.nn.Embedding.from_pretrained(P["bert.embeddings.position_embeddings.weight"])
    typ = torch.nn.Embedding.from_pretrained(P["bert.embeddings.token_type_embeddings.weight"])
    pad = attention_mask == 0                                     # True = ignore this key
    x = emb_ln(word(input_ids) + pos(torch.arange(T)).unsqueeze(0)
               + typ(torch.zeros_like(input_ids)))
    hidden, attn = [x], []
    for i in range(L):
        p = f"bert.encoder.layer.{i}."
        layer = torch.nn.TransformerEncoderLayer(
            Hd, nH, dim_feedforward=cfg["intermediate_size"], dropout=0.0, activation="gelu",
            layer_norm_eps=eps, batch_first=True, norm_first=False).to(dtype).eval()
        sa = layer.self_attn
        W = lambda n: P[p + n + ".weight"]                        # noqa: E731
        b = lambda n: P[p + n + ".bias"]                          # noqa: E731
        with torch.no_grad():
            sa.in_proj_weight.copy_(torch.cat([W("attention.self.query"), W("attention.self.key"),
                                               W("attention.self.value")]))
            sa.in_proj_bias.copy_(torch.cat([b("attention.self.query"), b("attention.self.key"),
                                             b("attention.self.value")]))
            sa.out_proj.weight.copy_(W("attention.output.dense"))
            sa.out_proj.bias.copy_(b("attention.output.dense"))
            layer.norm1.weight.copy_(W("attention.output.LayerNorm"))
            layer.norm1.bias.copy_(b("attention.output.LayerNorm"))
            layer.linear1.weight.copy_(W("intermediate.dense"))
            layer.linear1.bias.copy_(b("intermediate.dense"))
            layer.linear2.weight.copy_(W("output.dense"))
            layer.linear2.bias.copy_(b("output.dense"))
            layer.norm2.weight.copy_(W("output.LayerNorm"))
            layer.norm2.bias.copy_(b("output.LayerNorm"))
        _, w = sa(x, x, x, key_padding_mask=pad, need_weights=True, average_attn_weights=False)
        x = layer(x, src_key_padding_mask=pad)
        attn.append(w)
        hidden.append(x)
    pooler = torch.nn.Linear(Hd, Hd).to(dtype)
    clf = torch.nn.Linear(Hd, len(cfg["id2label"])).to(dtype)
    with torch.no_grad():
        pooler.weight.copy_(P["bert.pooler.dense.weight"])
        pooler.bias.copy_(P["bert.pooler.dense.bias"])
        clf.weight.copy_(P["classifier.weight"])
        clf.bias.copy_(P["classifier.bias"])
    logits = clf(torch.tanh(pooler(x[:, 0])))
    return {"logits": logits, "hidden": hidden, "attn": attn}


def _manual_forward(P, cfg, input_ids, attention_mask):
    """A third, fully hand-written formulation (explicit mean/var LayerNorm, erf GELU,
    per-head loops, exp/sum softmax with -inf masking) to guard against shared torch kernels."""
    Hd, nH = cfg["hidden_size"], cfg["num_attention_heads"]
    d, eps = Hd // nH, cfg["layer_norm_eps"]
    B, T = input_ids.shape

    def ln(n, x):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + eps) * P[n + ".weight"] + P[n + ".bias"]

    def lin(n, x):
        return x @ P[n + ".weight"].t() + P[n + ".bias"]

    def gelu(x):
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))

    x = ln("bert.embeddings.LayerNorm",
           P["bert.embeddings.word_embeddings.weight"][input_ids]
           + P["bert.embeddings.position_embeddings.weight"][:T]
           + P["bert.embeddings.token_type_embeddings.weight"][0])
    hidden, attn = [x], []
    for i in range(cfg["num_hidden_layers"]):
        p = f"bert.encoder.layer.{i}."
        q, k, v = (lin(p + "attention.self." + n, x) for n in ("query", "key", "value"))
        ctx = torch.zeros_like(x)
        probs = torch.zeros(B, nH, T, T, dtype=x.dtype)
        for bb in range(B):
            keys = attention_mask[bb] != 0
            for h in range(nH):
                sl = slice(h * d, (h + 1) * d)
                sc = q[bb, :, sl] @ k[bb, :, sl].t() / math.sqrt(d)
                sc = sc.masked_fill(~keys[None, :], float("-inf"))
                ex = torch.exp(sc - sc.max(-1, keepdim=True).values)
                pr = ex / ex.sum(-1, keepdim=True)
                probs[bb, h] = pr
                ctx[bb, :, sl] = pr @ v[bb, :, sl]
        a = ln(p + "attention.output.LayerNorm", x + lin(p + "attention.output.dense", ctx))
        x = ln(p + "output.LayerNorm",
               a + lin(p + "output.dense", gelu(lin(p + "intermediate.dense", a))))
        hidden.append(x)
        attn.append(probs)
    logits = lin("classifier", torch.tanh(lin("bert.pooler.dense", x[:, 0])))
    return {"logits": logits, "hidden": hidden, "attn": attn}


def _max_diff(a, b, mask=None):
    """max |a-b| over all positions; mask [B,T] restricts hidden-state comparisons to real tokens."""
    m = 0.0
    for x, y in zip(a["hidden"], b["hidden"]):
        dd = (x - y).abs()
        if mask is not None:
            dd = dd[mask.bool()]
        m = max(m, dd.max().item())
    ma = max((x - y).abs().max().item() for x, y in zip(a["attn"], b["attn"]))
    ml = (a["logits"] - b["logits"]).abs().max().item()
    return m, ma, ml


def example_batch(cfg, lengths, seed, T=None):
    """[CLS] random ordinary ids (5..vocab-1) [SEP] then [PAD] (id 0), right padded."""
    g = torch.Generator().manual_seed(seed)
    T = T or max(lengths)
    ids = torch.zeros(len(lengths), T, dtype=torch.int64)
    mask = torch.zeros(len(lengths), T, dtype=torch.int64)
    for b, n in enumerate(lengths):
        assert n >= 2
        ids[b, 0], ids[b, n - 1] = 2, 3
        ids[b, 1:n - 1] = torch.randint(5, cfg["vocab_size"], (n - 2,), generator=g)
        mask[b, :n] = 1
    return ids, mask


def self_check():
    torch.set_grad_enabled(True)
    cases = [("tiny", make_config(16, 2, 2, 32, 64, 16, 2), [9]),
             ("heads4", make_config(32, 3, 4, 48, 64, 24, 3), [14]),
             ("batch", make_config(24, 2, 3, 40, 64, 20, 2, layer_norm_eps=1e-5), [12, 7, 3]),
             ("deep1head", make_config(8, 4, 1, 8, 64, 12, 4), [10, 10])]
    worst = {"float32": [0.0] * 3, "float64": [0.0] * 3}
    for name, cfg, lens in cases:
        for dtype in (torch.float32, torch.float64):
            P = {k: v.to(dtype) for k, v in random_params(cfg, 1234).items()}
            ids, mask = example_batch(cfg, lens, 99)
            with torch.no_grad():
                ref = bert_forward(P, cfg, ids, mask)
                ind = _independent_forward(P, cfg, ids, mask)
                man = _manual_forward(P, cfg, ids, mask)
            d1 = _max_diff(ref, ind, mask)
            d2 = _max_diff(ref, man)
            key = str(dtype).split(".")[1]
            worst[key] = [max(w, a, b) for w, a, b in zip(worst[key], d1, d2)]
            print(f"{name:9s} {key}: vs nn.TransformerEncoderLayer/MHA max|d| hidden {d1[0]:.2e} "
                  f"attn {d1[1]:.2e} logits {d1[2]:.2e}; vs hand-written hidden {d2[0]:.2e} "
                  f"attn {d2[1]:.2e} logits {d2[2]:.2e}")
    for k, (h, a, l) in worst.items():
        print(f"worst {k}: hidden {h:.2e} attn {a:.2e} logits {l:.2e}")
    assert max(worst["float32"]) < 1e-5 and max(worst["float64"]) < 1e-12

    # Gradients. (1) float64 gradcheck of the seed w.r.t. inputs_embeds and zero perturbations
    # of every attn.L / hidden.L, on tiny and batch (padding). (2) the retained float32 grads
    # from forward_with_grads agree with float64 central finite differences of those probes.
    for name, cfg, lens in (cases[0], cases[2]):
        P64 = {k: v.double() for k, v in random_params(cfg, 1234).items()}
        ids, mask = example_batch(cfg, lens, 99)
        with torch.no_grad():
            pred = bert_forward(P64, cfg, ids, mask)["logits"].argmax(-1)
        base = bert_forward(P64, cfg, ids, mask)
        probes = {"inputs_embeds": torch.zeros_like(base["inputs_embeds"])}
        for i in range(cfg["num_hidden_layers"]):
            probes[f"attn.{i}"] = torch.zeros_like(base["attn"][i])
        for i in range(cfg["num_hidden_layers"] + 1):
            probes[f"hidden.{i}"] = torch.zeros_like(base["hidden"][i])
        keys = list(probes)

        def seed_fn(*ts):
            out = bert_forward(P64, cfg, ids, mask, perturb=dict(zip(keys, ts)))
            return predicted_logit_seed(out["logits"], pred)[0]
        ok = torch.autograd.gradcheck(seed_fn, tuple(t.clone().requires_grad_() for t in probes.values()),
                                      eps=1e-6, atol=1e-6, rtol=1e-4)
        print(f"{name}: float64 gradcheck of seed w.r.t. inputs_embeds, attn.*, hidden.*: {ok}")

        P32 = random_params(cfg, 1234)
        out = forward_with_grads(P32, cfg, ids, mask)
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
        # padded keys get exactly zero probability and zero attention-probability gradient effect
        for t in out["attn"]:
            assert (t.detach() * (1 - mask)[:, None, None, :]).abs().max().item() == 0.0
    print("bert_ref self-check OK")


if __name__ == "__main__":
    self_check()
