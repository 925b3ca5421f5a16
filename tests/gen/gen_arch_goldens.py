#!/usr/bin/python3
"""Tiny synthetic Hugging Face checkpoints of the Llama-family variants qgml
runs, with golden logits from an independent float64 PyTorch forward pass.

Writes tests/data/arch/<variant>/ for llama3-tiny, mistral-tiny, smollm-tiny
and qwen2-tiny:
  config.json              the keys transformers 4.46 writes for that model_type
  model.safetensors        seeded random weights (F32 or BF16), HF tensor names
  tokenizer.json, tokenizer_config.json
                           a small BPE vocabulary trained here, so the directory
                           is a complete checkpoint `qgml convert` accepts
  golden.json              the token ids, the greedy 16-token continuation,
                           the smallest top-1/top-2 margin along it, and (llama3)
                           the rope frequency factors HF's formula implies
  logits.npy               float64 [n_ids, vocab] logits for every position

The forward pass is written from the HF modeling code's math (RMSNorm, HF
rotate_half RoPE with the variant's inv_freq, repeat_kv GQA, SwiGLU, q/k/v
biases, tied head, Mistral's sliding-window mask) in float64 throughout; it
never goes through GGUF or llama.cpp conventions, so it checks qgml's converter
and runtime together. The greedy continuation re-runs the whole sequence at
every step (no cache), unlike qgml's incremental KV-cache decoding.

Run from the repository root: /usr/bin/python3 tests/gen/gen_arch_goldens.py
Needs Debian's python3-torch and python3-numpy; the outputs are committed and
building or testing never runs this script.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "data", "arch")
N_GREEDY = 16
# Smallest top-1/top-2 gap, relative to max |logit|, allowed along the greedy
# continuation: 20x the 1e-4 tolerance the C++ test holds qgml to.
MIN_MARGIN = 2e-3

# Text the toy BPE vocabularies are trained on; only its pair statistics matter.
CORPUS = (
    "Once upon a time there was a little girl who lived in a village near the forest. "
    "Whenever she went out, the little girl wore a red riding cloak, so everyone in the "
    "village called her Little Red Riding Hood. One morning she asked her mother if she "
    "could go to visit her grandmother as it had been a while since they had seen each other. "
    "The quick brown fox jumps over the lazy dog, and then the dog runs after the fox."
)

# Llama 3's and Qwen2's pre-tokenizer regexes, as their tokenizer.json files spell them.
LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")


# ---------------------------------------------------------------------------
# Tokenizers
# ---------------------------------------------------------------------------

def byte_unicode_table():
    """GPT-2's byte → printable character table: printable Latin-1 bytes map to
    themselves, the rest to code points from 256 up, in byte order."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def train_bpe(words, n_merges):
    """Plain BPE training: repeatedly merge the most frequent adjacent pair
    (ties broken by the pair's text, so the result is deterministic)."""
    seqs = [list(w) for w in words]
    merges = []
    for _ in range(n_merges):
        counts = {}
        for s in seqs:
            for a, b in zip(s, s[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + 1
        if not counts:
            break
        best = max(counts, key=lambda pair: (counts[pair], pair))
        merges.append(best)
        for s in seqs:
            i = 0
            while i + 1 < len(s):
                if s[i] == best[0] and s[i + 1] == best[1]:
                    s[i:i + 2] = [best[0] + best[1]]
                i += 1
    return merges


def byte_level_tokenizer(vocab_size, specials, regex, specials_first=False, bos=None):
    """A GPT-2-style byte-level BPE tokenizer.json: 256 byte tokens and merges,
    with the special tokens at the start of the id range (SmolLM) or at its
    end (Llama 3, Qwen2). `bos`: a post-processor that prepends it (Llama 3)."""
    table = byte_unicode_table()
    first = len(specials) if specials_first else 0
    vocab = {table[b]: first + b for b in range(256)}
    words = [("".join(table[c] for c in (" " + w).encode())) for w in CORPUS.split(" ")]
    merges = []
    for a, b in train_bpe(words, vocab_size - 256 - len(specials)):
        if a + b not in vocab:
            vocab[a + b] = first + len(vocab)
            merges.append([a, b])
    added = []
    for i, s in enumerate(specials):
        tid = i if specials_first else vocab_size - len(specials) + i
        if specials_first:
            vocab[s] = tid
        added.append({"id": tid, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                      "normalized": False, "special": True})
    vocab = dict(sorted(vocab.items(), key=lambda kv: kv[1]))
    if regex is None:
        pre = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    else:
        pre = {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
    post = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True}
    if bos is not None:
        bos_id = added[specials.index(bos)]["id"]
        post = {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                      {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {bos: {"id": bos, "ids": [bos_id], "tokens": [bos]}}}]}
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": None, "pre_tokenizer": pre, "post_processor": post,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }


def sentencepiece_tokenizer(vocab_size):
    """A Mistral/Llama-2-style tokenizer.json: SentencePiece BPE with byte
    fallback (<unk>, <s>, </s>, 256 <0xXX> tokens, then pieces)."""
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    words = ["\u2581" + w for w in CORPUS.split(" ")]
    for c in sorted(set("".join(words))):
        vocab[c] = len(vocab)
    merges = []
    for a, b in train_bpe(words, 4 * vocab_size):
        if len(vocab) == vocab_size:
            break
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
            merges.append([a, b])
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": True} for i, t in enumerate(["<unk>", "<s>", "</s>"])]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                           {"type": "Replace", "pattern": {"String": " "},
                                                            "content": "\u2581"}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                    {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<s>", "type_id": 1}},
                                    {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }


# ---------------------------------------------------------------------------
# safetensors
# ---------------------------------------------------------------------------

def write_safetensors(path, tensors):
    """tensors: name → (dtype "F32"/"BF16", float32 numpy array already rounded
    to the dtype). The format: u64 LE header length, JSON header (padded with
    spaces to 8 bytes), then the raw little-endian data in header order."""
    header = {"__metadata__": {"format": "pt"}}
    blobs, off = [], 0
    for name in sorted(tensors):
        dtype, arr = tensors[name]
        a = np.ascontiguousarray(arr, dtype=np.float32)
        if dtype == "F32":
            raw = a.astype("<f4").tobytes()
        else:  # BF16: the top half of each float32 (the values are already bf16-exact)
            raw = (a.view(np.uint32) >> 16).astype("<u2").tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ---------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------

def make_weights(cfg, seed, dtype, qkv_bias):
    """Seeded random weights in HF names/shapes ([out, in] for linears). Scales
    keep activations O(1) and logits spread out, so the greedy choice is
    never a near tie."""
    g = torch.Generator().manual_seed(seed)
    E, F, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = cfg.get("head_dim") or E // H

    def randn(*shape, std=1.0, mean=0.0):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * std + mean).float()

    w = {"model.embed_tokens.weight": randn(V, E)}
    for l in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % l
        w[p + "input_layernorm.weight"] = randn(E, std=0.1, mean=1.0)
        w[p + "self_attn.q_proj.weight"] = randn(H * D, E, std=E ** -0.5)
        w[p + "self_attn.k_proj.weight"] = randn(KV * D, E, std=E ** -0.5)
        w[p + "self_attn.v_proj.weight"] = randn(KV * D, E, std=E ** -0.5)
        if qkv_bias:
            w[p + "self_attn.q_proj.bias"] = randn(H * D, std=0.5)
            w[p + "self_attn.k_proj.bias"] = randn(KV * D, std=0.5)
            w[p + "self_attn.v_proj.bias"] = randn(KV * D, std=0.5)
        w[p + "self_attn.o_proj.weight"] = randn(E, H * D, std=(H * D) ** -0.5)
        w[p + "post_attention_layernorm.weight"] = randn(E, std=0.1, mean=1.0)
        w[p + "mlp.gate_proj.weight"] = randn(F, E, std=E ** -0.5)
        w[p + "mlp.up_proj.weight"] = randn(F, E, std=E ** -0.5)
        w[p + "mlp.down_proj.weight"] = randn(E, F, std=F ** -0.5)
    w["model.norm.weight"] = randn(E, std=0.1, mean=1.0)
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = randn(V, E, std=2.0 * E ** -0.5)
    if dtype == "BF16":
        w = {k: v.to(torch.bfloat16).float() for k, v in w.items()}
    return w


