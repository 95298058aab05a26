"""Shared helpers for the training scripts: seeding, safetensors, HF folders.

Only the Python standard library, numpy and torch (Debian's python3-torch).
"""
import json
import os
import random
import struct
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "work")              # git-ignored: corpora, HF folders, logs
REPO = os.path.dirname(os.path.dirname(HERE))
EXPECTED = os.path.join(REPO, "tests", "fixtures", "models")


def setup(seed, threads=1):
    """Fixed seeds, one thread (the machines are shared), deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(EXPECTED, exist_ok=True)


def write_json(path, obj, indent=2):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=indent, ensure_ascii=False)
        f.write("\n")


def write_lines(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")


# ------------------------------------------------------------------ safetensors
# File = u64 little-endian header length N, N bytes of JSON header (padded with
# spaces to a multiple of 8), then the raw little-endian tensor data. The header
# maps each name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
# relative to the start of the data) plus an optional "__metadata__" object.

_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.int64: "I64", torch.int32: "I32"}


def save_safetensors(path, tensors, metadata=None):
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        data = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    inv = {v: k for k, v in _DTYPES.items()}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        dt = inv[info["dtype"]]
        arr = np.frombuffer(data[b:e], dtype=torch.empty(0, dtype=dt).numpy().dtype)
        out[name] = torch.from_numpy(arr.copy()).reshape(info["shape"])
    return out


def save_hf_folder(folder, model, config, files):
    """config.json + model.safetensors (+ extra files: name -> str | dict | bytes)."""
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, "config.json"), config)
    save_safetensors(os.path.join(folder, "model.safetensors"), model.hf_state_dict(),
                     metadata={"format": "pt"})
    for name, content in files.items():
        p = os.path.join(folder, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        if isinstance(content, (dict, list)):
            write_json(p, content)
        elif isinstance(content, bytes):
            with open(p, "wb") as f:
                f.write(content)
        else:
            with open(p, "w", encoding="utf-8") as f:
                f.write(content)


# ------------------------------------------------------------------ training
def cosine_lr(step, total, peak, warmup):
    if step < warmup:
        return peak * (step + 1) / warmup
    p = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * min(1.0, p))))


class Timer:
    def __init__(self):
        self.t0 = time.time()

    def __call__(self):
        return time.time() - self.t0


def make_optimizer(model, lr, weight_decay=0.01):
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (decay if p.dim() >= 2 and "embed" not in n and "wte" not in n and "wpe" not in n
         and "shared" not in n else no_decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.98), eps=1e-8)


def log(logf, msg):
    print(msg, flush=True)
    if logf:
        with open(logf, "a") as f:
            f.write(msg + "\n")
