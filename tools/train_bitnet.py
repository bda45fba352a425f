#!/usr/bin/python3
"""train_bitnet.py - trains a tiny BitNet b1.58 (the 2B-4T architecture) on the King James Bible.

    nice -n 19 /usr/bin/python3 tools/train_bitnet.py --out build/kjv-bitnet

Needs Debian's python3-torch (1.13) and python3-numpy, and the `bible` program of bible-kjv
(with bible-kjv-text), or --corpus FILE with one "Ge1:1 text" verse per line.

What it does, deterministically for --seed:
  1. reads the KJV text; every 20th chapter is held out for evaluation (written as held-out
     text next to the model);
  2. trains its own byte-level BPE vocabulary (GPT-2 byte mapping and split rule) on the rest;
  3. trains a BitNet b1.58 model with quantization-aware training as the paper does it: in the
     forward pass every projection uses absmean ternary weights (alpha = mean|W|) and per-token
     absmax int8 activations, with straight-through gradients; sub-norms before the output and
     down projections, ReLU^2, NEOX RoPE, GQA, embedding tied to the head;
  4. writes a Hugging Face folder laid out as microsoft/bitnet-b1.58-2B-4T-bf16: config.json,
     model.safetensors (bf16 master weights, the real tensor names), tokenizer.json,
     tokenizer_config.json, generation_config.json;
  5. writes reference data of its own W1.58A8 forward pass of the bf16 weights (float32 logits
     and greedy ids for a few prompts) to --ref, for tests/test_trained.c.
"""
import argparse
import json
import math
import os
import re
import struct
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

# ---------------------------------------------------------------- corpus

VERSE = re.compile(r"^(\d?[A-Za-z]+)(\d+):(\d+) (.*)$")


def read_verses(path):
    if path:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    else:
        out = subprocess.run(["bible", "-f", "gen1:1-rev22:21"], check=True, capture_output=True,
                             stdin=subprocess.DEVNULL)
        lines = out.stdout.decode("utf-8").splitlines()
    verses = []
    for line in lines:
        m = VERSE.match(line.strip())
        if m:
            verses.append((m.group(1), int(m.group(2)), m.group(4).strip()))
    if len(verses) < 1000:
        sys.exit("train_bitnet: found %d verses; is bible-kjv installed?" % len(verses))
    return verses


def split_chapters(verses, every):
    """Chapters as text (one verse per line); every `every`-th chapter goes to the held-out set."""
    chapters, key = [], None
    for book, chap, text in verses:
        if (book, chap) != key:
            chapters.append([])
            key = (book, chap)
        chapters[-1].append(text)
    train, held = [], []
    for i, ch in enumerate(chapters):
        (held if i % every == every - 1 else train).append("\n".join(ch) + "\n")
    return train, held


# ---------------------------------------------------------------- byte-level BPE

# GPT-2's split rule; the corpus is ASCII, where these classes equal \p{L} and \p{N}.
SPLIT = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+")
GPT2_SPLIT = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"


