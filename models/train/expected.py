"""Expected outputs of the shipped models, computed by the training-side PyTorch model,
for the JS / browser tests: tests/fixtures/models/<name>.json.

    /usr/bin/python3 models/train/expected.py gpt2|llama|t5|bert [F32|F16|Q8_0]

The weights are first rounded the way the shipped GGUF stores them (F16: 2-D weights
to IEEE half, round-to-nearest-even; Q8_0: ggml blocks of 32 along each row, d =
amax/127 in fp16, q = round(x/d)); tensors the converter keeps in F32 (1-D, norms,
position / token-type embeddings) are left alone. So the logits here are what an
engine that widens the file's weights to float32 and computes in float32 gets.
"""
import json
import math
import os
import sys

import sentencepiece as spm
import torch

import common as C
import corpus_facts
import corpus_stories
import corpus_t5
import hf_models as H
import tok_bpe
import tok_wordpiece as W

WHICH = sys.argv[1]
FTYPE = sys.argv[2] if len(sys.argv) > 2 else {"gpt2": "F16", "llama": "F16", "t5": "F16", "bert": "F16"}[WHICH]
NAME = {"gpt2": "gpt2-stories", "llama": "llama-stories", "t5": os.environ.get("PLM_T5_NAME", "t5-tasks"),
        "bert": os.environ.get("PLM_BERT_NAME", "bert-facts")}[WHICH]  # the training scripts' names
HF = os.path.join(C.WORK, NAME + "-hf")
GGUF = f"{NAME}-{FTYPE}.gguf"


def q8_0(w):
    """ggml quantize_row_q8_0_ref + dequantize, rows along the last axis."""
    rows = w.reshape(-1, 32).double()
    amax = rows.abs().amax(1, keepdim=True)
    d = (amax / 127.0).float()
    idd = torch.where(d != 0, 1.0 / d, torch.zeros_like(d))
    x = rows.float() * idd
    q = torch.sign(x) * torch.floor(x.abs() + 0.5)  # roundf: half away from zero
    dh = d.half().float()
    return (q * dh).reshape(w.shape)


def keeps_f32(name, t):
    return t.dim() < 2 or name.endswith(("wpe.weight", "position_embeddings.weight", "token_type_embeddings.weight"))


def round_like_file(model, ftype):
    if ftype == "F32":
        return
    with torch.no_grad():
        for name, p in model.named_parameters():
            if keeps_f32(name, p):
                continue
            if name.endswith("relative_attention_bias.weight"):
                p.copy_(p.half().float())  # [buckets, heads]: rows of n_heads values -> F16 fallback
                continue
            if ftype == "F16":
                p.copy_(p.half().float())
                continue
            # Q8_0 along GGUF rows: nn.Linear / Embedding rows are already GGUF rows,
            # HF Conv1D ([in, out]) is transposed in the file.
            conv1d = ".c_attn." in name or ".c_proj." in name or ".c_fc." in name
            w = p.t() if conv1d else p
            if w.shape[-1] % 32:
                p.copy_(p.half().float())  # converter's fallback for rows not a multiple of 32
            else:
                p.copy_(q8_0(w.contiguous()).t() if conv1d else q8_0(w))


def load(cls):
    cfg = json.load(open(os.path.join(HF, "config.json")))
    m = cls(cfg)
    sd = C.load_safetensors(os.path.join(HF, "model.safetensors"))
    m.load_state_dict(sd, strict=True)
    round_like_file(m, FTYPE)
    return m.eval(), cfg


def f8(xs):
    return [float(f"{x:.8g}") for x in xs]


@torch.no_grad()
def decoder_expected():
    if WHICH == "gpt2":
        model, cfg = load(H.GPT2LMHeadModel)
        vocab = json.load(open(os.path.join(HF, "vocab.json")))
        merges = [tuple(l.split()) for l in open(os.path.join(HF, "merges.txt"), encoding="utf-8").read().split("\n")[1:] if l]
        tok = tok_bpe.GPT2Tokenizer(vocab, merges)
        enc = tok.encode
        dec = tok.decode
        bos, eos = [], cfg["eos_token_id"]
    else:
        model, cfg = load(H.LlamaForCausalLM)
        sp = spm.SentencePieceProcessor(model_file=os.path.join(HF, "tokenizer.model"))
        enc = sp.encode
        dec = sp.decode
        bos, eos = [1], 2
    prompts = ["Once upon a time", "One day, Lily went to the park", "Tom was afraid of the dark.",
               "The little dog", "Max wanted to learn to ride a bike.", "Sara had a red ball"]
    n_new = 48
    cases = []
    for p in prompts:
        ids = bos + enc(p)
        seq = list(ids)
        margins = []
        last_logits = None
        for k in range(n_new):
            logits = model(torch.tensor([seq]))[0, -1]
            if k == 0:
                last_logits = logits
            top2 = logits.topk(2)
            margins.append(float(top2.values[0] - top2.values[1]))
            seq.append(int(top2.indices[0]))  # no stop at EOS: the tests compare ids
        gen = seq[len(ids):]
        stop = gen.index(eos) if eos in gen else len(gen)
        cases.append({"prompt": p, "prompt_ids": ids, "n_new": n_new, "generated_ids": gen,
                      "generated_text_until_eos": dec(gen[:stop]),
                      "top1_top2_margins": [round(m, 5) for m in margins],
                      "prompt_last_logits": f8(last_logits.tolist())})
    held = corpus_stories.stories(8, corpus_stories.HELDOUT_SEED + 1)
    tok_cases = [{"text": t, "ids": bos + enc(t)} for t in held + ["Hello, world! Ünïcödé 😀 and numbers 12345."]]
    for c in tok_cases:
        assert dec(c["ids"][len(bos):]) == c["text"], c["text"]
    info = json.load(open(os.path.join(C.WORK, NAME + "-train.json")))
    return {"format": "plm-models-expected-v1", "model": NAME, "architecture": WHICH, "gguf": GGUF,
            "file_type": FTYPE, "config": cfg, "training": {k: info[k] for k in info if not k.startswith("heldout_outputs")},
            "semantics": "logits of the PyTorch model on the weights rounded as the GGUF stores them; "
                         "greedy = argmax (lowest id on ties), no stop at EOS; prompt_ids include BOS for llama",
            "cases": cases, "tokenizer_cases": tok_cases}