# ---------------------------------------------------------------------------
# The reference forward pass (float64)
# ---------------------------------------------------------------------------

def rope_inv_freq(cfg, dim):
    """HF's inv_freq: 1 / theta^(2i/dim), then the llama3 rescaling when
    rope_scaling asks for it (modeling_rope_utils' llama3 formula)."""
    theta = float(cfg["rope_theta"])
    inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    rs = cfg.get("rope_scaling")
    if not rs:
        return inv_freq
    assert rs["rope_type"] == "llama3"
    factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old_ctx = rs["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old_ctx / low, old_ctx / high
    wavelen = 2 * math.pi / inv_freq
    out = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_ctx / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * out / factor + smooth * out
    medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen)
    return torch.where(medium, smoothed, out)


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(w, cfg, ids):
    """Logits [len(ids), vocab] for every position, float64."""
    w = {k: v.double() for k, v in w.items()}
    E, H, KV = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = cfg.get("head_dim") or E // H
    eps = cfg["rms_norm_eps"]
    T = len(ids)

    pos = torch.arange(T, dtype=torch.float64)
    angles = torch.outer(pos, rope_inv_freq(cfg, D))
    emb = torch.cat((angles, angles), dim=-1)
    cos, sin = emb.cos(), emb.sin()  # [T, D]

    i = torch.arange(T).unsqueeze(1)
    j = torch.arange(T).unsqueeze(0)
    allowed = j <= i
    window = cfg.get("sliding_window") if cfg["model_type"] == "mistral" else None
    if window is not None:
        allowed = allowed & (j > i - window)
    mask = torch.zeros(T, T, dtype=torch.float64).masked_fill(~allowed, float("-inf"))

    x = w["model.embed_tokens.weight"][torch.tensor(ids)]
    for l in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % l
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)

        def proj(name):
            y = h @ w[p + "self_attn.%s_proj.weight" % name].T
            b = w.get(p + "self_attn.%s_proj.bias" % name)
            return y if b is None else y + b

        q = proj("q").view(T, H, D).transpose(0, 1)  # [H, T, D]
        k = proj("k").view(T, KV, D).transpose(0, 1)
        v = proj("v").view(T, KV, D).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // KV, dim=0)  # repeat_kv: head h reads kv head h // (H/KV)
        v = v.repeat_interleave(H // KV, dim=0)
        probs = torch.softmax(q @ k.transpose(1, 2) * D ** -0.5 + mask, dim=-1)
        attn = (probs @ v).transpose(0, 1).reshape(T, H * D)
        x = x + attn @ w[p + "self_attn.o_proj.weight"].T

        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = h @ w[p + "mlp.gate_proj.weight"].T
        up = h @ w[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T

    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else w["lm_head.weight"]
    return x @ head.T


# ---------------------------------------------------------------------------
# Variants
# ---------------------------------------------------------------------------

def llama_config(**over):
    """LlamaConfig as transformers 4.46 serialises it (sorted keys)."""
    c = {
        "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 0, "eos_token_id": 0, "head_dim": None, "hidden_act": "silu", "hidden_size": 64,
        "initializer_range": 0.02, "intermediate_size": 128, "max_position_embeddings": 256, "mlp_bias": False,
        "model_type": "llama", "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2,
        "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": None, "rope_theta": 10000.0,
        "tie_word_embeddings": False, "torch_dtype": "float32", "transformers_version": "4.46.3",
        "use_cache": True, "vocab_size": 300,
    }
    c.update(over)
    if c["head_dim"] is None:
        c["head_dim"] = c["hidden_size"] // c["num_attention_heads"]
    return c


def variants():
    v = []
    # Llama 3.1-style: llama3 rope scaling with a small original context so
    # that, with head_dim 32, the long-wavelength frequencies are divided by
    # 8 and one falls in the smoothed band.
    cfg = llama_config(
        hidden_size=128, intermediate_size=128, num_attention_heads=4, num_key_value_heads=2,
        rope_theta=500000.0, max_position_embeddings=512, torch_dtype="bfloat16",
        bos_token_id=298, eos_token_id=299,
        rope_scaling={"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                      "original_max_position_embeddings": 64, "rope_type": "llama3"})
    tok = byte_level_tokenizer(300, ["<|begin_of_text|>", "<|end_of_text|>"], LLAMA3_REGEX, bos="<|begin_of_text|>")
    tcfg = {"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>", "clean_up_tokenization_spaces": True,
            "model_max_length": 512, "tokenizer_class": "PreTrainedTokenizerFast"}
    v.append(("llama3-tiny", cfg, tok, tcfg, "BF16", 3001))

    # Mistral: MistralConfig keys; sliding_window well beyond the sequence.
    cfg = {
        "architectures": ["MistralForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2,
        "head_dim": 16, "hidden_act": "silu", "hidden_size": 64, "initializer_range": 0.02,
        "intermediate_size": 128, "max_position_embeddings": 256, "model_type": "mistral",
        "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2, "rms_norm_eps": 1e-05,
        "rope_theta": 1000000.0, "sliding_window": 128, "tie_word_embeddings": False, "torch_dtype": "float32",
        "transformers_version": "4.46.3", "use_cache": True, "vocab_size": 300,
    }
    tok = sentencepiece_tokenizer(300)
    tcfg = {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>",
            "unk_token": "<unk>", "clean_up_tokenization_spaces": False, "legacy": False,
            "model_max_length": 256, "tokenizer_class": "LlamaTokenizer"}
    v.append(("mistral-tiny", cfg, tok, tcfg, "F32", 3002))

    # SmolLM: Llama with the head tied to the embedding (no lm_head.weight),
    # and multi-query attention (one kv head) for good measure.
    cfg = llama_config(num_key_value_heads=1, tie_word_embeddings=True, bos_token_id=0, eos_token_id=0,
                       max_position_embeddings=256)
    tok = byte_level_tokenizer(300, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], None, specials_first=True)
    tcfg = {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
            "clean_up_tokenization_spaces": False, "model_max_length": 256, "tokenizer_class": "GPT2Tokenizer"}
    v.append(("smollm-tiny", cfg, tok, tcfg, "F32", 3003))

    # Qwen2: q/k/v biases, untied head, rope_theta 1e6.
    cfg = {
        "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 297,
        "eos_token_id": 297, "hidden_act": "silu", "hidden_size": 64, "initializer_range": 0.02,
        "intermediate_size": 128, "max_position_embeddings": 256, "max_window_layers": 2, "model_type": "qwen2",
        "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2, "rms_norm_eps": 1e-06,
        "rope_scaling": None, "rope_theta": 1000000.0, "sliding_window": 256, "tie_word_embeddings": False,
        "torch_dtype": "bfloat16", "transformers_version": "4.46.3", "use_cache": True,
        "use_sliding_window": False, "vocab_size": 300,
    }
    tok = byte_level_tokenizer(300, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], QWEN2_REGEX)
    tcfg = {"add_prefix_space": False, "bos_token": None, "eos_token": "<|endoftext|>",
            "pad_token": "<|endoftext|>", "clean_up_tokenization_spaces": False, "model_max_length": 256,
            "split_special_tokens": False, "tokenizer_class": "Qwen2Tokenizer"}
    v.append(("qwen2-tiny", cfg, tok, tcfg, "BF16", 3004))
    return v


def main():
    torch.set_num_threads(1)
    for name, cfg, tok, tcfg, dtype, seed in variants():
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        # Random weights can make the greedy choice a near tie somewhere along
        # the continuation, which a correct float32 engine could resolve
        # either way; such seeds are skipped (deterministically).
        for attempt in range(20):
            w = make_weights(cfg, seed, dtype, qkv_bias=cfg["model_type"] == "qwen2")
            # A fixed sequence over the whole id range (specials included), BOS first.
            rng = np.random.default_rng(seed)
            ids = [int(cfg["bos_token_id"])] + [int(t) for t in rng.integers(0, cfg["vocab_size"], size=23)]
            logits = forward(w, cfg, ids)
            seq, greedy, margin = list(ids), [], float("inf")
            last = logits[-1]
            for _ in range(N_GREEDY):
                top2 = torch.topk(last, 2).values
                margin = min(margin, float((top2[0] - top2[1]) / last.abs().max()))
                nxt = int(torch.argmax(last))
                greedy.append(nxt)
                seq.append(nxt)
                last = forward(w, cfg, seq)[-1]
            if margin >= MIN_MARGIN:
                break
            seed += 1000
        else:
            sys.exit("%s: no seed without a near tie in the greedy continuation" % name)

        write_safetensors(os.path.join(d, "model.safetensors"), {k: (dtype, v.numpy()) for k, v in w.items()})
        for fname, obj in (("config.json", cfg), ("tokenizer.json", tok), ("tokenizer_config.json", tcfg)):
            with open(os.path.join(d, fname), "w", encoding="utf-8") as f:
                json.dump(obj, f, indent=2, sort_keys=fname == "config.json", ensure_ascii=False)
                f.write("\n")
        np.save(os.path.join(d, "logits.npy"), logits.numpy().astype("<f8"))
        golden = {"seed": seed, "ids": ids, "greedy_ids": greedy, "logits_file": "logits.npy",
                  "min_greedy_margin_relative": margin}
        if cfg.get("rope_scaling"):
            D = cfg["head_dim"]
            base = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
            golden["rope_freq_factors"] = (base / rope_inv_freq(cfg, D)).tolist()
        with open(os.path.join(d, "golden.json"), "w") as f:
            json.dump(golden, f, indent=1)
            f.write("\n")
        size = sum(os.path.getsize(os.path.join(d, x)) for x in os.listdir(d))
        print("%-13s %-4s seed %5d %7d bytes  greedy %s  min margin %.3g" % (name, dtype, seed, size, greedy, margin))


if __name__ == "__main__":
    main()