def byte_to_unicode():
    """GPT-2's reversible map of the 256 bytes to printable characters."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


B2U = byte_to_unicode()


def word_counts(texts):
    counts = {}
    for t in texts:
        for w in SPLIT.findall(t):
            counts[w] = counts.get(w, 0) + 1
    return counts


def train_bpe(texts, n_merges):
    """Merges by frequency of adjacent pairs inside pre-tokens; ties go to the smaller pair."""
    counts = word_counts(texts)
    words = [[B2U[b] for b in w.encode("utf-8")] for w in sorted(counts)]
    freq = [counts[w] for w in sorted(counts)]
    merges = []
    for _ in range(n_merges):
        pairs = {}
        for sym, f in zip(words, freq):
            for a, b in zip(sym, sym[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + f
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merges.append(best)
        joined = best[0] + best[1]
        for i, sym in enumerate(words):
            if len(sym) < 2:
                continue
            j, out = 0, []
            while j < len(sym):
                if j + 1 < len(sym) and sym[j] == best[0] and sym[j + 1] == best[1]:
                    out.append(joined)
                    j += 2
                else:
                    out.append(sym[j])
                    j += 1
            words[i] = out
    return merges


class Tokenizer:
    def __init__(self, merges, specials):
        self.merges = merges
        self.rank = {m: i for i, m in enumerate(merges)}
        self.vocab = [B2U[b] for b in range(256)] + [a + b for a, b in merges] + specials
        self.id = {t: i for i, t in enumerate(self.vocab)}
        self.cache = {}
        self.u2b = {u: b for b, u in B2U.items()}

    def encode_word(self, w):
        if w in self.cache:
            return self.cache[w]
        sym = [B2U[b] for b in w.encode("utf-8")]
        while len(sym) > 1:
            best = min(range(len(sym) - 1), key=lambda i: (self.rank.get((sym[i], sym[i + 1]), 1 << 30), i))
            pair = (sym[best], sym[best + 1])
            if pair not in self.rank:
                break
            out, j = [], 0
            while j < len(sym):                 # every occurrence, left to right
                if j + 1 < len(sym) and (sym[j], sym[j + 1]) == pair:
                    out.append(sym[j] + sym[j + 1])
                    j += 2
                else:
                    out.append(sym[j])
                    j += 1
            sym = out
        ids = [self.id[s] for s in sym]
        self.cache[w] = ids
        return ids

    def encode(self, text):
        ids = []
        for w in SPLIT.findall(text):
            ids.extend(self.encode_word(w))
        return ids

    def decode(self, ids):
        out = bytearray()
        for i in ids:
            t = self.vocab[i]
            if t.startswith("<|"):
                continue
            out.extend(self.u2b[c] for c in t)
        return out.decode("utf-8", errors="replace")


# ---------------------------------------------------------------- model

def absmean_ternary(w):
    """alpha = mean|W| (float64 sum, like the C converter), codes = clamp(round(W/alpha), -1, 1)."""
    alpha = w.detach().abs().double().mean().float().clamp(min=1e-5)
    return (w / alpha).round().clamp(-1, 1), alpha


def act_quant(x):
    """Per-token absmax int8: s = 127/max|x|, q = clamp(round_half_even(x*s), -128, 127)."""
    amax = x.detach().abs().amax(dim=-1, keepdim=True).double().clamp(min=1e-5)
    s = (127.0 / amax).float()
    return (x * s).round().clamp(-128, 127), s


def bitlinear(x, w, exact=False):
    """Training: fake-quantized weights and activations with straight-through gradients.
    exact: the integer formulation the inference engines use, y = (sum c*q) / s * alpha."""
    c, alpha = absmean_ternary(w)
    q, s = act_quant(x)
    if exact:
        return (q @ c.t()) / s * alpha
    xq = x + (q / s - x).detach()
    wq = w + (c * alpha - w).detach()
    return F.linear(xq, wq)


def rmsnorm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


class BitNet(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        E, F_, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
        H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
        hd = E // H
        P = torch.nn.Parameter
        self.embed = P(torch.randn(V, E) * 0.02)
        self.layers = torch.nn.ModuleList()
        for _ in range(cfg["num_hidden_layers"]):
            L = torch.nn.Module()
            L.q = P(torch.randn(H * hd, E) * 0.02)
            L.k = P(torch.randn(KV * hd, E) * 0.02)
            L.v = P(torch.randn(KV * hd, E) * 0.02)
            L.o = P(torch.randn(E, H * hd) * 0.02)
            L.gate = P(torch.randn(F_, E) * 0.02)
            L.up = P(torch.randn(F_, E) * 0.02)
            L.down = P(torch.randn(E, F_) * 0.02)
            L.attn_norm = P(torch.ones(E))
            L.attn_sub_norm = P(torch.ones(H * hd))
            L.ffn_norm = P(torch.ones(E))
            L.ffn_sub_norm = P(torch.ones(F_))
            self.layers.append(L)
        self.norm = P(torch.ones(E))
        half = hd // 2
        inv = cfg["rope_theta"] ** (-2.0 * np.arange(half, dtype=np.float64) / hd)
        ang = np.arange(cfg["max_position_embeddings"], dtype=np.float64)[:, None] * inv[None, :]
        self.register_buffer("cos", torch.tensor(np.cos(ang), dtype=torch.float32), persistent=False)
        self.register_buffer("sin", torch.tensor(np.sin(ang), dtype=torch.float32), persistent=False)

    def rope(self, x):                       # (B, heads, T, hd), NEOX pairs (i, i + hd/2)
        T, half = x.shape[2], x.shape[3] // 2
        c, s = self.cos[:T], self.sin[:T]
        a, b = x[..., :half], x[..., half:]
        return torch.cat([a * c - b * s, b * c + a * s], dim=-1)

    def forward(self, ids, exact=False):
        cfg = self.cfg
        eps = cfg["rms_norm_eps"]
        E, H, KV = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
        hd = E // H
        B, T = ids.shape
        h = self.embed[ids]
        mask = torch.full((T, T), float("-inf")).triu(1)
        for L in self.layers:
            x = rmsnorm(h, L.attn_norm, eps)
            q = bitlinear(x, L.q, exact).view(B, T, H, hd).transpose(1, 2)
            k = bitlinear(x, L.k, exact).view(B, T, KV, hd).transpose(1, 2)
            v = bitlinear(x, L.v, exact).view(B, T, KV, hd).transpose(1, 2)
            q, k = self.rope(q), self.rope(k)
            k = k.repeat_interleave(H // KV, dim=1)
            v = v.repeat_interleave(H // KV, dim=1)
            att = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + mask
            a = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, H * hd)
            a = rmsnorm(a, L.attn_sub_norm, eps)
            h = h + bitlinear(a, L.o, exact)
            x = rmsnorm(h, L.ffn_norm, eps)
            t = F.relu(bitlinear(x, L.gate, exact)).square() * bitlinear(x, L.up, exact)
            t = rmsnorm(t, L.ffn_sub_norm, eps)
            h = h + bitlinear(t, L.down, exact)
        return rmsnorm(h, self.norm, eps) @ self.embed.t()

    def hf_tensors(self):
        """(name, tensor) in the names of microsoft/bitnet-b1.58-2B-4T-bf16."""
        out = [("model.embed_tokens.weight", self.embed)]
        for i, L in enumerate(self.layers):
            p = "model.layers.%d." % i
            out += [(p + "input_layernorm.weight", L.attn_norm),
                    (p + "self_attn.q_proj.weight", L.q), (p + "self_attn.k_proj.weight", L.k),
                    (p + "self_attn.v_proj.weight", L.v), (p + "self_attn.o_proj.weight", L.o),
                    (p + "self_attn.attn_sub_norm.weight", L.attn_sub_norm),
                    (p + "post_attention_layernorm.weight", L.ffn_norm),
                    (p + "mlp.gate_proj.weight", L.gate), (p + "mlp.up_proj.weight", L.up),
                    (p + "mlp.down_proj.weight", L.down),
                    (p + "mlp.ffn_sub_norm.weight", L.ffn_sub_norm)]
        return out + [("model.norm.weight", self.norm)]


# ---------------------------------------------------------------- Hugging Face folder

def write_safetensors(path, tensors):
    """bf16 tensors, data in the order given, header padded with spaces to 8 bytes."""
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors:
        raw = t.detach().to(torch.bfloat16).contiguous().view(torch.int16).numpy().astype("<i2").tobytes()
        header[name] = {"dtype": "BF16", "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


CHAT_TEMPLATE = ("{% for message in messages %}{% if loop.first %}{{ bos_token }}{% endif %}"
                 "{% if message['role'] == 'system' %}{{ 'System: ' + message['content'] + '<|eot_id|>' }}"
                 "{% elif message['role'] == 'user' %}{{ 'User: ' + message['content'] + '<|eot_id|>' }}"
                 "{% else %}{{ 'Assistant: ' + message['content'] + '<|eot_id|>' }}{% endif %}"
                 "{% endfor %}{% if add_generation_prompt %}{{ 'Assistant: ' }}{% endif %}")


def write_hf_folder(out, model, tok, specials):
    cfg = dict(model.cfg)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": cfg["bos_token_id"], "eos_token_id": cfg["eos_token_id"],
                   "do_sample": True, "temperature": 0.6, "top_p": 0.9}, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(out, "model.safetensors"), model.hf_tensors())
    n_base = 256 + len(tok.merges)
    added = [{"id": n_base + i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, s in enumerate(specials)]
    tj = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": specials[0], "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": specials[0], "type_id": 0}},
                                    {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": specials[0], "type_id": 1}},
                                    {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {specials[0]: {"id": specials[0], "ids": [n_base], "tokens": [specials[0]]}}},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": {t: i for i, t in enumerate(tok.vocab[:n_base])},
                  "merges": [a + " " + b for a, b in tok.merges]},
    }
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tj, f, ensure_ascii=False, indent=1)
        f.write("\n")
    tc = {"add_bos_token": True, "add_eos_token": False, "bos_token": specials[0], "eos_token": specials[1],
          "clean_up_tokenization_spaces": False, "model_max_length": cfg["max_position_embeddings"],
          "tokenizer_class": "PreTrainedTokenizerFast", "chat_template": CHAT_TEMPLATE,
          "added_tokens_decoder": {str(a["id"]): {k: a[k] for k in a if k != "id"} for a in added}}
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump(tc, f, indent=2)
        f.write("\n")


# ---------------------------------------------------------------- reference data

REF_PROMPTS = ["In the beginning God created", "And the LORD said unto Moses,",
               "Blessed are the poor in spirit: for", "The LORD is my shepherd;"]


def write_reference(path, ref_model, tok, bos, n_greedy):
    """Binary, little-endian:  "BNREF1\\0\\0" u32 n_prompts u32 n_vocab, then per prompt:
    u32 n_tokens, u32 n_greedy, i32 tokens[n_tokens] (BOS first), f32 logits[n_tokens][n_vocab],
    i32 greedy[n_greedy] (argmax continuation, each fed back, exact W1.58A8 forward)."""
    V = ref_model.cfg["vocab_size"]
    with open(path, "wb") as f:
        f.write(b"BNREF1\0\0" + struct.pack("<II", len(REF_PROMPTS), V))
        for p in REF_PROMPTS:
            ids = [bos] + tok.encode(p)
            with torch.no_grad():
                logits = ref_model(torch.tensor([ids]), exact=True)[0]
                seq, greedy = list(ids), []
                for _ in range(n_greedy):
                    nxt = int(ref_model(torch.tensor([seq]), exact=True)[0, -1].argmax())
                    greedy.append(nxt)
                    seq.append(nxt)
            f.write(struct.pack("<II", len(ids), n_greedy))
            f.write(np.asarray(ids, dtype="<i4").tobytes())
            f.write(logits.numpy().astype("<f4").tobytes())
            f.write(np.asarray(greedy, dtype="<i4").tobytes())
            print("ref: %r -> %r" % (p, tok.decode(greedy)), flush=True)


def bf16_copy(model):
    """The model with every weight rounded to bf16, as model.safetensors holds it (and the
    converter reads it)."""
    ref = BitNet(model.cfg)
    with torch.no_grad():
        for (_, dst), (_, src) in zip(ref.hf_tensors(), model.hf_tensors()):
            dst.copy_(src.to(torch.bfloat16).float())
    return ref


# ---------------------------------------------------------------- training

def evaluate(model, data, T, bos, n_batches, B):
    """Mean next-token loss over fixed windows of the held-out tokens."""
    model.eval()
    losses = []
    with torch.no_grad():
        starts = list(range(0, len(data) - T, T))[: n_batches * B]
        for i in range(0, len(starts), B):
            x = torch.stack([torch.cat([torch.tensor([bos]), data[s:s + T]]) for s in starts[i:i + B]])
            logits = model(x[:, :-1])
            losses.append(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1)).item())
    model.train()
    return sum(losses) / max(1, len(losses))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="build/kjv-bitnet")
    ap.add_argument("--ref", default="tests/data/trained_ref.bin")
    ap.add_argument("--corpus", default=None, help="verses 'Ge1:1 text', one a line (default: run `bible`)")
    ap.add_argument("--seed", type=int, default=1611)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--lr", type=float, default=4e-3)
    ap.add_argument("--vocab", type=int, default=1024)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--ff", type=int, default=512)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bench", type=int, default=0, help="time this many steps and stop")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    train_txt, held_txt = split_chapters(read_verses(args.corpus), 20)
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]
    merges = train_bpe(train_txt, args.vocab - 256 - len(specials))
    tok = Tokenizer(merges, specials)
    bos, eos = tok.id[specials[0]], tok.id[specials[1]]
    train_ids = torch.tensor(tok.encode("".join(train_txt)), dtype=torch.long)
    held_ids = torch.tensor(tok.encode("".join(held_txt)), dtype=torch.long)
    print("corpus: %d train tokens (%.2f bytes/token), %d held-out tokens; bpe %.0f s"
          % (len(train_ids), sum(map(len, train_txt)) / len(train_ids), len(held_ids), time.time() - t0), flush=True)

    cfg = {"architectures": ["BitNetForCausalLM"], "model_type": "bitnet", "attention_bias": False,
           "attention_dropout": 0.0, "bos_token_id": bos, "eos_token_id": eos, "hidden_act": "relu2",
           "hidden_size": args.hidden, "initializer_range": 0.02, "intermediate_size": args.ff,
           "max_position_embeddings": args.seq, "num_attention_heads": args.heads,
           "num_hidden_layers": args.layers, "num_key_value_heads": args.kv_heads,
           "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": True,
           "torch_dtype": "bfloat16", "use_cache": True, "vocab_size": len(tok.vocab),
           "quantization_config": {"linear_class": "autobitlinear", "quant_method": "bitnet",
                                   "quantization_mode": "online"}}
    model = BitNet(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    print("model: %d params (%d layers, hidden %d, ff %d, heads %d/%d, vocab %d)"
          % (n_params, args.layers, args.hidden, args.ff, args.heads, args.kv_heads, len(tok.vocab)), flush=True)
    decay = [p for p in model.parameters() if p.dim() == 2]
    flat = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": flat, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(args.seed)
    T, B, steps = args.seq, args.batch, args.bench or args.steps
    warm = min(100, steps // 10 + 1)
    t_train = time.time()
    for step in range(1, steps + 1):
        lr = args.lr * (step / warm if step <= warm else
                        0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, steps - warm))))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, len(train_ids) - T, (B,), generator=gen)
        x = torch.stack([torch.cat([torch.tensor([bos]), train_ids[s:s + T]]) for s in starts.tolist()])
        logits = model(x[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == steps:
            print("step %d/%d loss %.3f lr %.2e %.1f s" % (step, steps, loss.item(), lr, time.time() - t_train),
                  flush=True)
    if args.bench:
        print("bench: %.2f s/step" % ((time.time() - t_train) / steps))
        return
    held_loss = evaluate(model, held_ids, T, bos, 8, B)
    print("held-out: loss %.3f ppl %.2f; training %.0f s" % (held_loss, math.exp(held_loss), time.time() - t_train),
          flush=True)

    write_hf_folder(args.out, model, tok, specials)
    with open(os.path.join(args.out, "heldout.txt"), "w") as f:
        f.write("".join(held_txt))
    ref = bf16_copy(model).eval()
    os.makedirs(os.path.dirname(args.ref) or ".", exist_ok=True)
    write_reference(args.ref, ref, tok, bos, 16)
    with torch.no_grad():                    # a sample, to see that it reads as English
        seq = [bos] + tok.encode("And it came to pass")
        g = torch.Generator().manual_seed(args.seed)
        for _ in range(60):
            p = (ref(torch.tensor([seq[-T:]]), exact=True)[0, -1] / 0.7).softmax(-1)
            seq.append(int(torch.multinomial(p, 1, generator=g)))
        print("sample: " + tok.decode(seq))
    print("done in %.0f s" % (time.time() - t0))


if __name__ == "__main__":
    main()
