#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/ from the real files in
../shared and the repository, minimised so the whole corpus stays small.

    python3 fuzz/make_corpus.py build/bin/qgml

Needs ../shared (or $QGML_SHARED) and a built qgml CLI (for the converted
seeds). Deterministic: the same inputs give the same seeds."""
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("QGML_SHARED", os.path.join(ROOT, "..", "shared"))
DATA = os.path.join(SHARED, "data")
OUT = os.path.join(ROOT, "fuzz", "corpus")
ARCH = os.path.join(ROOT, "tests", "data", "arch")


def read(p):
    with open(p, "rb") as f:
        return f.read()


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gguf_data_offset(b):
    """Offset of the data section of a GGUF v2/v3 file (parsed minimally)."""
    pos = 4 + 4
    n_tensors, n_kv = struct.unpack_from("<QQ", b, pos)
    pos += 16
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    alignment = 32

    def string(pos):
        (n,) = struct.unpack_from("<Q", b, pos)
        return b[pos + 8:pos + 8 + n], pos + 8 + n

    def value(t, pos):
        if t in sizes:
            return b[pos:pos + sizes[t]], pos + sizes[t]
        if t == 8:
            return string(pos)
        et, n = struct.unpack_from("<IQ", b, pos)
        pos += 12
        for _ in range(n):
            _, pos = value(et, pos)
        return None, pos

    for _ in range(n_kv):
        key, pos = string(pos)
        (t,) = struct.unpack_from("<I", b, pos)
        v, pos = value(t, pos + 4)
        if key == b"general.alignment":
            (alignment,) = struct.unpack("<I", v)
    for _ in range(n_tensors):
        _, pos = string(pos)
        (nd,) = struct.unpack_from("<I", b, pos)
        pos += 4 + 8 * nd + 4 + 8
    return (pos + alignment - 1) // alignment * alignment


def tiny_llama2c():
    """A valid llama2.c v0 checkpoint for tok512.bin's 512 tokens (dim 8)."""
    dim, hidden, layers, heads, kv_heads, vocab, seq = 8, 16, 1, 2, 1, 512, 8
    hs = dim // heads
    kv = hs * kv_heads
    n = (vocab * dim + layers * (dim + dim * dim + 2 * kv * dim + dim * dim + dim + 3 * hidden * dim) + dim
         + seq * hs)
    rng = random.Random(1)
    floats = [rng.uniform(-0.5, 0.5) for _ in range(n)]
    return struct.pack("<7i", dim, hidden, layers, heads, kv_heads, vocab, seq) + struct.pack("<%df" % n, *floats)


def varint(b, pos):
    v = shift = 0
    while True:
        c = b[pos]
        pos += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, pos


def spm_prefix(b, keep):
    """The ModelProto with only its first `keep` pieces (specs kept)."""
    out = bytearray()
    pos = pieces = 0
    while pos < len(b):
        start = pos
        tag, pos = varint(b, pos)
        wt = tag & 7
        if wt == 2:
            n, pos = varint(b, pos)
            pos += n
        elif wt == 0:
            _, pos = varint(b, pos)
        elif wt == 5:
            pos += 4
        elif wt == 1:
            pos += 8
        if tag >> 3 == 1:
            pieces += 1
            if pieces > keep:
                continue
        out += b[start:pos]
    return bytes(out)


