"""Minimal PyTorch twins of four Hugging Face transformers models.

Each class has exactly the state_dict names and the forward math of its HF
counterpart (eval mode), so a folder written with save_hf_folder() loads into
transformers and into any HF -> GGUF converter as the real thing:

  GPT2LMHeadModel             (gpt2:  LayerNorm, Conv1D, gelu_new, tied lm_head)
  LlamaForCausalLM            (llama: RMSNorm, RoPE rotate_half, SwiGLU, GQA)
  BertForMaskedLM             (bert:  post-LN, erf GELU, MLM head tied to word embeddings)
  T5ForConditionalGeneration  (t5 v1.1: RMS T5LayerNorm, relative position buckets,
                               gated-gelu FFN, unscaled attention, untied lm_head)

No dropout anywhere (the configs say 0.0): training data are generated and plentiful.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def causal_mask(t, device=None):
    return torch.full((t, t), float("-inf"), device=device).triu(1)


# =========================================================================== GPT-2
class Conv1D(nn.Module):
    """HF's Conv1D: weight is [in, out], y = x @ W + b."""

    def __init__(self, nf, nx):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(nx, nf).normal_(0.0, 0.02))
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        return x @ self.weight + self.bias


class GPT2Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        e = c["n_embd"]
        self.n_head = c["n_head"]
        self.c_attn = Conv1D(3 * e, e)
        self.c_proj = Conv1D(e, e)

    def forward(self, x):
        b, t, e = x.shape
        hd = e // self.n_head
        q, k, v = self.c_attn(x).split(e, dim=2)
        q, k, v = (z.view(b, t, self.n_head, hd).transpose(1, 2) for z in (q, k, v))
        s = q @ k.transpose(-1, -2) / math.sqrt(hd) + causal_mask(t, x.device)
        o = (s.softmax(-1) @ v).transpose(1, 2).reshape(b, t, e)
        return self.c_proj(o)


class GPT2MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        e = c["n_embd"]
        inner = c.get("n_inner") or 4 * e
        self.c_fc = Conv1D(inner, e)
        self.c_proj = Conv1D(e, inner)

    def forward(self, x):
        return self.c_proj(gelu_new(self.c_fc(x)))


class GPT2Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        e, eps = c["n_embd"], c["layer_norm_epsilon"]
        self.ln_1 = nn.LayerNorm(e, eps=eps)
        self.attn = GPT2Attention(c)
        self.ln_2 = nn.LayerNorm(e, eps=eps)
        self.mlp = GPT2MLP(c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2LMHeadModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = c
        self.transformer = nn.Module()
        self.transformer.wte = nn.Embedding(c["vocab_size"], c["n_embd"])
        self.transformer.wpe = nn.Embedding(c["n_positions"], c["n_embd"])
        self.transformer.h = nn.ModuleList(GPT2Block(c) for _ in range(c["n_layer"]))
        self.transformer.ln_f = nn.LayerNorm(c["n_embd"], eps=c["layer_norm_epsilon"])
        nn.init.normal_(self.transformer.wte.weight, 0.0, 0.02)
        nn.init.normal_(self.transformer.wpe.weight, 0.0, 0.01)
        for blk in self.transformer.h:  # GPT-2's scaled init of residual projections
            for p in (blk.attn.c_proj.weight, blk.mlp.c_proj.weight):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * c["n_layer"]))

    def forward(self, ids):
        tr = self.transformer
        pos = torch.arange(ids.shape[1], device=ids.device)
        x = tr.wte(ids) + tr.wpe(pos)
        for blk in tr.h:
            x = blk(x)
        return tr.ln_f(x) @ tr.wte.weight.t()  # tied lm_head

    def hf_state_dict(self):
        return dict(self.state_dict())  # lm_head.weight is tied and not stored


