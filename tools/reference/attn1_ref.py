#!/usr/bin/python3
"""Reference for attn1, the one-layer [CLS]-query attention classifier of Lopardo et al.
(ICML 2024), written from its definition (see ../shared/research-notes.md section 2.1), and the
fixture of test/test_attn1.c.

  basic_english(text)   torchtext's basic_english: lower(), then re.sub of the literal patterns
                        ' " . <br /> , ( ) ! ? ; : \\s+ in that order, then split()
  build_vocab(texts)    build_vocab_from_iterator(..., specials=["[cls]", "UNK"]): Counter,
                        sorted by (-count, token), max_tokens cut, specials out, min_freq
  encode(vocab, text, T) ids of "[cls] " + text, the first T kept, padded with UNK
  forward(P, ids, cfg)  float64, autograd; returns logits, alpha [B,K,1,T] and e [B,T,d_e]
                        with their gradients retained
    e_t     = W_e[x_t] + PE(t)   PE(t)_{2i} = sin(t 10000^{-2i/d}), PE(t)_{2i+1} = cos(...)
    head i: q_0 = W_q^i e_0, k_t = W_k^i e_t, v_t = W_v^i e_t (head i owns rows i*d..(i+1)*d)
            alpha_t = softmax_t(q_0 . k_t / sqrt(d_att)) over all T positions
            f_i = W_l^i sum_t alpha_t v_t    (W_l^i = columns i*d_out..(i+1)*d_out of W_l)
    logits  = mean_i f_i

Running this file checks the reference against an independent per-head, per-position loop
formulation and Theorem 4.1's closed-form gradient, then writes test/fixtures/attn1/:
  config.json, vocab.txt (built from corpus.txt), corpus.txt, model.safetensors (F32, P2's
  tensor names as attx stores them), reference.safetensors:
    input_ids [B,T] I64 (the encodings of texts in __metadata__ text.0, text.1)
    logits [B,C], alpha [B,K,1,T], inputs_embeds [B,T,d_e] (e, positions included)
    grad1_alpha, grad1_inputs_embeds: gradients of sum_b logits[b,1] (P2 explains class 1)
    gradp_alpha, gradp_inputs_embeds: gradients of sum_b logits[b,pred_b]
    eq19_terms [B,T]: Eq. (19)'s per-position terms for class 1 (all-UNK document as baseline)
  basic_english.json: tricky strings and their tokens.
With --imdb ../shared/data/imdb it prints the size and hash of the vocabulary of the train
split and the hash of 2,000 test reviews encoded with it instead (the numbers test_attn1.c
checks when ../shared is there).
All float tensors are F32, computed in float64 from the stored float32 weights.
    /usr/bin/python3 tools/reference/attn1_ref.py [--out test/fixtures/attn1]
"""
import argparse
import collections
import json
import math
import os
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from st_io import write_safetensors  # noqa: E402

_PATTERNS = [(r"\'", " '  "), (r"\"", ""), (r"\.", " . "), (r"<br \/>", " "), (r",", " , "),
             (r"\(", " ( "), (r"\)", " ) "), (r"\!", " ! "), (r"\?", " ? "), (r"\;", " "),
             (r"\:", " "), (r"\s+", " ")]
_COMPILED = [(re.compile(p), r) for p, r in _PATTERNS]


def basic_english(text):
    line = text.lower()
    for pattern, replacement in _COMPILED:
        line = pattern.sub(replacement, line)
    return line.split()


def build_vocab(texts, max_tokens=None, min_freq=1, specials=("[cls]", "UNK")):
    counter = collections.Counter()
    for t in texts:
        counter.update(basic_english(t))
    ordered = sorted(counter.items(), key=lambda x: (-x[1], x[0]))
    if max_tokens is not None:
        ordered = ordered[:max_tokens - len(specials)]
    ordered = collections.OrderedDict(ordered)
    for s in specials:
        ordered.pop(s, None)
    return list(specials) + [tok for tok, c in ordered.items() if c >= min_freq]


