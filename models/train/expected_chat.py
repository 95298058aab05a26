"""Expected outputs of the chat model from its training-side PyTorch model (weights rounded to
F16 as the GGUF stores them), for tests/js/chat_model.test.mjs:
tests/fixtures/models/gpt2-chat-pytorch.json.

    /usr/bin/python3 models/train/expected_chat.py

For 8 held-out conversations (2 per skill): the prompt ids (ChatML rendering + the generation
prompt, tokenized with the ChatML control tokens split out), the last-position logits and 40
greedy steps with their top-1/top-2 margins (no stop at <|im_end|>).
"""
import json
import os

import torch

import common as C
import corpus_chat
import hf_models as H
import tok_bpe
from train_chat import ChatTokenizer, NAME

HF = os.path.join(C.WORK, NAME + "-hf")


@torch.no_grad()
def main():
    cfg = json.load(open(os.path.join(HF, "config.json")))
    model = H.GPT2LMHeadModel(cfg)
    model.load_state_dict(C.load_safetensors(os.path.join(HF, "model.safetensors")), strict=True)
    for name, p in model.named_parameters():  # F16 file: 2-D weights rounded, wpe and 1-D kept
        if p.dim() >= 2 and not name.endswith("wpe.weight"):
            p.copy_(p.half().float())
    model.eval()
    vocab = json.load(open(os.path.join(HF, "vocab.json")))
    merges = [tuple(l.split()) for l in open(os.path.join(HF, "merges.txt"), encoding="utf-8").read().split("\n")[1:] if l]
    # vocab.json holds the BPE tokens; the two ChatML tokens are added tokens (tokenizer.json)
    tj = json.load(open(os.path.join(HF, "tokenizer.json")))
    for t in tj["added_tokens"]:
        vocab[t["content"]] = t["id"]
    tok = ChatTokenizer(vocab, merges)
    held = corpus_chat.heldout_cases(60)
    seen, cases = {}, []
    for c in held:
        ids = tok.encode(corpus_chat.render(c["messages"]) + "<|im_start|>assistant\n")
        if seen.get(c["skill"], 0) >= 2 or len(ids) + 40 > cfg["n_positions"]:
            continue
        seen[c["skill"]] = seen.get(c["skill"], 0) + 1
        seq, margins, last = list(ids), [], None
        for k in range(40):
            logits = model(torch.tensor([seq]))[0, -1]
            if k == 0:
                last = logits
            top2 = logits.topk(2)
            margins.append(round(float(top2.values[0] - top2.values[1]), 5))
            seq.append(int(top2.indices[0]))
        cases.append({"skill": c["skill"], "messages": c["messages"], "prompt_ids": ids, "generated_ids": seq[len(ids):],
                      "top1_top2_margins": margins, "prompt_last_logits": [float(f"{x:.8g}") for x in last.tolist()]})
    C.write_json(os.path.join(C.EXPECTED, NAME + "-pytorch.json"), {
        "format": "plm-chat-expected-v1", "model": NAME, "gguf": NAME + "-F16.gguf", "file_type": "F16",
        "semantics": "PyTorch GPT-2 on the F16-rounded weights; prompt = ChatML rendering + '<|im_start|>assistant\\n'; "
                     "greedy = argmax, no stop at <|im_end|>", "cases": cases})


if __name__ == "__main__":
    main()