def safetensors(tensors, metadata=None):
    header, data = {}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def main():
    qgml = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "bin", "qgml")
    shutil.rmtree(OUT, ignore_errors=True)
    tmp = tempfile.mkdtemp()
    try:
        models = os.path.join(DATA, "models")
        tok512 = read(os.path.join(models, "stories260K", "tok512.bin"))
        ckpt = tiny_llama2c()

        # llama2c: u32 length | checkpoint | tokenizer.bin
        put("llama2c", "tiny-tok512", struct.pack("<I", len(ckpt)) + ckpt + tok512)
        put("llama2c", "stories260K-header-tok512", struct.pack("<I", 28) +
            read(os.path.join(models, "stories260K", "stories260K.bin"))[:28] + tok512)

        # gguf: converter outputs that load, and header-only truncations of real files.
        with open(os.path.join(tmp, "tiny.bin"), "wb") as f:
            f.write(ckpt)
        tiny_tok = os.path.join(tmp, "tok512.bin")
        shutil.copy(os.path.join(models, "stories260K", "tok512.bin"), tiny_tok)
        subprocess.run([qgml, "convert", os.path.join(tmp, "tiny.bin"), "--vocab", tiny_tok, "-o",
                        os.path.join(tmp, "tiny.gguf")], check=True)
        put("gguf", "tiny-llama2c-f32.gguf", read(os.path.join(tmp, "tiny.gguf")))
        subprocess.run([qgml, "convert", os.path.join(ARCH, "qwen2-tiny"), "--outtype", "bf16", "-o",
                        os.path.join(tmp, "qwen2.gguf")], check=True)
        put("gguf", "qwen2-tiny-bf16.gguf", read(os.path.join(tmp, "qwen2.gguf")))
        for path, name in [(os.path.join(ROOT, "models", "stories260K", "stories260K.gguf"), "stories260K-header"),
                           (os.path.join(DATA, "gguf-llamacpp", "stories260K-q4_k_m.gguf"), "llamacpp-q4_k_m-header")]:
            b = read(path)
            put("gguf", name + ".gguf", b[:gguf_data_offset(b)])
        put("gguf", "vocab-llama-spm-head.gguf", read(os.path.join(DATA, "vocab-gguf", "ggml-vocab-llama-spm.gguf"))[:16384])

        # safetensors: a small valid file of mixed dtypes, and a real header without its data.
        rng = random.Random(2)
        put("safetensors", "mixed-dtypes.safetensors", safetensors([
            ("a.f32", "F32", [2, 3], struct.pack("<6f", *[rng.uniform(-1, 1) for _ in range(6)])),
            ("b.f16", "F16", [4], bytes(rng.randrange(256) for _ in range(8))),
            ("c.bf16", "BF16", [2, 2], bytes(rng.randrange(256) for _ in range(8))),
            ("d.i64", "I64", [1], struct.pack("<q", 7)),
            ("e.empty", "F32", [0, 5], b""),
        ], {"format": "pt"}))
        b = read(os.path.join(models, "stories260K-hf", "model.safetensors"))
        (n,) = struct.unpack_from("<Q", b)
        put("safetensors", "stories260K-hf-header.safetensors", b[:8 + n])
        put("safetensors", "qwen2-tiny.safetensors", read(os.path.join(ARCH, "qwen2-tiny", "model.safetensors")))

        # json: the small JSON files checkpoints come with.
        for path, name in [
            (os.path.join(models, "house-llama", "config.json"), "house-config.json"),
            (os.path.join(models, "house-llama", "tokenizer_config.json"), "house-tokenizer_config.json"),
            (os.path.join(models, "house-llama", "model.safetensors.index.json"), "house-index.json"),
            (os.path.join(models, "house-llama", "special_tokens_map.json"), "house-special_tokens_map.json"),
            (os.path.join(ARCH, "llama3-tiny", "tokenizer.json"), "llama3-tiny-tokenizer.json"),
            (os.path.join(ARCH, "llama3-tiny", "golden.json"), "golden.json"),
        ]:
            put("json", name, read(path))
        put("json", "stories260K-hf-header.json", b[8:8 + n])
        put("json", "c4-line.json", read(os.path.join(DATA, "text", "c4_train00000_head.jsonl")).split(b"\n")[0])

        # hf_tokenizer and hf_config: the committed tiny checkpoints' files, and the real ones' configs.
        for arch in sorted(os.listdir(ARCH)):
            put("hf_tokenizer", arch + "-tokenizer.json", read(os.path.join(ARCH, arch, "tokenizer.json")))
            put("hf_config", arch + "-config.json", read(os.path.join(ARCH, arch, "config.json")))
        put("hf_config", "house-config.json", read(os.path.join(models, "house-llama", "config.json")))
        put("hf_config", "stories260K-hf-config.json", read(os.path.join(models, "stories260K-hf", "config.json")))

        # sentencepiece: Llama 2's tokenizer.model cut to its first 300 pieces (control + bytes + a few merges).
        put("sentencepiece", "llama2-300.model",
            spm_prefix(read(os.path.join(DATA, "tokenizers", "llama2-spm", "tokenizer.model")), 300))

        # tokenizer: flag byte (vocabulary, special handling) + llama.cpp's tokenizer test strings.
        texts = []
        for inp in ["ggml-vocab-llama-spm.gguf.inp", "ggml-vocab-gpt-2.gguf.inp"]:
            with open(os.path.join(DATA, "vocab-gguf", inp), "rb") as f:
                texts += [t.strip(b"\n") for t in f.read().split(b"\n__ggml_vocab_test__\n")]
        texts = sorted(set(t for t in texts if t))[:24]
        texts += [b"\xff\xfe invalid \xc3\x28 utf-8 \xed\xa0\x80", b"<|endoftext|><s></s><unk> <|im_start|>",
                  read(os.path.join(DATA, "text", "tinystories_train_head2MiB.txt"))[:600]]
        for i, t in enumerate(texts):
            put("tokenizer", "t%02d" % i, bytes([i % 64]) + t)
    finally:
        shutil.rmtree(tmp)
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print("fuzz corpus: %d bytes" % total)


if __name__ == "__main__":
    main()