def encode(vocab, text, T):
    index = {tok: i for i, tok in enumerate(vocab)}
    unk = index["UNK"]
    ids = [index.get(tok, unk) for tok in basic_english("[cls] " + text)][:T]
    return ids + [unk] * (T - len(ids))


def positions(T, D):
    pe = torch.zeros(T, D, dtype=torch.float64)
    for t in range(T):
        for i in range(0, D, 2):
            angle = t * 10000.0 ** (-i / D)
            pe[t, i] = math.sin(angle)
            if i + 1 < D:
                pe[t, i + 1] = math.cos(angle)
    return pe


def forward(P, ids, cfg, grad=False):
    """P: name -> float64 tensor; ids: [B, T] long. Returns dict with logits, alpha, e (with
    grad: e is a leaf requiring a gradient and alpha retains its own)."""
    K, da, do = cfg["num_attention_heads"], cfg["attention_head_size"], cfg["value_head_size"]
    B, T = ids.shape
    W = P["attn1.word_embeddings.weight"]
    e = W[ids] + positions(T, cfg["hidden_size"]).to(W.dtype)
    if grad:
        e = e.detach().requires_grad_(True)
    q = (e[:, 0] @ P["attn1.query.weight"].T).view(B, K, 1, da)
    k = (e @ P["attn1.key.weight"].T).view(B, T, K, da).transpose(1, 2)
    v = (e @ P["attn1.value.weight"].T).view(B, T, K, do).transpose(1, 2)
    alpha = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(da), dim=-1)      # [B, K, 1, T]
    if alpha.requires_grad:
        alpha.retain_grad()
    ctx = (alpha @ v).transpose(1, 2).reshape(B, K * do)                       # [B, K*do]
    logits = ctx @ P["attn1.classifier.weight"].T / K
    return {"logits": logits, "alpha": alpha, "e": e}


def forward_loops(P, ids, cfg):
    """The same function as plain loops over heads and positions (an independent formulation)."""
    K, da, do = cfg["num_attention_heads"], cfg["attention_head_size"], cfg["value_head_size"]
    B, T = ids.shape
    pe = positions(T, cfg["hidden_size"])
    out = torch.zeros(B, P["attn1.classifier.weight"].shape[0], dtype=torch.float64)
    for b in range(B):
        e = [P["attn1.word_embeddings.weight"][ids[b, t]] + pe[t] for t in range(T)]
        for i in range(K):
            Wq = P["attn1.query.weight"][i * da:(i + 1) * da]
            Wk = P["attn1.key.weight"][i * da:(i + 1) * da]
            Wv = P["attn1.value.weight"][i * do:(i + 1) * do]
            Wl = P["attn1.classifier.weight"][:, i * do:(i + 1) * do]
            q0 = Wq @ e[0]
            s = torch.stack([q0 @ (Wk @ e[t]) / math.sqrt(da) for t in range(T)])
            a = torch.exp(s - s.max())
            a = a / a.sum()
            vt = sum(a[t] * (Wv @ e[t]) for t in range(T))
            out[b] += Wl @ vt / K
    return out


