"""make_hf.py -- random-weight Hugging Face folders (config.json + model.safetensors)
of four real model shapes, for bench/compare (tokenizer files are added by
make_models.mjs from the repo's ggml-vocab fixtures).

  gpt2-small   GPT2LMHeadModel   12 layers, 768, 12 heads, ffn 3072, vocab 50257, ctx 1024 (124M)
  llama-110m   LlamaForCausalLM  12 layers, 768, 12 heads (MHA), ffn 2048, vocab 32000, ctx 1024,
                                 untied output (the shape of llama2.c's stories110M, 134M)
  bert-base    BertForMaskedLM   12 layers, 768, 12 heads, ffn 3072, vocab 30522 (110M)
  minilm-l6    BertForMaskedLM    6 layers, 384, 12 heads, ffn 1536, vocab 30522 (all-MiniLM-L6-v2, 23M)
  t5-small     T5ForConditionalGeneration  T5 v1.0 (relu FFN, tied embeddings, logits scaled by
                                 d_model^-0.5): 6 + 6 layers, 512, 8 heads of 64, ffn 2048, 32 buckets,
                                 vocab 32128 (60M)

Weights are the initializers of models/train/hf_models.py (the HF-semantics PyTorch twins):
only shapes matter for speed. That twin's T5 is v1.1 (gated-gelu, untied); T5V10 below turns
it into t5-small's v1.0 (HF T5DenseActDense, tied lm_head with the d_model^-0.5 rescale).

  /usr/bin/python3 bench/compare/make_hf.py OUT_DIR [name ...]
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "models", "train"))

import torch  # noqa: E402

from common import save_hf_folder  # noqa: E402
from hf_models import BertForMaskedLM, GPT2LMHeadModel, LlamaForCausalLM, T5ForConditionalGeneration  # noqa: E402
import torch.nn as nn  # noqa: E402


class T5DenseActDense(nn.Module):
    """HF T5DenseActDense (feed_forward_proj "relu"): wo(relu(wi(x)))."""

    def __init__(self, c):
        super().__init__()
        self.wi = nn.Linear(c["d_model"], c["d_ff"], bias=False)
        self.wo = nn.Linear(c["d_ff"], c["d_model"], bias=False)
        nn.init.normal_(self.wi.weight, 0.0, c["d_model"] ** -0.5)  # T5PreTrainedModel._init_weights
        nn.init.normal_(self.wo.weight, 0.0, c["d_ff"] ** -0.5)

    def forward(self, x):
        return self.wo(torch.relu(self.wi(x)))


class T5V10(T5ForConditionalGeneration):
    """T5 v1.0 (t5-small/base/large): relu FFN, lm_head tied to shared, decoder output scaled
    by d_model^-0.5 before the tied head (HF T5ForConditionalGeneration with tie_word_embeddings)."""

    def __init__(self, c):
        super().__init__(c)
        for stack in (self.encoder, self.decoder):
            for blk in stack.block:
                blk.layer[-1].DenseReluDense = T5DenseActDense(c)
        self.lm_head.weight = self.shared.weight

    def decode(self, dec_ids, enc, enc_mask=None):
        head = self.lm_head
        self.lm_head = nn.Identity()
        try:
            h = super().decode(dec_ids, enc, enc_mask)  # = decoder.final_layer_norm(...)
        finally:
            self.lm_head = head
        return head(h * self.config["d_model"] ** -0.5)

    def hf_state_dict(self):
        sd = dict(self.state_dict())
        sd.pop("lm_head.weight", None)  # tied: HF's checkpoint stores shared.weight only
        return sd

CONFIGS = {
    "gpt2-small": (GPT2LMHeadModel, {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "activation_function": "gelu_new",
        "vocab_size": 50257, "n_positions": 1024, "n_ctx": 1024, "n_embd": 768, "n_layer": 12,
        "n_head": 12, "n_inner": None, "layer_norm_epsilon": 1e-5, "initializer_range": 0.02,
        "bos_token_id": 50256, "eos_token_id": 50256, "tie_word_embeddings": True,
        "scale_attn_weights": True, "use_cache": True, "torch_dtype": "float32",
        "attn_pdrop": 0.0, "embd_pdrop": 0.0, "resid_pdrop": 0.0,
    }),
    "llama-110m": (LlamaForCausalLM, {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
        "vocab_size": 32000, "max_position_embeddings": 1024, "hidden_size": 768,
        "intermediate_size": 2048, "num_hidden_layers": 12, "num_attention_heads": 12,
        "num_key_value_heads": 12, "head_dim": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "rope_scaling": None, "attention_bias": False, "mlp_bias": False, "tie_word_embeddings": False,
        "bos_token_id": 1, "eos_token_id": 2, "initializer_range": 0.02, "use_cache": True,
        "torch_dtype": "float32", "pretraining_tp": 1, "attention_dropout": 0.0,
    }),
    "bert-base": (BertForMaskedLM, {
        "architectures": ["BertForMaskedLM"], "model_type": "bert", "hidden_act": "gelu",
        "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
        "intermediate_size": 3072, "max_position_embeddings": 512, "type_vocab_size": 2,
        "layer_norm_eps": 1e-12, "pad_token_id": 0, "initializer_range": 0.02,
        "position_embedding_type": "absolute", "torch_dtype": "float32",
        "attention_probs_dropout_prob": 0.0, "hidden_dropout_prob": 0.0,
    }),
    "minilm-l6": (BertForMaskedLM, {
        "architectures": ["BertForMaskedLM"], "model_type": "bert", "hidden_act": "gelu",
        "vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
        "intermediate_size": 1536, "max_position_embeddings": 512, "type_vocab_size": 2,
        "layer_norm_eps": 1e-12, "pad_token_id": 0, "initializer_range": 0.02,
        "position_embedding_type": "absolute", "torch_dtype": "float32",
        "attention_probs_dropout_prob": 0.0, "hidden_dropout_prob": 0.0,
    }),
    "t5-small": (T5V10, {
        "architectures": ["T5ForConditionalGeneration"], "model_type": "t5", "d_model": 512, "d_ff": 2048,
        "d_kv": 64, "num_heads": 8, "num_layers": 6, "num_decoder_layers": 6, "vocab_size": 32128,
        "relative_attention_num_buckets": 32, "relative_attention_max_distance": 128,
        "layer_norm_epsilon": 1e-6, "feed_forward_proj": "relu", "is_encoder_decoder": True,
        "tie_word_embeddings": True, "decoder_start_token_id": 0, "eos_token_id": 1, "pad_token_id": 0,
        "n_positions": 512, "dropout_rate": 0.0, "initializer_factor": 1.0, "use_cache": True,
        "torch_dtype": "float32",
    }),
}


def main():
    out = sys.argv[1]
    names = sys.argv[2:] or list(CONFIGS)
    torch.set_num_threads(1)
    for i, name in enumerate(names):
        cls, config = CONFIGS[name]
        folder = os.path.join(out, name)
        if os.path.exists(os.path.join(folder, "model.safetensors")):
            print(f"{folder}: exists", file=sys.stderr)
            continue
        torch.manual_seed(1000 + i)
        with torch.no_grad():
            model = cls(config).eval()
        extra = {}
        if config["model_type"] in ("gpt2", "llama"):
            extra["generation_config.json"] = {"bos_token_id": config["bos_token_id"],
                                               "eos_token_id": config["eos_token_id"]}
        elif config["model_type"] == "t5":
            extra["generation_config.json"] = {"decoder_start_token_id": 0, "eos_token_id": 1, "pad_token_id": 0}
        save_hf_folder(folder, model, config, extra)
        n = sum(p.numel() for p in model.parameters())
        print(f"{folder}: {n / 1e6:.1f}M parameters", file=sys.stderr)


if __name__ == "__main__":
    main()