# =========================================================================== LLaMA
class LlamaRMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps))


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def rope_cos_sin(t, head_dim, theta, offset=0):
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    pos = torch.arange(offset, offset + t, dtype=torch.float32)
    freqs = torch.outer(pos, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


class LlamaAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        e = c["hidden_size"]
        self.nh, self.nkv = c["num_attention_heads"], c["num_key_value_heads"]
        self.hd = c.get("head_dim") or e // self.nh
        self.theta = c["rope_theta"]
        self.q_proj = nn.Linear(e, self.nh * self.hd, bias=False)
        self.k_proj = nn.Linear(e, self.nkv * self.hd, bias=False)
        self.v_proj = nn.Linear(e, self.nkv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.nh * self.hd, e, bias=False)

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.nkv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.nh // self.nkv  # query head h reads kv head h // rep
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        s = q @ k.transpose(-1, -2) / math.sqrt(self.hd) + causal_mask(t, x.device)
        o = (s.softmax(-1) @ v).transpose(1, 2).reshape(b, t, self.nh * self.hd)
        return self.o_proj(o)


class LlamaMLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        e, f = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = nn.Linear(e, f, bias=False)
        self.up_proj = nn.Linear(e, f, bias=False)
        self.down_proj = nn.Linear(f, e, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = LlamaRMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.self_attn = LlamaAttention(c)
        self.post_attention_layernorm = LlamaRMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.mlp = LlamaMLP(c)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaForCausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = c
        self.model = nn.Module()
        self.model.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.model.layers = nn.ModuleList(LlamaDecoderLayer(c) for _ in range(c["num_hidden_layers"]))
        self.model.norm = LlamaRMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.tied = c.get("tie_word_embeddings", False)
        if not self.tied:
            self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        for n, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * c["num_hidden_layers"]) if n.endswith(("o_proj.weight", "down_proj.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, ids):
        c = self.config
        hd = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
        cos, sin = rope_cos_sin(ids.shape[1], hd, c["rope_theta"])
        x = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            x = layer(x, cos, sin)
        x = self.model.norm(x)
        return x @ self.model.embed_tokens.weight.t() if self.tied else self.lm_head(x)

    def hf_state_dict(self):
        return dict(self.state_dict())


# =========================================================================== BERT
class BertForMaskedLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = c
        h, eps = c["hidden_size"], c["layer_norm_eps"]
        self.bert = nn.Module()
        emb = self.bert.embeddings = nn.Module()
        emb.word_embeddings = nn.Embedding(c["vocab_size"], h, padding_idx=c["pad_token_id"])
        emb.position_embeddings = nn.Embedding(c["max_position_embeddings"], h)
        emb.token_type_embeddings = nn.Embedding(c["type_vocab_size"], h)
        emb.LayerNorm = nn.LayerNorm(h, eps=eps)
        self.bert.encoder = nn.Module()
        self.bert.encoder.layer = nn.ModuleList()
        for _ in range(c["num_hidden_layers"]):
            L = nn.Module()
            L.attention = nn.Module()
            L.attention.self = nn.Module()
            for n in ("query", "key", "value"):
                setattr(L.attention.self, n, nn.Linear(h, h))
            L.attention.output = nn.Module()
            L.attention.output.dense = nn.Linear(h, h)
            L.attention.output.LayerNorm = nn.LayerNorm(h, eps=eps)
            L.intermediate = nn.Module()
            L.intermediate.dense = nn.Linear(h, c["intermediate_size"])
            L.output = nn.Module()
            L.output.dense = nn.Linear(c["intermediate_size"], h)
            L.output.LayerNorm = nn.LayerNorm(h, eps=eps)
            self.bert.encoder.layer.append(L)
        self.cls = nn.Module()
        self.cls.predictions = nn.Module()
        self.cls.predictions.transform = nn.Module()
        self.cls.predictions.transform.dense = nn.Linear(h, h)
        self.cls.predictions.transform.LayerNorm = nn.LayerNorm(h, eps=eps)
        self.cls.predictions.bias = nn.Parameter(torch.zeros(c["vocab_size"]))
        for m in self.modules():  # BertPreTrainedModel._init_weights
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, c["initializer_range"])
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)
        with torch.no_grad():
            emb.word_embeddings.weight[c["pad_token_id"]].zero_()

    def encode(self, ids, token_type_ids=None, attention_mask=None):
        """last_hidden_state [b, t, h] (BertModel)."""
        c = self.config
        b, t = ids.shape
        h, nh = c["hidden_size"], c["num_attention_heads"]
        hd = h // nh
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(ids)
        e = self.bert.embeddings
        x = e.word_embeddings(ids) + e.token_type_embeddings(token_type_ids) + \
            e.position_embeddings(torch.arange(t, device=ids.device))
        x = e.LayerNorm(x)
        add = 0.0
        if attention_mask is not None:
            add = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for L in self.bert.encoder.layer:
            sa = L.attention.self
            q, k, v = (m(x).view(b, t, nh, hd).transpose(1, 2) for m in (sa.query, sa.key, sa.value))
            s = q @ k.transpose(-1, -2) / math.sqrt(hd) + add
            o = (s.softmax(-1) @ v).transpose(1, 2).reshape(b, t, h)
            x = L.attention.output.LayerNorm(L.attention.output.dense(o) + x)
            f = L.output.dense(F.gelu(L.intermediate.dense(x)))
            x = L.output.LayerNorm(f + x)
        return x

    def mlm_logits(self, hidden):
        p = self.cls.predictions
        z = p.transform.LayerNorm(F.gelu(p.transform.dense(hidden)))
        return z @ self.bert.embeddings.word_embeddings.weight.t() + p.bias

    def forward(self, ids, token_type_ids=None, attention_mask=None):
        return self.mlm_logits(self.encode(ids, token_type_ids, attention_mask))

    def sentence_embedding(self, ids, attention_mask):
        """sentence-transformers: attention-mask-weighted mean, then L2 normalisation."""
        hs = self.encode(ids, None, attention_mask)
        m = attention_mask[:, :, None].float()
        mean = (hs * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return F.normalize(mean, p=2, dim=1)

    def hf_state_dict(self):
        # decoder.weight is tied to word_embeddings, decoder.bias is cls.predictions.bias
        return dict(self.state_dict())


# =========================================================================== T5 (v1.1)
class T5LayerNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps))