def eq19_terms(P, ids, cfg, cls, unk):
    """Eq. (19)'s per-position terms (3/2)(1/K) sum_i W_l^i[cls] (alpha_t v_t - alpha~_t v~_t),
    ~ = the all-UNK document ([cls] kept), alpha~ with the original [CLS] query; [B, T], per
    head and position in loops (P2's LIME approximation, research-notes section 2.4)."""
    K, da, do = cfg["num_attention_heads"], cfg["attention_head_size"], cfg["value_head_size"]
    B, T = ids.shape
    pe = positions(T, cfg["hidden_size"])
    W = P["attn1.word_embeddings.weight"]
    out = torch.zeros(B, T, dtype=torch.float64)
    for b in range(B):
        e = [W[ids[b, t]] + pe[t] for t in range(T)]
        eu = [e[0]] + [W[unk] + pe[t] for t in range(1, T)]
        for i in range(K):
            Wq = P["attn1.query.weight"][i * da:(i + 1) * da]
            Wk = P["attn1.key.weight"][i * da:(i + 1) * da]
            Wv = P["attn1.value.weight"][i * do:(i + 1) * do]
            wl = P["attn1.classifier.weight"][cls, i * do:(i + 1) * do]
            q0 = Wq @ e[0]
            a = torch.softmax(torch.stack([q0 @ (Wk @ x) for x in e]) / math.sqrt(da), 0)
            au = torch.softmax(torch.stack([q0 @ (Wk @ x) for x in eu]) / math.sqrt(da), 0)
            for t in range(T):
                out[b, t] += 1.5 / K * (a[t] * (wl @ (Wv @ e[t])) - au[t] * (wl @ (Wv @ eu[t])))
    return out


def theorem_41(P, ids, cfg, cls):
    """Closed-form d logits[b, cls] / d e_t for t >= 1 (Lopardo et al., Theorem 4.1)."""
    K, da, do = cfg["num_attention_heads"], cfg["attention_head_size"], cfg["value_head_size"]
    B, T = ids.shape
    with torch.no_grad():
        r = forward(P, ids, cfg)
        e, alpha = r["e"], r["alpha"]
        g = torch.zeros_like(e)
        for i in range(K):
            Wq = P["attn1.query.weight"][i * da:(i + 1) * da]
            Wk = P["attn1.key.weight"][i * da:(i + 1) * da]
            Wv = P["attn1.value.weight"][i * do:(i + 1) * do]
            wl = P["attn1.classifier.weight"][cls, i * do:(i + 1) * do]
            for b in range(B):
                q0 = Wq @ e[b, 0]
                a = alpha[b, i, 0]
                lv = (e[b] @ Wv.T) @ wl                      # [T]: W_l v_t
                fi = (a * lv).sum()
                for t in range(1, T):
                    g[b, t] += a[t] * (Wv.T @ wl + (lv[t] - fi) * (Wk.T @ q0) / math.sqrt(da)) / K
    return g


def make_config(V, T, D, K, da, do, labels=("negative", "positive")):
    return {"model_type": "attx-attn1", "vocab_size": V, "hidden_size": D, "num_attention_heads": K,
            "attention_head_size": da, "value_head_size": do, "max_position_embeddings": T,
            "pad_token_id": 1, "id2label": {str(i): n for i, n in enumerate(labels)}}


def random_params(cfg, seed, scale=0.5):
    """float32 weights: embedding N(0, 1) as P2's init, the rest Uniform(-scale, scale) (wider
    than P2's 0.1 so that the attention is far from uniform)."""
    g = torch.Generator().manual_seed(seed)
    V, D, K = cfg["vocab_size"], cfg["hidden_size"], cfg["num_attention_heads"]
    da, do, C = cfg["attention_head_size"], cfg["value_head_size"], len(cfg["id2label"])

    def uniform(*shape):
        return (torch.rand(*shape, generator=g, dtype=torch.float32) * 2 - 1) * scale

    return {"attn1.word_embeddings.weight": torch.randn(V, D, generator=g, dtype=torch.float32),
            "attn1.query.weight": uniform(K * da, D), "attn1.key.weight": uniform(K * da, D),
            "attn1.value.weight": uniform(K * do, D), "attn1.classifier.weight": uniform(C, K * do)}


CORPUS = [
    "The movie was great, really great!",
    "A boring film. The plot (if any) was thin; the actors were bored.",
    "I didn't like it: the story was bad and the ending was worse.",
    "Great acting<br />great music<br /><br />and a great story.",
    "Was it good? It was good. Good, good, good!",
    "\"Terrible\" is the word; it's a terrible, terrible movie.",
    "Fun for the whole family... the kids loved it!",
    "The director's best work so far; the plot twists are clever.",
]
TEXTS = [
    "A great film, with clever twists (and a zebra)!",
    "It's the worst movie; boring, BORING, and the plot was thin... "
    "I wanted my time back, honestly, every minute of it.",
]

