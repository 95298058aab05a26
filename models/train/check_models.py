"""Self-check: the modules in hf_models.py reproduce the project's golden fixtures
(random tiny HF models whose outputs were cross-checked against HF transformers).

    /usr/bin/python3 models/train/check_models.py [FIXTURES_DIR]
"""
import json
import os
import sys

import torch

import hf_models as H
from common import REPO, load_safetensors

FIX = sys.argv[1] if len(sys.argv) > 1 else next(
    (p for p in (os.path.join(os.path.dirname(REPO), "shared", "fixtures"),
                 os.path.join(os.path.dirname(os.path.dirname(REPO)), "shared", "fixtures"))
     if os.path.isdir(p)), None)


def load(cls, folder, drop=()):
    cfg = json.load(open(os.path.join(folder, "config.json")))
    m = cls(cfg)
    sd = {k: v for k, v in load_safetensors(os.path.join(folder, "model.safetensors")).items() if k not in drop}
    missing, unexpected = m.load_state_dict(sd, strict=False)
    assert not missing, missing
    return m.eval(), cfg, unexpected


def mx(a, b):
    return float((torch.as_tensor(a) - torch.as_tensor(b)).abs().max())


@torch.no_grad()
def main():
    ok = True
    for name, cls in (("gpt2", H.GPT2LMHeadModel), ("llama/tiny-random-gqa", H.LlamaForCausalLM),
                      ("llama/stories260K", H.LlamaForCausalLM)):
        m, _, _ = load(cls, os.path.join(FIX, name, "hf"))
        c = json.load(open(os.path.join(FIX, name, "cases.json")))
        err = 0.0
        for case in c["cases"]["prefill"]:
            err = max(err, mx(m(torch.tensor([case["input_ids"]]))[0], case["logits"]["F32"]))
        print(f"{name}: prefill logits max abs {err:.2e}")
        ok &= err < 2e-4
    m, cfg, unexpected = load(H.BertForMaskedLM, os.path.join(FIX, "bert", "hf"))
    c = json.load(open(os.path.join(FIX, "bert", "cases.json")))
    eh = el = es = 0.0
    for case in c["cases"]:
        ids = torch.tensor([case["input_ids"]])
        tt = torch.tensor([case["token_type_ids"]])
        am = torch.tensor([case["attention_mask"]])
        hs = m.encode(ids, tt, am)
        eh = max(eh, mx(hs[0], case["last_hidden_state"]))
        if "mlm" in case:
            lg = m.mlm_logits(hs)[0, case["mlm"]["masked_positions"]]
            el = max(el, mx(lg, case["mlm"]["logits"]))
        if isinstance(case["text"], str):
            es = max(es, mx(m.sentence_embedding(ids, am)[0], case["sentence_embedding"]))
    print(f"bert: hidden {eh:.2e}, mlm logits {el:.2e}, sentence embedding {es:.2e} (unused: {unexpected})")
    ok &= eh < 1e-4 and el < 1e-4 and es < 1e-5
    m, cfg, _ = load(H.T5ForConditionalGeneration, os.path.join(FIX, "t5", "v1_1", "hf"))
    c = json.load(open(os.path.join(FIX, "t5", "v1_1", "cases.json")))
    ee = el = 0.0
    greedy_ok = True
    for case in c["cases"]:
        enc = m.encode(torch.tensor([case["input_ids"]]))
        ee = max(ee, mx(enc[0], case["encoder_last_hidden_state"]))
        el = max(el, mx(m.decode(torch.tensor([case["decoder_input_ids"]]), enc)[0], case["decoder_logits"]))
        g = case["greedy"]
        ids = m.generate(case["input_ids"], g["max_new_tokens"])
        want = g["ids"][1:]
        if g["stopped_at_eos"]:
            want = want[:-1]
        greedy_ok &= ids == want
    print(f"t5 v1_1: encoder {ee:.2e}, decoder logits {el:.2e}, greedy equal: {greedy_ok}")
    ok &= ee < 1e-4 and el < 1e-4 and greedy_ok
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