@torch.no_grad()
def t5_expected():
    model, cfg = load(H.T5ForConditionalGeneration)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(HF, "spiece.model"))
    held = corpus_t5.heldout()
    import train_t5
    acc, outs = train_t5.evaluate(model, sp, held)
    tasks = {}
    for t, xs in held.items():
        tasks[t] = [{"input": i, "target": o, "pytorch": g} for (i, o), g in zip(xs, outs[t])]
    logit_cases = []  # teacher-forced: decoder ids = [start] + PyTorch's greedy output
    for t, xs in held.items():
        i = xs[0][0]
        ids = sp.encode(i) + [1]
        dec = [0] + sp.encode(outs[t][0])
        logits = model.decode(torch.tensor([dec]), model.encode(torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.long)),
                              torch.ones(1, len(ids), dtype=torch.long))[0]
        logit_cases.append({"input": i, "input_ids": ids, "decoder_ids": dec, "logits": f8(logits.reshape(-1).tolist())})
    tok_cases = []
    for t, xs in held.items():
        for i, o in xs[:5]:
            for text in (i, o):
                ids = sp.encode(text) + [1]
                assert sp.decode(ids[:-1]) == text
                tok_cases.append({"text": text, "ids": ids})
    info = json.load(open(os.path.join(C.WORK, NAME + "-train.json")))
    return {"format": "plm-models-expected-v1", "model": NAME, "architecture": "t5", "gguf": GGUF,
            "file_type": FTYPE, "config": cfg,
            "training": {k: info[k] for k in info if k != "heldout_outputs"},
            "semantics": "greedy decoding from decoder_start_token_id 0 until </s> (id 1), at most 24 tokens; "
                         "input ids = sentencepiece encode + [1]; exact match on the decoded text",
            "exact_match_on_file_weights": {t: round(a, 4) for t, a in acc.items()},
            "tasks": tasks, "logit_cases": logit_cases, "tokenizer_cases": tok_cases}


@torch.no_grad()
def bert_expected():
    import train_bert
    model, cfg = load(H.BertForMaskedLM)
    vocab = [l.rstrip("\n") for l in open(os.path.join(HF, "vocab.txt"), encoding="utf-8")]
    tok = W.BertTokenizer(vocab)
    held = corpus_facts.heldout_sentences()
    demo = train_bert.training_phrasing()
    h1, h5, hrows = train_bert.mask_eval(model, tok, held)
    d1, d5, drows = train_bert.mask_eval(model, tok, demo)
    sim = train_bert.similarity_eval(model, tok)
    sims = []
    for t in corpus_facts.similarity_triplets():
        e = train_bert.embed(model, tok, [t["anchor"], t["same_fact"], t["unrelated"], t["same_relation"]])
        sims.append(dict(t, cos_same_fact=round(float(e[0] @ e[1]), 6), cos_unrelated=round(float(e[0] @ e[2]), 6),
                         cos_same_relation=round(float(e[0] @ e[3]), 6)))
    logit_cases = []
    for s, ans, off in held[:4]:
        text = s[:off] + "[MASK]" + s[off + len(ans):]
        ids = tok.encode(text)
        logits = model(torch.tensor([ids]))[0, ids.index(tok.mask_id)]
        logit_cases.append({"text": text, "ids": ids, "mask_logits": f8(logits.tolist())})
    paris = train_bert.mask_eval(model, tok, [corpus_facts.fill("The capital of France is *{b}.", "France", "paris")])[2][0]
    texts = [s for s, _, _ in held[:20]] + corpus_facts.license_sentences()[:10] + \
        ["Hello, World! Ünïcödé text, numbers 12345 and [MASK] tokens."]
    tok_cases = [{"text": t, "ids": tok.encode(t)} for t in texts]
    info = json.load(open(os.path.join(C.WORK, NAME + "-train.json")))
    return {"format": "plm-models-expected-v1", "model": NAME, "architecture": "bert", "gguf": GGUF,
            "file_type": FTYPE, "config": cfg, "training": info,
            "semantics": "fill-mask: MLM logits at the [MASK] position, top-5 tokens; similarity: mean pooling "
                         "over the attention mask then L2 normalisation, cosine",
            "measured_on_file_weights": {"heldout_phrasing": {"n": len(hrows), "top1": round(h1, 4), "top5": round(h5, 4)},
                                         "training_phrasing": {"n": len(drows), "top1": round(d1, 4), "top5": round(d5, 4)},
                                         "similarity": sim},
            "paris": paris, "fill_mask_heldout": hrows, "fill_mask_training_phrasing": drows,
            "similarity_triplets": sims, "logit_cases": logit_cases, "tokenizer_cases": tok_cases}


def main():
    out = {"gpt2": decoder_expected, "llama": decoder_expected, "t5": t5_expected, "bert": bert_expected}[WHICH]()
    path = os.path.join(C.EXPECTED, NAME + ".json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
