"""Train the chat demo model (GPT-2 architecture, ChatML) and write its Hugging Face folder.

    /usr/bin/python3 models/train/train_chat.py     # -> models/train/work/gpt2-chat-hf/

Corpus: corpus_chat.py (synthetic conversations: sums with a <think> step, spelling, facts,
refusals, small talk). Tokenizer: GPT-2 byte-level BPE (tok_bpe.py) with 1021 learned tokens,
<|endoftext|> (1021) between conversations, and the ChatML control tokens <|im_start|> (1022)
and <|im_end|> (1023, the end-of-turn / EOS token); the chat template is stored in
tokenizer_config.json, so the converter writes it to tokenizer.chat_template. The loss counts the assistant's tokens only.
Held-out cases (corpus_chat.heldout_cases) go to work/gpt2-chat-heldout.json for eval_chat.mjs.
"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

import common as C
import corpus_chat
import hf_models as H
import tok_bpe

BUDGET_S = float(os.environ.get("PLM_TRAIN_SECONDS", 60 * 60))  # wall-clock safety cap
SEED = 4321
VOCAB = 1024
CTX = 128
N_TRAIN = 40000
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
NAME = "gpt2-chat"
OUT = os.path.join(C.WORK, NAME + "-hf")
LOG = os.path.join(C.WORK, NAME + ".log")

CONFIG = {
    "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.0,
    "bos_token_id": VOCAB - 3, "embd_pdrop": 0.0, "eos_token_id": VOCAB - 1,
    "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "gpt2",
    "n_ctx": CTX, "n_embd": 128, "n_head": 4, "n_inner": None, "n_layer": 4, "n_positions": CTX,
    "reorder_and_upcast_attn": False, "resid_pdrop": 0.0, "scale_attn_by_inverse_layer_idx": False,
    "scale_attn_weights": True, "summary_activation": None, "summary_first_dropout": 0.0,
    "summary_proj_to_labels": True, "summary_type": "cls_index", "summary_use_proj": True,
    "tie_word_embeddings": True, "torch_dtype": "float32", "use_cache": True, "vocab_size": VOCAB}


class ChatTokenizer(tok_bpe.GPT2Tokenizer):
    """GPT2Tokenizer with the ChatML control tokens split out first (as HF added tokens)."""

    def encode(self, text):
        ids = []
        for k, part in enumerate(text.split(IM_START)):
            if k:
                ids.append(self.vocab[IM_START])
            for j, piece in enumerate(part.split(IM_END)):
                if j:
                    ids.append(self.vocab[IM_END])
                ids.extend(super().encode(piece))
        return ids


def build_tokenizer(texts):
    vocab, merges = tok_bpe.train(texts[:4000], VOCAB - 2)
    vocab[IM_START] = len(vocab)
    vocab[IM_END] = len(vocab)
    assert len(vocab) == VOCAB
    files = tok_bpe.hf_files(vocab, merges, CTX)
    for t in (IM_START, IM_END):
        files["tokenizer.json"]["added_tokens"].append({"id": vocab[t], "content": t, "single_word": False, "lstrip": False,
                                                        "rstrip": False, "normalized": False, "special": True})
    cfg = files["tokenizer_config.json"]
    cfg.update({"eos_token": IM_END, "pad_token": tok_bpe.EOT, "chat_template": corpus_chat.CHAT_TEMPLATE,
                "added_tokens_decoder": {str(vocab[t]): {"content": t, "lstrip": False, "normalized": t == tok_bpe.EOT,
                                                         "rstrip": False, "single_word": False, "special": True}
                                         for t in (tok_bpe.EOT, IM_START, IM_END)}})
    files["special_tokens_map.json"] = {"bos_token": tok_bpe.EOT, "eos_token": IM_END, "unk_token": tok_bpe.EOT,
                                        "pad_token": tok_bpe.EOT}
    files["generation_config.json"] = {"bos_token_id": VOCAB - 3, "eos_token_id": [VOCAB - 1, VOCAB - 3]}
    return ChatTokenizer(vocab, merges), files


def main():
    C.setup(SEED)
    timer = C.Timer()
    if os.path.exists(LOG):
        os.remove(LOG)
    convs = corpus_chat.train_conversations(N_TRAIN)
    texts = [corpus_chat.render(c) for c in convs]
    tok, files = build_tokenizer(texts)
    eot = tok.vocab[tok_bpe.EOT]
    # the loss counts the assistant's tokens only (its content and <|im_end|>): the questions are
    # random draws, the answers are what the model must learn. Encoding message by message gives
    # the ids of the whole rendering (the pieces meet at special tokens and newlines).
    stream, target = [], []
    for c in convs:
        stream.append(eot)
        target.append(0)
        for m in c:
            head = tok.encode(f"{IM_START}{m['role']}\n")
            body = tok.encode(m["content"] + IM_END)
            nl = tok.encode("\n")
            stream += head + body + nl
            target += [0] * len(head) + [1 if m["role"] == "assistant" else 0] * len(body) + [0] * len(nl)
    assert stream[1:1 + 40] == tok.encode(texts[0])[:40]
    stream = torch.tensor(stream, dtype=torch.long)
    target = torch.tensor(target, dtype=torch.bool)
    held = corpus_chat.heldout_cases(60)
    C.log(LOG, f"[{NAME}] {len(texts)} conversations, {len(stream)} tokens ({len(stream) / len(texts):.1f} each); "
               f"tokenizer {timer():.0f}s; {len(held)} held-out cases")

    model = H.GPT2LMHeadModel(CONFIG)
    n_params = sum(p.numel() for p in model.parameters())
    C.log(LOG, f"[{NAME}] params {n_params}")
    batch, steps, peak, warmup = 24, int(os.environ.get("PLM_TRAIN_STEPS", 600)), 3e-3, 40
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
        w = torch.stack([target[s + 1:s + CTX + 1] for s in starts.tolist()]).reshape(-1)
        logits = model(x[:, :-1])
        losses = F.cross_entropy(logits.reshape(-1, VOCAB), x[:, 1:].reshape(-1), reduction="none")
        loss = losses[w].mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            C.log(LOG, f"step {step} loss {loss.item():.4f} lr {lr:.2e} {t_train():.0f}s")
        if os.path.exists(os.path.join(C.WORK, NAME + ".stop")):
            C.log(LOG, f"stop file found at step {step}")
            break
        if t_train() > BUDGET_S:
            C.log(LOG, f"time budget reached at step {step}")
            break
    train_s = t_train()
    cpu_s = time.process_time() - cpu0
    C.log(LOG, f"[{NAME}] trained {step + 1} steps ({(step + 1) * batch * CTX} tokens) in {train_s:.0f}s ({cpu_s:.0f}s CPU)")
    model.eval()
    C.save_hf_folder(OUT, model, CONFIG, files)
    C.write_json(os.path.join(C.WORK, NAME + "-heldout.json"), held)
    C.write_json(os.path.join(C.WORK, NAME + "-train.json"), {
        "model": NAME, "params": n_params, "steps": step + 1, "batch": batch, "ctx": CTX,
        "train_tokens": (step + 1) * batch * CTX, "train_seconds": round(train_s), "train_cpu_seconds": round(cpu_s),
        "conversations": len(texts), "seed": SEED, "torch": torch.__version__, "threads": torch.get_num_threads()})
    with torch.no_grad():  # a taste
        for q in ["What is 3 plus 4?", "How do you spell river?", "What is the capital of Peru?"]:
            ids = tok.encode(corpus_chat.render([{"role": "user", "content": q}]) + IM_START + "assistant\n")
            out = []
            for _ in range(40):
                nxt = int(model(torch.tensor([ids]))[0, -1].argmax())
                if nxt == tok.vocab[IM_END]:
                    break
                ids.append(nxt)
                out.append(nxt)
            C.log(LOG, f"sample: {q!r} -> {tok.decode(out)!r}")


if __name__ == "__main__":
    main()