CASES = [
    "Hello, World!", "I can't believe it's not butter.", "He said \"wow\"...and left",
    "line1<br />line2<br /><br />end", "<BR />caps", "<\"br />made by a quote",
    "<br;/> stays", "a<br/>b", "(parens) [brackets] {braces}", "what?!?", "semi;colon:colon",
    "tabs\tand\nnewlines\r\n  spaces\x0b\x0cvt ff", "non-breaking\u00a0space", "x\u2028y\u2029z",
    "file\x1cgroup\x1drecord\x1eunit\x1fend", "next\x85line", "zero\u200bwidth", "em\u2003space",
    "\u00c9COLE \u00d1and\u00fa", "\u0130stanbul", "KELVIN \u212a", "don't.stop",
    "1,000.50$ &amp; 100%", "''", "\u00e9moji \U0001F600!", "", "   ", "\"\"\"", "....",
    "A.B.C.", "\u1e9e stra\u00dfe", "\u2018curly\u2019 \u201cquotes\u201d", "mid-word hyphen_under",
    "UNK [CLS] [cls] unk", "end with apostrophe'", "\u3000ideographic\u3000space",
]


def fnv1a64(data, h=0xcbf29ce484222325):
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def read_imdb(path):
    with open(path, encoding="utf-8", newline="\n") as f:
        next(f)
        return [line.rstrip("\n").split("\t", 3)[3] for line in f]


