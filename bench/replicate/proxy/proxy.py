"""PyTorch proxy of the miniature's aligned Llama (research only, never a dependency of the app).

Trains the same Llama shape as src/main/engine's Llama (RMSNorm, RoPE, SwiGLU, tied embeddings) on the
examples bench/replicate/proxy/dump.ts wrote, or loads a built model's safetensors, then greedily
generates replies to the evaluation prompts (written as {suite, id, ids} for `dump.ts judge`).

  python3 proxy.py --dump DIR --gen OUT.jsonl [--load model.safetensors] [--steps N --lr X --batch 16 ...]
  [--hidden 128 --layers 4 --heads 4 --ffn 384] [--finetune-task EPOCHS --ft-lr X] [--suites advbench,xstest]
"""
import argparse, json, math, random, struct, time
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument('--dump', required=True)
p.add_argument('--gen', required=True)
p.add_argument('--load')
p.add_argument('--save')
p.add_argument('--steps', type=int, default=0)
p.add_argument('--lr', type=float, default=2e-3)
p.add_argument('--warmup', type=int, default=15)
p.add_argument('--batch', type=int, default=16)
p.add_argument('--wd', type=float, default=0.01)
p.add_argument('--maxlen', type=int, default=128)
p.add_argument('--hidden', type=int, default=128)
p.add_argument('--layers', type=int, default=4)
p.add_argument('--heads', type=int, default=4)
p.add_argument('--ffn', type=int, default=384)
p.add_argument('--vocab', type=int, default=2048)
p.add_argument('--seed', type=int, default=1)
p.add_argument('--finetune-task', type=float, default=0, help='epochs of fine-tuning on task.jsonl after alignment')
p.add_argument('--ft-lr', type=float, default=1e-3)
p.add_argument('--ft-mix', help='jsonl of extra fine-tuning examples (safety mix)')
p.add_argument('--suites', default='advbench,xstest,sst2,prior')
p.add_argument('--new', type=int, default=24)
p.add_argument('--no-pre', action='store_true', help='with --finetune-task: evaluate only after fine-tuning')
p.add_argument('--threads', type=int, default=1)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)
random.seed(a.seed)


class RMSNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * self.weight


def rope(x, pos, theta=10000.0):
    d = x.shape[-1]
    inv = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
    f = pos[..., None].float() * inv  # B,T,d/2
    emb = torch.cat([f, f], -1)[:, None]  # B,1,T,d
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return x * emb.cos() + torch.cat([-x2, x1], -1) * emb.sin()


class Layer(nn.Module):
    def __init__(self, h, nh, ffn):
        super().__init__()
        self.nh = nh
        self.input_layernorm = RMSNorm(h)
        self.post_attention_layernorm = RMSNorm(h)
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (nn.Linear(h, h, bias=False) for _ in range(4))
        self.gate_proj = nn.Linear(h, ffn, bias=False)
        self.up_proj = nn.Linear(h, ffn, bias=False)
        self.down_proj = nn.Linear(ffn, h, bias=False)

    def forward(self, x, pos, mask):
        B, T, H = x.shape
        y = self.input_layernorm(x)
        sh = lambda t: t.view(B, T, self.nh, H // self.nh).transpose(1, 2)
        q, k, v = sh(self.q_proj(y)), sh(self.k_proj(y)), sh(self.v_proj(y))
        q, k = rope(q, pos), rope(k, pos)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(H // self.nh) + mask
        o = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, H)
        x = x + self.o_proj(o)
        y = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(y)) * self.up_proj(y))


class Llama(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = nn.Embedding(a.vocab, a.hidden)
        self.layers = nn.ModuleList(Layer(a.hidden, a.heads, a.ffn) for _ in range(a.layers))
        self.norm = RMSNorm(a.hidden)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0, 0.02)

    def forward(self, ids, keep):
        """ids B,T; keep B,T (1 = real token)."""
        B, T = ids.shape
        pos = (keep.cumsum(-1) - 1).clamp(min=0)
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        allowed = causal[None] & keep.bool()[:, None, :]
        mask = torch.zeros(B, 1, T, T).masked_fill(~allowed[:, None], -1e9)
        x = self.embed_tokens(ids)
        for l in self.layers:
            x = l(x, pos, mask)
        return self.norm(x) @ self.embed_tokens.weight.T


