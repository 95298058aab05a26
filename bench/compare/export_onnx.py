"""export_onnx.py -- ONNX twins of a bench/compare Hugging Face folder, in the layout
transformers.js loads (<out>/config.json, <out>/onnx/model{,_quantized,_q4}.onnx).

  /usr/bin/python3 bench/compare/export_onnx.py HF_FOLDER OUT_DIR

The graphs are traced from models/train/hf_models.py's twins (the same state dict as the
GGUF files, which js/convert made from the same safetensors) with the input/output names
of Hugging Face optimum's exports, which transformers.js expects:

  decoders  inputs  input_ids, attention_mask, position_ids, past_key_values.N.key/value
                    ([batch, kv_heads, past, head_dim]; empty (past = 0) on the first step)
            outputs logits, present.N.key/value
  BERT      inputs  input_ids, attention_mask, token_type_ids
            outputs last_hidden_state
  T5        encoder_model.onnx          input_ids, attention_mask -> last_hidden_state
            decoder_model_merged.onnx   encoder_attention_mask, input_ids, encoder_hidden_states,
                    past_key_values.N.{decoder,encoder}.{key,value}, use_cache_branch (bool [1])
                    -> logits, present.N.{decoder,encoder}.{key,value}: optimum's merged decoder,
                    one If node on use_cache_branch whose branches are the decoder without past
                    (computes the cross-attention K/V from encoder_hidden_states) and with past
                    (takes them from the cache); shared weights stored once.

Variants (the dtypes transformers.js selects with {dtype}; T5: the same suffixes on
encoder_model / decoder_model_merged, no q4):
  model.onnx            fp32
  model_quantized.onnx  q8: what transformers.js' scripts/quantize.py makes with onnxruntime's
                        dynamic quantizer (IntegerOps, weights QInt8 per tensor, symmetric;
                        activations uint8 at run time): every MatMul with a constant B becomes
                        DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul(scale_a * scale_w),
                        every Gather on a constant table reads int8 rows + DequantizeLinear.
                        onnxruntime's Python tools are not installed here (no PyPI), so the
                        graph is rewritten here with the same ops and formulas.
  model_q4.onnx         q4: MatMul4BitsQuantizer's output (block 32, symmetric, accuracy_level
                        unset): every MatMul with a constant B becomes com.microsoft.MatMulNBits
                        (bits 4, block 32, default zero point 8). The blocks are computed with
                        ggml's Q4_0 rule (d = max / -8, q = min(15, trunc(x / d + 8.5))), so
                        they hold the Q4_0 GGUF's values.
"""
import hashlib
import json
import math
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "models", "train"))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from common import load_safetensors  # noqa: E402
from hf_models import BertForMaskedLM, GPT2LMHeadModel, LlamaForCausalLM, gelu_new, relative_position_bucket  # noqa: E402
from make_hf import T5V10  # noqa: E402

OPSET = 17  # LayerNormalization is a single op from opset 17


def additive_mask(attention_mask, t):
    """[b, 1, t, T] additive mask: causal over the last t of T positions and the padding mask."""
    T = attention_mask.shape[1]
    kpos = torch.arange(T, device=attention_mask.device)
    qpos = torch.arange(t, device=attention_mask.device) + (T - t)
    keep = (kpos[None, :] <= qpos[:, None])[None, None] & attention_mask[:, None, None, :].bool()
    return torch.where(keep, torch.zeros((), dtype=torch.float32), torch.full((), torch.finfo(torch.float32).min))


