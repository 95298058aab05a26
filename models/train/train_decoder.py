"""Train the GPT-2 or LLaMA story model from scratch and write its Hugging Face folder.

    /usr/bin/python3 models/train/train_decoder.py gpt2     # -> models/train/work/gpt2-stories-hf/
    /usr/bin/python3 models/train/train_decoder.py llama    # -> models/train/work/llama-stories-hf/

Corpus: corpus_stories.py (seed 1 for training, a different seed for held-out text).
Tokenizers: GPT-2 byte-level BPE (tok_bpe.py, vocab 1024) / SentencePiece BPE with
byte fallback in LLaMA's layout (<unk>=0, <s>=1, </s>=2, bytes <0x00>..<0xFF>).
"""
import io
import json
import math
import os
import time
import sys

import numpy as np
import sentencepiece as spm
import torch
import torch.nn.functional as F

import common as C
import corpus_stories
import hf_models as H
import tok_bpe

ARCH = sys.argv[1] if len(sys.argv) > 1 else "gpt2"
BUDGET_S = float(os.environ.get("PLM_TRAIN_SECONDS", 60 * 60))  # safety cap (wall clock); steps are fixed
SEED = 1234
VOCAB = 1024
CTX = 256
N_TRAIN_STORIES = 60000
N_HELDOUT = 400

CONFIGS = {
    "gpt2": {
        "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.0,
        "bos_token_id": VOCAB - 1, "embd_pdrop": 0.0, "eos_token_id": VOCAB - 1,
        "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "gpt2",
        "n_ctx": CTX, "n_embd": 128, "n_head": 4, "n_inner": None, "n_layer": 4, "n_positions": CTX,
        "reorder_and_upcast_attn": False, "resid_pdrop": 0.0, "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True, "summary_activation": None, "summary_first_dropout": 0.0,
        "summary_proj_to_labels": True, "summary_type": "cls_index", "summary_use_proj": True,
        "tie_word_embeddings": True, "torch_dtype": "float32", "use_cache": True, "vocab_size": VOCAB},
    "llama": {
        "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 1, "eos_token_id": 2, "head_dim": 32, "hidden_act": "silu", "hidden_size": 128,
        "initializer_range": 0.02, "intermediate_size": 352, "max_position_embeddings": CTX,
        "mlp_bias": False, "model_type": "llama", "num_attention_heads": 4, "num_hidden_layers": 4,
        "num_key_value_heads": 2, "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": None,
        "rope_theta": 10000.0, "tie_word_embeddings": False, "torch_dtype": "float32", "use_cache": True,
        "vocab_size": VOCAB},
}
NAME = {"gpt2": "gpt2-stories", "llama": "llama-stories"}[ARCH]
OUT = os.path.join(C.WORK, NAME + "-hf")
LOG = os.path.join(C.WORK, NAME + ".log")


# ------------------------------------------------------------------ tokenizers
class SpmTokenizer:
    def __init__(self, model_bytes):
        self.sp = spm.SentencePieceProcessor(model_proto=model_bytes)

    def encode(self, text):
        return self.sp.encode(text)

    def decode(self, ids):
        return self.sp.decode(ids)


def build_tokenizer(train_texts):
    if ARCH == "gpt2":
        vocab, merges = tok_bpe.train(train_texts[:6000], VOCAB)
        tok = tok_bpe.GPT2Tokenizer(vocab, merges)
        files = tok_bpe.hf_files(vocab, merges, CTX)
        files["generation_config.json"] = {"bos_token_id": VOCAB - 1, "eos_token_id": VOCAB - 1}
        return tok, files, (VOCAB - 1, VOCAB - 1)
    f = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(train_texts[:6000]), model_writer=f, model_type="bpe",
        vocab_size=VOCAB, byte_fallback=True, normalization_rule_name="identity",
        split_digits=True, add_dummy_prefix=True, remove_extra_whitespaces=False,
        allow_whitespace_only_pieces=True, character_coverage=1.0, unk_id=0, bos_id=1, eos_id=2,
        pad_id=-1, num_threads=1, max_sentence_length=8192, minloglevel=2)
    model = f.getvalue()
    files = {
        "tokenizer.model": model,
        "tokenizer_config.json": {"tokenizer_class": "LlamaTokenizer", "add_bos_token": True,
                                  "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>",
                                  "unk_token": "<unk>", "pad_token": None, "legacy": True,
                                  "clean_up_tokenization_spaces": False, "model_max_length": CTX,
                                  "sp_model_kwargs": {}},
        "special_tokens_map.json": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
        "generation_config.json": {"bos_token_id": 1, "eos_token_id": 2},
    }
    return SpmTokenizer(model), files, (1, 2)


def doc_ids(tok, text, bos, eos):
    """A story as the model sees it: GPT-2 <|endoftext|> story <|endoftext|>, LLaMA <s> story </s>."""
    return [bos] + tok.encode(text) + [eos]