def load_safetensors(model, path):
    raw = open(path, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    head = json.loads(raw[8:8 + n])
    sd = {}
    for k, v in head.items():
        if k == '__metadata__':
            continue
        s, e = v['data_offsets']
        t = torch.frombuffer(bytearray(raw[8 + n + s: 8 + n + e]), dtype=torch.float32).view(v['shape'])
        k2 = k.replace('model.', '', 1).replace('self_attn.', '').replace('mlp.', '')
        sd[k2] = t
    missing, unexpected = model.load_state_dict({k: v for k, v in sd.items() if k != 'lm_head.weight'}, strict=False)
    assert not missing and not unexpected, (missing, unexpected)


def read(path):
    return [json.loads(l) for l in open(path)]


def batches(exs, steps, bs, seed):
    rng = random.Random(seed)
    order = []
    while len(order) < steps * bs:
        o = list(range(len(exs)))
        rng.shuffle(o)
        order += o
    for s in range(steps):
        yield [exs[i] for i in order[s * bs:(s + 1) * bs]]


def collate(b):
    T = max(len(e['ids']) for e in b)
    ids = torch.zeros(len(b), T, dtype=torch.long)
    keep = torch.zeros(len(b), T, dtype=torch.long)
    lab = torch.full((len(b), T), -100, dtype=torch.long)
    for i, e in enumerate(b):
        n = len(e['ids'])
        ids[i, :n] = torch.tensor(e['ids'])
        keep[i, :n] = 1
        m = e['mask']
        for j in range(1, n):
            if m[j]:
                lab[i, j - 1] = e['ids'][j]
    return ids, keep, lab


def train(model, exs, steps, lr, warmup, bs, seed, tag):
    exs = [{'ids': e['ids'][: a.maxlen], 'mask': e['mask'][: a.maxlen]} for e in exs]
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    nodecay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': a.wd}, {'params': nodecay, 'weight_decay': 0}], lr=lr)
    t0 = time.time()
    run = 0
    for s, b in enumerate(batches(exs, steps, bs, seed)):
        f = (s + 1) / warmup if s < warmup else 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (s - warmup) / max(1, steps - warmup)))
        for g in opt.param_groups:
            g['lr'] = lr * min(1.0, f)
        ids, keep, lab = collate(b)
        loss = F.cross_entropy(model(ids, keep).view(-1, a.vocab), lab.view(-1), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        run = 0.98 * run + 0.02 * loss.item() if s else loss.item()
        if (s + 1) % 250 == 0 or s + 1 == steps:
            print(f'{tag} step {s + 1}/{steps} loss {run:.3f} ({time.time() - t0:.0f} s)', flush=True)


@torch.no_grad()
def generate(model, prompts, new, eos=2, bs=64):
    model.eval()
    out = []
    prompts = sorted(prompts, key=lambda r: len(r['ids']))
    for i in range(0, len(prompts), bs):
        chunk = prompts[i:i + bs]
        T = max(len(r['ids']) for r in chunk)
        ids = torch.zeros(len(chunk), T, dtype=torch.long)
        keep = torch.zeros(len(chunk), T, dtype=torch.long)
        for j, r in enumerate(chunk):  # left padding
            ids[j, T - len(r['ids']):] = torch.tensor(r['ids'])
            keep[j, T - len(r['ids']):] = 1
        gen = [[] for _ in chunk]
        done = [False] * len(chunk)
        for _ in range(new):
            nxt = model(ids, keep)[:, -1].argmax(-1)
            for j, t in enumerate(nxt.tolist()):
                if not done[j]:
                    if t == eos:
                        done[j] = True
                    else:
                        gen[j].append(t)
            if all(done):
                break
            ids = torch.cat([ids, nxt[:, None]], 1)
            keep = torch.cat([keep, torch.ones(len(chunk), 1, dtype=torch.long)], 1)
        out += [{'suite': r['suite'], 'id': r['id'], 'ids': g} for r, g in zip(chunk, gen)]
    model.train()
    return out


model = Llama()
if a.load and a.load.endswith('.pt'):
    model.load_state_dict(torch.load(a.load))
elif a.load:
    load_safetensors(model, a.load)
t0 = time.process_time()
if a.steps:
    train(model, read(f'{a.dump}/align.jsonl'), a.steps, a.lr, a.warmup, a.batch, a.seed, 'align')
if a.save:
    torch.save(model.state_dict(), a.save)
suites = set(a.suites.split(','))
ev = [r for r in read(f'{a.dump}/eval.jsonl') if r['suite'] in suites]
res = [] if a.no_pre and a.finetune_task else generate(model, ev, a.new)
if a.finetune_task:
    task = read(f'{a.dump}/task.jsonl') + (read(a.ft_mix) if a.ft_mix else [])
    steps = math.ceil(len(task) * a.finetune_task / a.batch)
    train(model, task, steps, a.ft_lr, 5, a.batch, a.seed, 'task')
    res += [dict(r, suite='ft-' + r['suite']) for r in generate(model, ev, a.new)]
with open(a.gen, 'w') as f:
    for r in res:
        f.write(json.dumps(r) + '\n')
print(f'cpu {time.process_time() - t0:.0f} s; {len(res)} generations → {a.gen}', flush=True)
