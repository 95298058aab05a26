"""make_hf.py -- random-weight Hugging Face folders (config.json + model.safetensors)
of four real model shapes, for bench/compare (tokenizer files are added by
make_models.mjs from the repo's ggml-vocab fixtures).

  gpt2-small   GPT2LMHeadModel   12 layers, 768, 12 heads, ffn 3072, vocab 50257, ctx 1024 (124M)
  llama-110m   LlamaForCausalLM  12 layers, 768, 12 heads (MHA), ffn 2048, vocab 32000, ctx 1024,
                                 untied output (the shape of llama2.c's stories110M, 134M)
  bert-base    BertForMaskedLM   12 layers, 768, 12 heads, ffn 3072, vocab 30522 (110M)
  minilm-l6    BertForMaskedLM    6 layers, 384, 12 heads, ffn 1536, vocab 30522 (all-MiniLM-L6-v2, 23M)

Weights are the initializers of models/train/hf_models.py (the HF-semantics PyTorch twins):
only shapes matter for speed.

  /usr/bin/python3 bench/compare/make_hf.py OUT_DIR [name ...]
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "models", "train"))

import torch  # noqa: E402

from common import save_hf_folder  # noqa: E402
from hf_models import BertForMaskedLM, GPT2LMHeadModel, LlamaForCausalLM  # noqa: E402

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
        save_hf_folder(folder, model, config, extra)
        n = sum(p.numel() for p in model.parameters())
        print(f"{folder}: {n / 1e6:.1f}M parameters", file=sys.stderr)


if __name__ == "__main__":
    main()