def relative_position_bucket(rel, bidirectional, num_buckets, max_distance):
    """HF T5Attention._relative_position_bucket; rel = key_pos - query_pos."""
    buckets = torch.zeros_like(rel)
    if bidirectional:
        num_buckets //= 2
        buckets = buckets + (rel > 0).long() * num_buckets
        rel = rel.abs()
    else:
        rel = -torch.min(rel, torch.zeros_like(rel))
    max_exact = num_buckets // 2
    is_small = rel < max_exact
    large = max_exact + (torch.log(rel.float() / max_exact) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).long()
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return buckets + torch.where(is_small, rel, large)


class T5Attention(nn.Module):
    def __init__(self, c, has_bias, bidirectional):
        super().__init__()
        d, self.nh, self.dkv = c["d_model"], c["num_heads"], c["d_kv"]
        inner = self.nh * self.dkv
        self.q = nn.Linear(d, inner, bias=False)
        self.k = nn.Linear(d, inner, bias=False)
        self.v = nn.Linear(d, inner, bias=False)
        self.o = nn.Linear(inner, d, bias=False)
        self.bidirectional = bidirectional
        self.nb, self.maxd = c["relative_attention_num_buckets"], c["relative_attention_max_distance"]
        if has_bias:
            self.relative_attention_bias = nn.Embedding(self.nb, self.nh)

    def compute_bias(self, tq, tk, device=None):
        ctx = torch.arange(tq, device=device)[:, None]
        mem = torch.arange(tk, device=device)[None, :]
        b = relative_position_bucket(mem - ctx, self.bidirectional, self.nb, self.maxd)
        return self.relative_attention_bias(b).permute(2, 0, 1).unsqueeze(0)  # [1, h, tq, tk]

    def forward(self, x, kv, bias):
        b, tq, _ = x.shape
        tk = kv.shape[1]
        q = self.q(x).view(b, tq, self.nh, self.dkv).transpose(1, 2)
        k = self.k(kv).view(b, tk, self.nh, self.dkv).transpose(1, 2)
        v = self.v(kv).view(b, tk, self.nh, self.dkv).transpose(1, 2)
        s = q @ k.transpose(-1, -2) + bias  # T5: no 1/sqrt(d_kv) scaling
        o = (s.float().softmax(-1).type_as(s) @ v).transpose(1, 2).reshape(b, tq, self.nh * self.dkv)
        return self.o(o)


