#!/usr/bin/env python3
"""PyTorch reference for the training benchmark: a Llama of the given shape (random weights) with
LoRA on the given modules on frozen weights, or with "full" every weight trained (the LM head tied to
the embeddings unless "untiedOutput"), masked CE, gradient clipping, AdamW; prints one JSON line
with tokens/s and peak RSS.

    /usr/bin/python3 bench/train/torch_ref.py '{"hidden":576,"layers":30,...,"batch":4,"seq":256,"steps":4,"threads":2}'
"""
import json
import math
import resource
import sys
import time

import torch
import torch.utils.checkpoint

spec = json.loads(sys.argv[1])
torch.set_num_threads(spec["threads"])
torch.manual_seed(0)
H, L, nh, kvh, F, V = spec["hidden"], spec["layers"], spec["heads"], spec["kvHeads"], spec["ffn"], spec["vocab"]
hd = H // nh
r, alpha = spec["rank"], spec["alpha"]
targets = spec["targets"]
B, S = spec["batch"], spec["seq"]


def w(*shape):
    return torch.randn(*shape) * 0.02


full = bool(spec.get("full"))
W = {"embed": w(V, H), "norm": torch.ones(H)}
# LoRA rows keep a separate (frozen) head matrix; full rows tie it as the model under test does
W["head"] = W["embed"] if full and not spec.get("untiedOutput") else w(V, H)
lora = []
for l in range(L):
    p = f"{l}."
    # frozen projection matrices stored in fp16 when asked (as our frozenWeightDtype), each converted
    # as it is created so no fp32 copy of the model exists at any time; cast to fp32 where used (lin)
    pw = (lambda *shape: w(*shape).half()) if spec.get("frozenF16") else w
    W[p + "q"], W[p + "k"], W[p + "v"], W[p + "o"] = pw(H, H), pw(kvh * hd, H), pw(kvh * hd, H), pw(H, H)
    W[p + "gate"], W[p + "up"], W[p + "down"] = pw(F, H), pw(F, H), pw(H, F)
    W[p + "n1"], W[p + "n2"] = torch.ones(H), torch.ones(H)
A, Bm = {}, {}
for l in range(L):
    for t in targets:
        out_f, in_f = W[f"{l}.{t}"].shape
        a = torch.empty(r, in_f)
        torch.nn.init.kaiming_uniform_(a, a=math.sqrt(5))
        A[f"{l}.{t}"] = a.requires_grad_(True)
        Bm[f"{l}.{t}"] = torch.zeros(out_f, r).requires_grad_(True)
if full:
    for v in W.values():
        v.requires_grad_(True)
    # a tied head is the embedding tensor itself: one parameter
    params = list({id(v): v for v in W.values()}.values())
else:
    params = list(A.values()) + list(Bm.values())
opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
inv = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
pos = torch.arange(S).float()
freqs = torch.outer(pos, inv)
emb = torch.cat((freqs, freqs), -1)
cos, sin = emb.cos()[None, None], emb.sin()[None, None]
causal = torch.full((S, S), float("-inf")).triu(1)


def rms(x, g):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * g


def rot(x):
    return torch.cat((-x[..., hd // 2:], x[..., : hd // 2]), -1)


def lin(x, name):
    y = x @ W[name].float().t()
    if name in A:
        y = y + (alpha / r) * ((x @ A[name].t()) @ Bm[name].t())
    return y


def layer(x, l):
    p = f"{l}."
    h = rms(x, W[p + "n1"])
    q = lin(h, p + "q").view(B, S, nh, hd).transpose(1, 2)
    k = lin(h, p + "k").view(B, S, kvh, hd).transpose(1, 2)
    v = lin(h, p + "v").view(B, S, kvh, hd).transpose(1, 2)
    q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
    k, v = k.repeat_interleave(nh // kvh, 1), v.repeat_interleave(nh // kvh, 1)
    a = ((q @ k.transpose(-1, -2)) / math.sqrt(hd) + causal).softmax(-1) @ v
    x = x + lin(a.transpose(1, 2).reshape(B, S, H), p + "o")
    h2 = rms(x, W[p + "n2"])
    g = lin(h2, p + "gate")
    x = x + lin(torch.nn.functional.silu(g) * lin(h2, p + "up"), p + "down")
    return x


def forward(ids):
    x = W["embed"][ids]
    for l in range(L):
        # activation checkpointing per layer when asked (as our recompute option)
        x = torch.utils.checkpoint.checkpoint(layer, x, l, use_reentrant=False) if spec.get("recompute") else layer(x, l)
    return rms(x, W["norm"]) @ W["head"].t()


ids = torch.randint(3, V, (B, S))
times, cpu_times = [], []
for step in range(spec["steps"]):
    t0 = time.time()
    c0 = time.process_time()
    logits = forward(ids)
    loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    opt.zero_grad()
    times.append(time.time() - t0)
    cpu_times.append(time.process_time() - c0)
steady = times[1:] if len(times) > 1 else times
csteady = cpu_times[1:] if len(cpu_times) > 1 else cpu_times
print(json.dumps({"engine": "pytorch", "torch": torch.__version__, "trainedParams": sum(p.numel() for p in params), "stepMs": 1000 * sum(steady) / len(steady), "tokensPerSecond": B * S * len(steady) / sum(steady),
                  "cpuMsPerStep": 1000 * sum(csteady) / len(csteady), "tokensPerCpuSecond": B * S * len(csteady) / sum(csteady),
                  "maxRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "loss": float(loss)}))