class GPT2WithPast(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m
        c = m.config
        self.nh, self.e = c["n_head"], c["n_embd"]

    def forward(self, input_ids, attention_mask, position_ids, *past):
        tr = self.m.transformer
        b, t = input_ids.shape
        nh, e = self.nh, self.e
        hd = e // nh
        x = tr.wte(input_ids) + tr.wpe(position_ids)
        mask = additive_mask(attention_mask, t)
        presents = []
        for i, blk in enumerate(tr.h):
            a = blk.attn
            q, k, v = a.c_attn(blk.ln_1(x)).split(e, dim=2)
            q, k, v = (z.view(b, t, nh, hd).transpose(1, 2) for z in (q, k, v))
            k = torch.cat([past[2 * i], k], dim=2)
            v = torch.cat([past[2 * i + 1], v], dim=2)
            presents += [k, v]
            s = q @ k.transpose(-1, -2) / math.sqrt(hd) + mask
            o = (s.softmax(-1) @ v).transpose(1, 2).reshape(b, t, e)
            x = x + a.c_proj(o)
            x = x + blk.mlp(blk.ln_2(x))
        return (tr.ln_f(x) @ tr.wte.weight.t(), *presents)


class LlamaWithPast(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m
        c = m.config
        self.nh, self.nkv = c["num_attention_heads"], c["num_key_value_heads"]
        self.hd = c.get("head_dim") or c["hidden_size"] // self.nh
        inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, self.hd, 2, dtype=torch.int64).float() / self.hd))
        self.register_buffer("inv_freq", inv, persistent=False)

    def forward(self, input_ids, attention_mask, position_ids, *past):
        mm = self.m.model
        b, t = input_ids.shape
        nh, nkv, hd = self.nh, self.nkv, self.hd
        freqs = position_ids[:, :, None].float() * self.inv_freq[None, None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[:, None], emb.sin()[:, None]  # [b, 1, t, hd]
        mask = additive_mask(attention_mask, t)

        def rot(z):
            z1, z2 = z[..., : hd // 2], z[..., hd // 2:]
            return torch.cat((-z2, z1), dim=-1)

        x = mm.embed_tokens(input_ids)
        presents = []
        for i, layer in enumerate(mm.layers):
            at = layer.self_attn
            h = layer.input_layernorm(x)
            q = at.q_proj(h).view(b, t, nh, hd).transpose(1, 2)
            k = at.k_proj(h).view(b, t, nkv, hd).transpose(1, 2)
            v = at.v_proj(h).view(b, t, nkv, hd).transpose(1, 2)
            q = q * cos + rot(q) * sin
            k = k * cos + rot(k) * sin
            k = torch.cat([past[2 * i], k], dim=2)
            v = torch.cat([past[2 * i + 1], v], dim=2)
            presents += [k, v]
            if nkv != nh:  # query head j reads kv head j // (nh / nkv)
                T = k.shape[2]
                k = k[:, :, None].expand(b, nkv, nh // nkv, T, hd).reshape(b, nh, T, hd)
                v = v[:, :, None].expand(b, nkv, nh // nkv, T, hd).reshape(b, nh, T, hd)
            s = q @ k.transpose(-1, -2) / math.sqrt(hd) + mask
            o = (s.softmax(-1) @ v).transpose(1, 2).reshape(b, t, nh * hd)
            x = x + at.o_proj(o)
            x = x + layer.mlp(layer.post_attention_layernorm(x))
        x = mm.norm(x)
        logits = x @ mm.embed_tokens.weight.t() if self.m.tied else self.m.lm_head(x)
        return (logits, *presents)


class BertEncoder(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.m.encode(input_ids, token_type_ids, attention_mask)


# ------------------------------------------------------------------ T5 (optimum's layout)

class T5Encoder(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask):
        return self.m.encode(input_ids, attention_mask)


class T5Decoder(nn.Module):
    """One decoder call. with_past=False: (encoder_attention_mask, input_ids, encoder_hidden_states)
    -> logits, present.N.decoder.key/value, present.N.encoder.key/value (cross K/V computed);
    with_past=True: (encoder_attention_mask, input_ids, past.N.decoder.key/value, past.N.encoder.key/value
    per layer) -> logits, present.N.decoder.key/value."""

    def __init__(self, m, with_past):
        super().__init__()
        self.m = m
        self.with_past = with_past
        c = m.config
        self.nh, self.dkv, self.d = c["num_heads"], c["d_kv"], c["d_model"]
        self.tied = c.get("tie_word_embeddings", True) is not False

    def forward(self, encoder_attention_mask, input_ids, *rest):
        m = self.m
        b, t = input_ids.shape
        nh, dkv = self.nh, self.dkv
        blocks = m.decoder.block
        if self.with_past:
            past = rest
            p = past[0].shape[2]
        else:
            enc = rest[0]
            p = 0
        x = m.shared(input_ids)
        sa0 = blocks[0].layer[0].SelfAttention
        qpos = torch.arange(t)[:, None] + p
        kpos = torch.arange(p + t)[None, :]
        buckets = relative_position_bucket(kpos - qpos, False, sa0.nb, sa0.maxd)
        bias = sa0.relative_attention_bias(buckets).permute(2, 0, 1).unsqueeze(0)
        bias = bias + torch.where(kpos <= qpos, torch.zeros((), dtype=torch.float32), torch.full((), torch.finfo(torch.float32).min))
        cross = (1.0 - encoder_attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        heads = lambda z: z.view(b, -1, nh, dkv).transpose(1, 2)  # noqa: E731
        presents = []
        for i, blk in enumerate(blocks):
            sa, ca, ff = blk.layer
            a = sa.SelfAttention
            h = sa.layer_norm(x)
            q, k, v = heads(a.q(h)), heads(a.k(h)), heads(a.v(h))
            if self.with_past:
                k = torch.cat([past[4 * i], k], dim=2)
                v = torch.cat([past[4 * i + 1], v], dim=2)
            presents += [k, v]
            o = ((q @ k.transpose(-1, -2) + bias).softmax(-1) @ v).transpose(1, 2).reshape(b, t, nh * dkv)
            x = x + a.o(o)
            c = ca.EncDecAttention
            q = heads(c.q(ca.layer_norm(x)))
            if self.with_past:
                ck, cv = past[4 * i + 2], past[4 * i + 3]
            else:
                ck, cv = heads(c.k(enc)), heads(c.v(enc))
                presents += [ck, cv]
            o = ((q @ ck.transpose(-1, -2) + cross).softmax(-1) @ cv).transpose(1, 2).reshape(b, t, nh * dkv)
            x = x + c.o(o)
            x = x + ff.DenseReluDense(ff.layer_norm(x))
        x = m.decoder.final_layer_norm(x)
        logits = (x * self.d ** -0.5) @ m.shared.weight.t() if self.tied else m.lm_head(x)
        return (logits, *presents)


def _value_info(name, elem, dims):
    return helper.make_tensor_value_info(name, elem, dims)


def merge_decoders(no_past, with_past, n_layer, dims):
    """optimum's merged decoder: main graph inputs = the union, one If on use_cache_branch
    (then: with past, else: without); initializers deduplicated by content into the main graph."""
    by_content, inits = {}, []

    def branch(model, prefix, extra_identity):
        g = model.graph
        rn = {}
        for init in g.initializer:
            key = (init.data_type, tuple(init.dims), hashlib.sha1(numpy_helper.to_array(init).tobytes()).hexdigest())
            if key not in by_content:
                name = init.name if all(i.name != init.name for i in inits) else prefix + init.name
                t = onnx.TensorProto()
                t.CopyFrom(init)
                t.name = name
                inits.append(t)
                by_content[key] = name
            rn[init.name] = by_content[key]
        outer = {i.name for i in g.input}
        for node in g.node:
            for o in node.output:
                if o and o not in rn:
                    rn[o] = prefix + o
        nodes = []
        for node in g.node:
            n = onnx.NodeProto()
            n.CopyFrom(node)
            n.name = prefix + (node.name or node.output[0])
            for j, x in enumerate(n.input):
                if x in rn:
                    n.input[j] = rn[x]
                elif x and x not in outer:
                    raise ValueError(f"{prefix}{node.name}: input {x} is neither a graph input, an initializer nor a node output")
            for j, x in enumerate(n.output):
                if x:
                    n.output[j] = rn[x]
            nodes.append(n)
        outs = {o.name: o for o in g.output}
        out_infos = []
        for name in ["logits"] + [f"present.{i}.{s}.{kv}" for i in range(n_layer) for s in ("decoder", "encoder") for kv in ("key", "value")]:
            if name in outs:
                vi = onnx.ValueInfoProto()
                vi.CopyFrom(outs[name])
                vi.name = rn[name]
                out_infos.append(vi)
            else:  # with past: the encoder K/V pass through from the cache
                src = extra_identity[name]
                nodes.append(helper.make_node("Identity", [src], [prefix + name], name=prefix + name + "_Identity"))
                out_infos.append(_value_info(prefix + name, TensorProto.FLOAT, ["batch_size", dims["heads"], "encoder_sequence_length_out", dims["d_kv"]]))
        for vi in out_infos:  # torch leaves the static dims of dynamic outputs unset
            d = vi.type.tensor_type.shape.dim
            fixed = [None, dims["heads"], None, dims["d_kv"]] if vi.name != prefix + "logits" else [None, None, dims["vocab"]]
            for j, v in enumerate(fixed):
                if v is not None and j < len(d) and not d[j].dim_param:
                    d[j].dim_value = v
        return helper.make_graph(nodes, prefix + "graph", [], out_infos), outs

    passthrough = {f"present.{i}.encoder.{kv}": f"past_key_values.{i}.encoder.{kv}" for i in range(n_layer) for kv in ("key", "value")}
    then_g, _ = branch(with_past, "with_past/", passthrough)
    else_g, outs = branch(no_past, "no_past/", {})
    inputs = [i for i in no_past.graph.input if i.name not in {x.name for x in no_past.graph.initializer}]
    inputs += [i for i in with_past.graph.input if i.name.startswith("past_key_values")]
    inputs.append(_value_info("use_cache_branch", TensorProto.BOOL, [1]))
    main_outs = []
    for o in then_g.output:
        name = o.name.split("/", 1)[1]
        if name == "logits":
            main_outs.append(_value_info(name, TensorProto.FLOAT, ["batch_size", "decoder_sequence_length", dims["vocab"]]))
        elif ".decoder." in name:
            main_outs.append(_value_info(name, TensorProto.FLOAT, ["batch_size", dims["heads"], "past_decoder_sequence_length + 1", dims["d_kv"]]))
        else:
            main_outs.append(_value_info(name, TensorProto.FLOAT, ["batch_size", dims["heads"], "encoder_sequence_length_out", dims["d_kv"]]))
    node = helper.make_node("If", ["use_cache_branch"], [o.name for o in main_outs], name="optimum::if",
                            then_branch=then_g, else_branch=else_g)
    graph = helper.make_graph([node], "merged_decoder", inputs, main_outs, initializer=inits)
    model = helper.make_model(graph, opset_imports=list(no_past.opset_import), producer_name="bench/compare export_onnx.py")
    model.ir_version = no_past.ir_version
    return model


def export_t5(config, m, out):
    onnx_dir = os.path.join(out, "onnx")
    os.makedirs(onnx_dir, exist_ok=True)
    n_layer, nh, dkv = config["num_decoder_layers"], config["num_heads"], config["d_kv"]
    V = config["vocab_size"]
    b, s, t, p = 2, 6, 3, 2
    ids = torch.randint(3, V, (b, s))
    mask = torch.ones(b, s, dtype=torch.int64)
    enc_path = os.path.join(onnx_dir, "encoder_model.onnx")
    with torch.no_grad():
        torch.onnx.export(T5Encoder(m), (ids, mask), enc_path, input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state"], opset_version=OPSET, do_constant_folding=True,
                          dynamic_axes={"input_ids": {0: "batch_size", 1: "encoder_sequence_length"},
                                        "attention_mask": {0: "batch_size", 1: "encoder_sequence_length"},
                                        "last_hidden_state": {0: "batch_size", 1: "encoder_sequence_length"}})
        enc = m.encode(ids, mask)
        dec_ids = torch.randint(3, V, (b, t))
        tmp = {}
        # without past
        names_in = ["encoder_attention_mask", "input_ids", "encoder_hidden_states"]
        axes = {"encoder_attention_mask": {0: "batch_size", 1: "encoder_sequence_length"},
                "input_ids": {0: "batch_size", 1: "decoder_sequence_length"},
                "encoder_hidden_states": {0: "batch_size", 1: "encoder_sequence_length"},
                "logits": {0: "batch_size", 1: "decoder_sequence_length"}}
        names_out = ["logits"]
        for i in range(n_layer):
            for kv in ("key", "value"):
                names_out.append(f"present.{i}.decoder.{kv}")
                axes[f"present.{i}.decoder.{kv}"] = {0: "batch_size", 2: "decoder_sequence_length"}
            for kv in ("key", "value"):
                names_out.append(f"present.{i}.encoder.{kv}")
                axes[f"present.{i}.encoder.{kv}"] = {0: "batch_size", 2: "encoder_sequence_length_out"}
        tmp["no_past"] = os.path.join(onnx_dir, "_decoder_model.onnx")
        torch.onnx.export(T5Decoder(m, False), (mask, dec_ids, enc), tmp["no_past"], input_names=names_in,
                          output_names=names_out, dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)
        # with past
        past = []
        for _ in range(n_layer):
            past += [torch.randn(b, nh, p, dkv), torch.randn(b, nh, p, dkv), torch.randn(b, nh, s, dkv), torch.randn(b, nh, s, dkv)]
        names_in = ["encoder_attention_mask", "input_ids"]
        axes = {"encoder_attention_mask": {0: "batch_size", 1: "encoder_sequence_length"},
                "input_ids": {0: "batch_size", 1: "decoder_sequence_length"},
                "logits": {0: "batch_size", 1: "decoder_sequence_length"}}
        names_out = ["logits"]
        for i in range(n_layer):
            for kv in ("key", "value"):
                names_in.append(f"past_key_values.{i}.decoder.{kv}")
                axes[f"past_key_values.{i}.decoder.{kv}"] = {0: "batch_size", 2: "past_decoder_sequence_length"}
            for kv in ("key", "value"):
                names_in.append(f"past_key_values.{i}.encoder.{kv}")
                axes[f"past_key_values.{i}.encoder.{kv}"] = {0: "batch_size", 2: "encoder_sequence_length_out"}
            for kv in ("key", "value"):
                names_out.append(f"present.{i}.decoder.{kv}")
                axes[f"present.{i}.decoder.{kv}"] = {0: "batch_size", 2: "past_decoder_sequence_length + 1"}
        tmp["with_past"] = os.path.join(onnx_dir, "_decoder_with_past_model.onnx")
        torch.onnx.export(T5Decoder(m, True), (mask, dec_ids[:, :1], *past), tmp["with_past"], input_names=names_in,
                          output_names=names_out, dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)
        # the cached path equals the plain forward of the twin
        want = m.decode(dec_ids, enc, mask)
        out = T5Decoder(m, False)(mask, dec_ids[:, :1], enc)
        got = [out[0]]
        pk = list(out[1:])
        for j in range(1, t):
            o2 = T5Decoder(m, True)(mask, dec_ids[:, j:j + 1], *pk)
            got.append(o2[0])
            for i in range(n_layer):
                pk[4 * i], pk[4 * i + 1] = o2[1 + 2 * i], o2[2 + 2 * i]
        err = (torch.cat(got, dim=1) - want).abs().max().item()
        print(f"  T5 decoder: cached steps vs plain forward: max |diff| {err:.2e}", file=sys.stderr)
        assert err < 1e-4, err
    for suffix, fn in (("", None), ("_quantized", quantize_dynamic_int8)):
        e = onnx.load(enc_path)
        if fn:
            onnx.save(fn(e), os.path.join(onnx_dir, f"encoder_model{suffix}.onnx"))
        a, w = onnx.load(tmp["no_past"]), onnx.load(tmp["with_past"])
        if fn:
            a, w = fn(a), fn(w)
        merged = merge_decoders(a, w, n_layer, {"vocab": V, "heads": nh, "d_kv": dkv})
        onnx.checker.check_model(merged)
        onnx.save(merged, os.path.join(onnx_dir, f"decoder_model_merged{suffix}.onnx"))
    for f in tmp.values():
        os.remove(f)
    for f in sorted(os.listdir(onnx_dir)):
        print(f"  {f}: {os.path.getsize(os.path.join(onnx_dir, f)) / 2**20:.1f} MiB", file=sys.stderr)


def load(folder):
    config = json.load(open(os.path.join(folder, "config.json")))
    cls = {"gpt2": GPT2LMHeadModel, "llama": LlamaForCausalLM, "bert": BertForMaskedLM, "t5": T5V10}[config["model_type"]]
    with torch.no_grad():
        m = cls(config).eval()
    sd = load_safetensors(os.path.join(folder, "model.safetensors"))
    if config["model_type"] == "t5":
        sd.setdefault("lm_head.weight", sd["shared.weight"])
    m.load_state_dict(sd, strict=True)
    return config, m


def export(folder, out):
    config, m = load(folder)
    onnx_dir = os.path.join(out, "onnx")
    os.makedirs(onnx_dir, exist_ok=True)
    for f in ("config.json", "generation_config.json"):
        if os.path.exists(os.path.join(folder, f)):
            shutil.copy(os.path.join(folder, f), os.path.join(out, f))
    path = os.path.join(onnx_dir, "model.onnx")
    kind = config["model_type"]
    if kind == "t5":
        return export_t5(config, m, out)
    if kind == "bert":
        wrapper = BertEncoder(m)
        b, t = 2, 5
        ids = torch.randint(1000, 2000, (b, t))
        inputs = (ids, torch.ones(b, t, dtype=torch.int64), torch.zeros(b, t, dtype=torch.int64))
        names_in = ["input_ids", "attention_mask", "token_type_ids"]
        names_out = ["last_hidden_state"]
        axes = {n: {0: "batch_size", 1: "sequence_length"} for n in names_in}
        axes["last_hidden_state"] = {0: "batch_size", 1: "sequence_length"}
        reference = lambda: m.encode(ids, inputs[2], inputs[1])  # noqa: E731
    else:
        wrapper = GPT2WithPast(m) if kind == "gpt2" else LlamaWithPast(m)
        n_layer = config.get("n_layer") or config["num_hidden_layers"]
        nkv = config.get("n_head") or config["num_key_value_heads"]
        hd = (config.get("n_embd") or config["hidden_size"]) // (config.get("n_head") or config["num_attention_heads"])
        b, t, p = 1, 3, 2
        ids = torch.randint(0, config["vocab_size"], (b, t))
        past = []
        for _ in range(n_layer):
            past += [torch.randn(b, nkv, p, hd), torch.randn(b, nkv, p, hd)]
        inputs = (ids, torch.ones(b, p + t, dtype=torch.int64), torch.arange(p, p + t)[None], *past)
        names_in = ["input_ids", "attention_mask", "position_ids"]
        names_out = ["logits"]
        axes = {"input_ids": {0: "batch_size", 1: "sequence_length"},
                "attention_mask": {0: "batch_size", 1: "past_sequence_length + sequence_length"},
                "position_ids": {0: "batch_size", 1: "sequence_length"},
                "logits": {0: "batch_size", 1: "sequence_length"}}
        for i in range(n_layer):
            for kv in ("key", "value"):
                names_in.append(f"past_key_values.{i}.{kv}")
                names_out.append(f"present.{i}.{kv}")
                axes[f"past_key_values.{i}.{kv}"] = {0: "batch_size", 2: "past_sequence_length"}
                axes[f"present.{i}.{kv}"] = {0: "batch_size", 2: "past_sequence_length + sequence_length"}
        reference = None
    with torch.no_grad():
        torch.onnx.export(wrapper, inputs, path, input_names=names_in, output_names=names_out,
                          dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)
    print(f"{path}: {os.path.getsize(path) / 2**20:.1f} MiB", file=sys.stderr)
    if kind != "bert":
        # the cached forward must equal the plain (no-cache) forward of the twin
        with torch.no_grad():
            full = torch.randint(0, config["vocab_size"], (1, 7))
            want = m(full)
            n_layer = len(inputs) - 3
            empty = [torch.zeros(1, inputs[3].shape[1], 0, inputs[3].shape[3]) for _ in range(n_layer)]
            out = wrapper(full[:, :5], torch.ones(1, 5, dtype=torch.int64), torch.arange(5)[None], *empty)
            out2 = wrapper(full[:, 5:], torch.ones(1, 7, dtype=torch.int64), torch.arange(5, 7)[None], *out[1:])
            got = torch.cat([out[0], out2[0]], dim=1)
            err = (got - want).abs().max().item()
            print(f"  cached vs plain forward: max |diff| {err:.2e}", file=sys.stderr)
            assert err < 1e-4, err
    model = onnx.load(path)
    q8 = quantize_dynamic_int8(model)
    onnx.save(q8, os.path.join(onnx_dir, "model_quantized.onnx"))
    if kind != "bert":
        model = onnx.load(path)
        q4 = quantize_q4(model)
        onnx.save(q4, os.path.join(onnx_dir, "model_q4.onnx"))
    for f in sorted(os.listdir(onnx_dir)):
        print(f"  {f}: {os.path.getsize(os.path.join(onnx_dir, f)) / 2**20:.1f} MiB", file=sys.stderr)


# ------------------------------------------------------------------ graph rewriting

def _initializers(model):
    return {t.name: t for t in model.graph.initializer}


def _uses(model):
    n = {}
    for node in model.graph.node:
        for i in node.input:
            n[i] = n.get(i, 0) + 1
    for o in model.graph.output:
        n[o.name] = n.get(o.name, 0) + 1
    return n


def _replace_graph(model, new_nodes, drop, add):
    keep = [t for t in model.graph.initializer if t.name not in drop]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep + add)
    del model.graph.node[:]
    model.graph.node.extend(new_nodes)


def _qint8_symmetric(w):
    """onnxruntime's symmetric QInt8 weights: q in [-127, 127], scale = max|w| / 127, zero point 0."""
    amax = float(np.abs(w).max())
    scale = amax / 127.0 if amax > 0 else 1.0
    q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
    return q, np.float32(scale)


def quantize_dynamic_int8(model):
    inits = _initializers(model)
    uses = _uses(model)
    new_nodes, drop, add = [], set(), []
    done = {}

    def qweight(name):
        if name not in done:
            w = numpy_helper.to_array(inits[name]).astype(np.float32)
            q, s = _qint8_symmetric(w)
            add.extend([numpy_helper.from_array(q, name + "_quantized"),
                        numpy_helper.from_array(np.array(s, dtype=np.float32), name + "_scale"),
                        numpy_helper.from_array(np.array(0, dtype=np.int8), name + "_zero_point")])
            done[name] = True
        return name + "_quantized", name + "_scale", name + "_zero_point"

    for node in model.graph.node:
        if node.op_type == "MatMul" and node.input[1] in inits and numpy_helper.to_array(inits[node.input[1]]).ndim == 2:
            a, w = node.input
            wq, ws, wz = qweight(w)
            y = node.output[0]
            base = node.name or y
            new_nodes += [
                helper.make_node("DynamicQuantizeLinear", [a], [a + "_quantized", a + "_scale", a + "_zero_point"],
                                 name=base + "_DynamicQuantizeLinear") if not any(n.output[0] == a + "_quantized" for n in new_nodes) else None,
                helper.make_node("MatMulInteger", [a + "_quantized", wq, a + "_zero_point", wz], [y + "_output_quantized"],
                                 name=base + "_quant"),
                helper.make_node("Cast", [y + "_output_quantized"], [y + "_output_quantized_cast_output"], to=TensorProto.FLOAT,
                                 name=base + "_quant_output_scale_cast"),
                helper.make_node("Mul", [a + "_scale", ws], [y + "_quant_scales_mul:0"], name=base + "_quant_scales_mul"),
                helper.make_node("Mul", [y + "_output_quantized_cast_output", y + "_quant_scales_mul:0"], [y],
                                 name=base + "_quant_output_scale_mul"),
            ]
            new_nodes = [n for n in new_nodes if n is not None]
            if uses.get(w, 0) <= 1:
                drop.add(w)
        elif node.op_type == "Gather" and node.input[0] in inits:
            w, idx = node.input
            wq, ws, wz = qweight(w)
            y = node.output[0]
            new_nodes += [
                helper.make_node("Gather", [wq, idx], [y + "_output_quantized"], axis=next((a.i for a in node.attribute if a.name == "axis"), 0),
                                 name=(node.name or y) + "_quant"),
                helper.make_node("DequantizeLinear", [y + "_output_quantized", ws, wz], [y], name=(node.name or y) + "_DequantizeLinear"),
            ]
            if uses.get(w, 0) <= 1:
                drop.add(w)
        else:
            new_nodes.append(node)
    _replace_graph(model, new_nodes, drop, add)
    return model


def q4_0_blocks(wt):
    """ggml Q4_0 of rows wt[n][k]: per block of 32 (d = max / -8 where max is the signed value of
    largest magnitude, q = min(15, trunc(x / d + 8.5))). Returns q [n][k] uint8 and d [n][k/32] (d
    rounded through fp16, as the GGUF block stores it)."""
    n, k = wt.shape
    b = wt.reshape(n, k // 32, 32).astype(np.float32)
    idx = np.abs(b).argmax(axis=2)
    mx = np.take_along_axis(b, idx[..., None], axis=2)[..., 0]
    d = (mx / -8.0).astype(np.float32)
    inv = np.where(d != 0, 1.0 / np.where(d != 0, d, 1), 0).astype(np.float32)
    q = np.minimum(15, np.trunc(b * inv[..., None] + 8.5)).astype(np.uint8)
    return q.reshape(n, k), d.astype(np.float16).astype(np.float32)


def quantize_q4(model):
    inits = _initializers(model)
    uses = _uses(model)
    new_nodes, drop, add = [], set(), []
    for node in model.graph.node:
        if node.op_type == "MatMul" and node.input[1] in inits:
            w = numpy_helper.to_array(inits[node.input[1]])
            if w.ndim == 2 and w.shape[0] % 32 == 0:
                k, n = w.shape
                q, d = q4_0_blocks(np.ascontiguousarray(w.T))  # rows = output channels
                packed = (q[:, 0::2] | (q[:, 1::2] << 4)).astype(np.uint8).reshape(n, k // 32, 16)
                name = node.input[1]
                add += [numpy_helper.from_array(packed, name + "_Q4"),
                        numpy_helper.from_array(d.reshape(-1), name + "_scales")]
                new_nodes.append(helper.make_node("MatMulNBits", [node.input[0], name + "_Q4", name + "_scales"],
                                                  list(node.output), name=(node.name or node.output[0]) + "_Q4",
                                                  domain="com.microsoft", K=k, N=n, bits=4, block_size=32))
                if uses.get(name, 0) <= 1:
                    drop.add(name)
                continue
        new_nodes.append(node)
    _replace_graph(model, new_nodes, drop, add)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return model


if __name__ == "__main__":
    torch.set_num_threads(1)
    export(sys.argv[1], sys.argv[2])