def imdb_vocab_check(train, test, n_test=2000, T=256):
    """Prints what test_attn1.c's IMDb check compares with: the vocabulary of every review of
    the IMDb train TSV (header label, id, rating, text): its size, bytes and FNV-1a 64 hash;
    and the FNV-1a 64 hash of the ids (int32 little-endian) of the first n_test test reviews
    encoded with it to T positions."""
    texts = read_imdb(train)
    vocab = build_vocab(texts)
    data = "".join(t + "\n" for t in vocab).encode()
    n_tokens = data.count(b"\n")
    print(f"{train}: {len(texts)} texts, vocabulary {n_tokens} tokens, {len(data)} bytes, "
          f"FNV-1a 64 {fnv1a64(data):#018x}")
    h, cut = 0xcbf29ce484222325, 0
    index = {tok: i for i, tok in enumerate(vocab)}
    for text in read_imdb(test)[:n_test]:
        ids = [index.get(tok, 1) for tok in basic_english("[cls] " + text)]
        cut += len(ids) > T
        ids = ids[:T] + [1] * (T - min(len(ids), T))
        h = fnv1a64(b"".join(i.to_bytes(4, "little") for i in ids), h)
    print(f"{test}: first {n_test} reviews at T = {T} ({cut} truncated): ids FNV-1a 64 {h:#018x}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="test/fixtures/attn1")
    ap.add_argument("--imdb", help="only print the vocabulary check of this IMDb directory")
    args = ap.parse_args()
    if args.imdb:
        imdb_vocab_check(os.path.join(args.imdb, "train.tsv"), os.path.join(args.imdb, "test.tsv"))
        return
    torch.set_default_dtype(torch.float64)

    # tokenizer and vocabulary
    vocab = build_vocab(CORPUS)
    T, D, K, da, do = 16, 16, 3, 8, 8
    cfg = make_config(len(vocab), T, D, K, da, do)
    ids = torch.tensor([encode(vocab, t, T) for t in TEXTS])
    P32 = random_params(cfg, seed=6)
    P = {k: v.double().requires_grad_(False) for k, v in P32.items()}

    # self-checks: loop formulation, Theorem 4.1, gradcheck
    r = forward(P, ids, cfg)
    loops = forward_loops(P, ids, cfg)
    err_loop = (r["logits"] - loops).abs().max().item()
    assert err_loop < 1e-12, err_loop
    pred = r["logits"].argmax(1)
    grads = {}
    for tag, cls in (("1", torch.ones_like(pred)), ("p", pred)):
        rr = forward(P, ids, cfg, grad=True)
        rr["logits"].gather(1, cls[:, None]).sum().backward()
        grads[tag] = (rr["alpha"].grad.clone(), rr["e"].grad.clone())
    th = theorem_41(P, ids, cfg, 1)
    err_th = (th[:, 1:] - grads["1"][1][:, 1:]).abs().max().item()
    assert err_th < 1e-12, err_th
    err_th0 = (th[:, 0] - grads["1"][1][:, 0]).abs().max().item()
    E = P["attn1.word_embeddings.weight"][ids].clone().requires_grad_(True)

    def f_of_word(E_):
        P2 = dict(P)
        return forward_from_word(P2, E_, cfg)
    assert torch.autograd.gradcheck(f_of_word, (E,), eps=1e-6, atol=1e-8)
    margin = (r["logits"].max(1).values - r["logits"].min(1).values).min().item()
    print(f"loops vs batched {err_loop:.2e}; Theorem 4.1 vs autograd (t>=1) {err_th:.2e}, "
          f"at t=0 {err_th0:.2e} (differs there, as expected); gradcheck ok; margin {margin:.3f}")
    assert margin > 0.01

    # float32 torch for the same weights: a floor for the C tolerance
    with torch.no_grad():
        r32 = forward(dict(P32), ids, cfg)
    print(f"float32 torch vs float64: logits {(r32['logits'] - r['logits']).abs().max().item():.2e}, "
          f"alpha {(r32['alpha'] - r['alpha']).abs().max().item():.2e}")

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(tok + "\n" for tok in vocab))
    with open(os.path.join(args.out, "corpus.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in CORPUS))
    write_safetensors(os.path.join(args.out, "model.safetensors"), P32, {"format": "pt"})
    f32 = lambda t: t.detach().float().contiguous()  # noqa: E731
    ref = {"input_ids": ids.long(), "logits": f32(r["logits"]), "alpha": f32(r["alpha"]),
           "inputs_embeds": f32(r["e"]),
           "grad1_alpha": f32(grads["1"][0]), "grad1_inputs_embeds": f32(grads["1"][1]),
           "gradp_alpha": f32(grads["p"][0]), "gradp_inputs_embeds": f32(grads["p"][1]),
           "eq19_terms": f32(eq19_terms(P, ids, cfg, 1, vocab.index("UNK")))}
    meta = {"text.0": TEXTS[0], "text.1": TEXTS[1], "seed": "6",
            "made_by": "tools/reference/attn1_ref.py"}
    write_safetensors(os.path.join(args.out, "reference.safetensors"), ref, meta)
    cases = [{"text": c, "tokens": basic_english(c)} for c in CASES]
    with open(os.path.join(args.out, "basic_english.json"), "w") as f:
        json.dump({"cases": cases}, f, indent=1, ensure_ascii=True)
        f.write("\n")
    print(f"wrote {args.out}: vocabulary {len(vocab)}, T {T}, d_e {D}, {K} heads of {da}/{do}, "
          f"logits {r['logits'].tolist()}, {len(cases)} tokenizer cases")


def forward_from_word(P, word, cfg):
    """forward() from the word-embedding rows (for gradcheck)."""
    K, da, do = cfg["num_attention_heads"], cfg["attention_head_size"], cfg["value_head_size"]
    B, T, D = word.shape
    e = word + positions(T, D)
    q = (e[:, 0] @ P["attn1.query.weight"].T).view(B, K, 1, da)
    k = (e @ P["attn1.key.weight"].T).view(B, T, K, da).transpose(1, 2)
    v = (e @ P["attn1.value.weight"].T).view(B, T, K, do).transpose(1, 2)
    alpha = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(da), dim=-1)
    return ((alpha @ v).transpose(1, 2).reshape(B, K * do) @ P["attn1.classifier.weight"].T) / K


if __name__ == "__main__":
    main()