@torch.no_grad()
def heldout_nll(model, docs):
    model.eval()
    tot, n = 0.0, 0
    for d in docs:
        x = torch.tensor([d[:CTX]])
        logits = model(x[:, :-1])
        tot += float(F.cross_entropy(logits[0], x[0, 1:], reduction="sum"))
        n += x.shape[1] - 1
    model.train()
    return tot / n, n


def main():
    C.setup(SEED)
    timer = C.Timer()
    if os.path.exists(LOG):
        os.remove(LOG)
    train_texts = corpus_stories.stories(N_TRAIN_STORIES, corpus_stories.TRAIN_SEED)
    held_texts = corpus_stories.stories(N_HELDOUT, corpus_stories.HELDOUT_SEED)
    tok, tok_files, (bos, eos) = build_tokenizer(train_texts)
    stream = []
    for t in train_texts:
        stream.extend(doc_ids(tok, t, bos, eos)[:-1])  # consecutive docs share the separator (GPT-2)
        if ARCH == "llama":
            stream.append(eos)
    stream = torch.tensor(stream, dtype=torch.long)
    held = [doc_ids(tok, t, bos, eos) for t in held_texts]
    held_bytes = sum(len(t.encode()) for t in held_texts)
    C.log(LOG, f"[{NAME}] corpus {len(train_texts)} stories, {len(stream)} tokens "
               f"({len(stream) / len(train_texts):.1f}/story); tokenizer {timer():.0f}s")

    cfg = CONFIGS[ARCH]
    model = (H.GPT2LMHeadModel if ARCH == "gpt2" else H.LlamaForCausalLM)(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    C.log(LOG, f"[{NAME}] params {n_params}")
    batch, steps, peak, warmup = 24, int(os.environ.get("PLM_TRAIN_STEPS", {"gpt2": 650, "llama": 450}[ARCH])), 3e-3, 100
    STOP_AT = int(os.environ.get("PLM_STOP_AT", {"gpt2": 353, "llama": 335}.get(ARCH, steps)))
    opt = C.make_optimizer(model, peak, weight_decay=0.05)
    g = torch.Generator().manual_seed(SEED)
    t_train = C.Timer()
    cpu0 = time.process_time()
    step = 0
    for step in range(steps):
        lr = C.cosine_lr(step, steps, peak, warmup)
        for grp in opt.param_groups:
            grp["lr"] = lr
        starts = torch.randint(0, len(stream) - CTX - 1, (batch,), generator=g)
        x = torch.stack([stream[s:s + CTX + 1] for s in starts.tolist()])
        logits = model(x[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), x[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            C.log(LOG, f"step {step} loss {loss.item():.4f} lr {lr:.2e} {t_train():.0f}s")
        if step + 1 >= STOP_AT:  # reproduces a run that was cut short (the schedule still spans `steps`)
            C.log(LOG, f"stopped after {step + 1} steps (PLM_STOP_AT)")
            break
        if os.path.exists(os.path.join(C.WORK, NAME + ".stop")):  # graceful early stop, recorded in the log
            C.log(LOG, f"stop file found at step {step}")
            break
        if t_train() > BUDGET_S:
            C.log(LOG, f"time budget reached at step {step}")
            break
    train_s = t_train()
    cpu_s = time.process_time() - cpu0
    model.eval()
    nll, n_tok = heldout_nll(model, held)
    ppl = math.exp(nll)
    bpb = nll * n_tok / held_bytes / math.log(2)
    C.log(LOG, f"[{NAME}] trained {step + 1} steps ({(step + 1) * batch * CTX} tokens) in {train_s:.0f}s ({cpu_s:.0f}s CPU); "
               f"held-out ppl {ppl:.3f} ({n_tok} tokens, {bpb:.3f} bits/byte)")
    C.save_hf_folder(OUT, model, cfg, tok_files)
    C.write_json(os.path.join(OUT, "..", NAME + "-train.json"), {
        "model": NAME, "architecture": ARCH, "params": n_params, "steps": step + 1, "batch": batch,
        "ctx": CTX, "train_tokens": (step + 1) * batch * CTX, "train_seconds": round(train_s), "train_cpu_seconds": round(cpu_s),
        "total_seconds": round(timer()), "heldout_stories": N_HELDOUT, "heldout_tokens": n_tok,
        "heldout_ppl": round(ppl, 4), "heldout_bits_per_byte": round(bpb, 4), "seed": SEED,
        "torch": torch.__version__, "threads": torch.get_num_threads()})
    # a taste of the result
    with torch.no_grad():
        for p in ["Once upon a time", "Tom and his dog"]:
            ids = ([] if ARCH == "gpt2" else [bos]) + tok.encode(p)
            for _ in range(60):
                nxt = int(model(torch.tensor([ids]))[0, -1].argmax())
                if nxt == eos:
                    break
                ids.append(nxt)
            C.log(LOG, "sample: " + tok.decode([i for i in ids if i != bos]))


if __name__ == "__main__":
    main()