class T5DenseGatedActDense(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wi_0 = nn.Linear(c["d_model"], c["d_ff"], bias=False)
        self.wi_1 = nn.Linear(c["d_model"], c["d_ff"], bias=False)
        self.wo = nn.Linear(c["d_ff"], c["d_model"], bias=False)

    def forward(self, x):
        return self.wo(gelu_new(self.wi_0(x)) * self.wi_1(x))


def _sublayer(c, **kw):
    m = nn.Module()
    for k, v in kw.items():
        setattr(m, k, v)
    m.layer_norm = T5LayerNorm(c["d_model"], c["layer_norm_epsilon"])
    return m


class T5ForConditionalGeneration(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = c
        d = c["d_model"]
        self.shared = nn.Embedding(c["vocab_size"], d)
        self.encoder = nn.Module()
        self.encoder.block = nn.ModuleList()
        for i in range(c["num_layers"]):
            blk = nn.Module()
            blk.layer = nn.ModuleList([
                _sublayer(c, SelfAttention=T5Attention(c, i == 0, True)),
                _sublayer(c, DenseReluDense=T5DenseGatedActDense(c))])
            self.encoder.block.append(blk)
        self.encoder.final_layer_norm = T5LayerNorm(d, c["layer_norm_epsilon"])
        self.decoder = nn.Module()
        self.decoder.block = nn.ModuleList()
        for i in range(c["num_decoder_layers"]):
            blk = nn.Module()
            blk.layer = nn.ModuleList([
                _sublayer(c, SelfAttention=T5Attention(c, i == 0, False)),
                _sublayer(c, EncDecAttention=T5Attention(c, False, False)),
                _sublayer(c, DenseReluDense=T5DenseGatedActDense(c))])
            self.decoder.block.append(blk)
        self.decoder.final_layer_norm = T5LayerNorm(d, c["layer_norm_epsilon"])
        self.lm_head = nn.Linear(d, c["vocab_size"], bias=False)
        # T5PreTrainedModel._init_weights (factor 1.0)
        f, dkv, nh, dff = 1.0, c["d_kv"], c["num_heads"], c["d_ff"]
        nn.init.normal_(self.shared.weight, 0.0, f * 1.0)
        nn.init.normal_(self.lm_head.weight, 0.0, f * d ** -0.5)
        for name, m in self.named_modules():
            if isinstance(m, T5Attention):
                nn.init.normal_(m.q.weight, 0.0, f * (d * dkv) ** -0.5)
                nn.init.normal_(m.k.weight, 0.0, f * d ** -0.5)
                nn.init.normal_(m.v.weight, 0.0, f * d ** -0.5)
                nn.init.normal_(m.o.weight, 0.0, f * (nh * dkv) ** -0.5)
                if hasattr(m, "relative_attention_bias"):
                    nn.init.normal_(m.relative_attention_bias.weight, 0.0, f * d ** -0.5)
            elif isinstance(m, T5DenseGatedActDense):
                nn.init.normal_(m.wi_0.weight, 0.0, f * d ** -0.5)
                nn.init.normal_(m.wi_1.weight, 0.0, f * d ** -0.5)
                nn.init.normal_(m.wo.weight, 0.0, f * dff ** -0.5)

    def encode(self, ids, attention_mask=None):
        b, t = ids.shape
        x = self.shared(ids)
        blocks = self.encoder.block
        bias = blocks[0].layer[0].SelfAttention.compute_bias(t, t, ids.device)
        if attention_mask is not None:
            bias = bias + (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for blk in blocks:
            ln = blk.layer[0]
            x = x + ln.SelfAttention(ln.layer_norm(x), ln.layer_norm(x), bias)
            ff = blk.layer[1]
            x = x + ff.DenseReluDense(ff.layer_norm(x))
        return self.encoder.final_layer_norm(x)

    def decode(self, dec_ids, enc, enc_mask=None):
        b, t = dec_ids.shape
        x = self.shared(dec_ids)
        blocks = self.decoder.block
        bias = blocks[0].layer[0].SelfAttention.compute_bias(t, t, dec_ids.device) + causal_mask(t, dec_ids.device)
        cross = torch.zeros(1, 1, 1, enc.shape[1], device=enc.device)
        if enc_mask is not None:
            cross = (1.0 - enc_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for blk in blocks:
            sa, ca, ff = blk.layer
            h = sa.layer_norm(x)
            x = x + sa.SelfAttention(h, h, bias)
            x = x + ca.EncDecAttention(ca.layer_norm(x), enc, cross)
            x = x + ff.DenseReluDense(ff.layer_norm(x))
        return self.lm_head(self.decoder.final_layer_norm(x))  # untied: no d_model**-0.5 rescale

    def forward(self, ids, dec_ids, attention_mask=None):
        return self.decode(dec_ids, self.encode(ids, attention_mask), attention_mask)

    def hf_state_dict(self):
        return dict(self.state_dict())  # encoder/decoder.embed_tokens are tied to shared

    @torch.no_grad()
    def generate(self, ids, max_new_tokens, start=0, eos=1):
        """Greedy decoding of one sequence (list of ids) -> generated ids (without start, without eos)."""
        x = torch.tensor([ids])
        enc = self.encode(x)
        out = [start]
        for _ in range(max_new_tokens):
            logits = self.decode(torch.tensor([out]), enc)[0, -1]
            nxt = int(torch.argmax(logits))
            if nxt == eos:
                break
            out.append(nxt)
        return out[1:]
