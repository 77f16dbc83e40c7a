#!/usr/bin/env python3
# PyTorch counterpart of `npx promptlab bench <case>`: the same hot paths at the same shapes, on
# random weights, in float32 on the CPU, for the side-by-side (promptlab vs PyTorch) table in
# src/bench/README.md. Written for this project from the TypeScript architectures in src/clip/ and
# src/miniclip/ (not taken from OpenAI's CLIP or any other code base).
#
# Not part of CI and not run by the tests. Needs Debian's python3-torch (1.13, `apt-get install
# python3-torch`) and nothing else; when the python3 that starts it cannot import torch, the cases
# run under /usr/bin/python3.
#
#   python3 scripts/bench-pytorch.py [case ...] [--repeats N] [--threads T]   (defaults: 3 repeats, 2 threads)
#
# No case = all of them. Each case runs in its own subprocess (so its peak RSS is its own): model
# built, one warm-up call, then N timed calls; it prints each call's seconds and ends with one JSON
# line {"case", "framework": "pytorch", "threads", "median_s", "unit_per_s", "peak_rss_mb", "gflop"}.
#
# gflop is counted analytically: 2 x the multiply-adds of every matmul and convolution (attention's
# QK^T and AV included, the causal mask not exploited, elementwise work, norms, softmax and optimiser
# updates not counted). A backward pass through a frozen tower costs its input gradients only: 1x the
# forward multiply-adds of each weight matmul (dX = dY W^T) and 2x those of attention's two
# activation-activation matmuls (both operands need a gradient). A trained layer costs 2x (input
# and weight gradients), except the first layer, whose input (pixels) needs none. Activation
# recomputation (promptlab's checkpointed backward runs the forward twice) is not counted.
#
# Cases (promptlab's of the same name in src/bench/index.ts, unless noted):
#   image-vitb32     ViT-B/32 encode_image, batch 16 at 224 px                       (unit: images)
#   image-rn50       ModifiedResNet-50 encode_image, batch 16 at 224 px              (unit: images)
#   text-k100        100 prompts of 8-20 tokens through the ViT-B/32 text tower, cut at the
#                    batch's last EOT                                                (unit: prompts)
#   text-k100-full   the same with all 77 positions computed                         (unit: prompts)
#   coop-step        CoOp step, 100 classes, 16 shared ctx, batch 32 of cached image features,
#                    prompts cut at the last EOT (L = 21, as promptlab's case)      (unit: steps)
#   coop-step-l77    the same at L = 77, as the official CoOp code runs it (PyTorch only)
#   cocoop-step      CoCoOp step, batch 4 (400 prompts), 16 ctx + meta-net, L = 21  (unit: steps)
#   cocoop-step-l77  the same at L = 77, as the official CoCoOp code (PyTorch only)
#   pretrain-step    one MiniCLIP pretraining step, batch 64 at 64 px (BatchNorm groups of 32),
#                    captions cut at L = 25, symmetric InfoNCE, AdamW               (unit: pairs)
#                    promptlab's per-step seconds also include making the batch (world pairs and
#                    preprocessing); here the batch is random tensors made once.
#
# Attention is nn.MultiheadAttention in its sequence-first layout (how CLIP's PyTorch code calls it);
# the ResNet's attention pool queries with the mean token only. A prompt-learning case that needs more
# memory than /proc/meminfo says is available is skipped (cocoop-step-l77 peaks near 12 GB).
# Measure on a quiet machine: with other work on the cores, OpenMP's threads wait for each other at
# every op (a pretrain-step took 5.4 s on 2 threads and 0.3 s on 1 thread while another process ran).
import argparse
import importlib.util
import json
import math
import os
import resource
import subprocess
import sys
import time

SOT, EOT = 49406, 49407
SKIPPED = 3  # a child's exit status when the case needs more memory than is available
DEBIAN_PYTHON = '/usr/bin/python3'  # where Debian's python3-torch is importable
CTX_LEN = 77

# --------------------------------------------------------------------------------------- FLOPs
# Multiply-adds (MACs) per part; flop = 2 x MACs. Each helper returns (weight MACs, attention MACs)
# so the backward rule (weights 1x or 2x, attention 2x) can be applied.


def blocks_macs(n, t, d, layers):
    """Pre-LN blocks on [n, t, d]: q/k/v/out (4 d^2) and the MLP (8 d^2) per token; QK^T and AV."""
    return layers * 12 * n * t * d * d, layers * 2 * n * t * t * d


def text_tower_macs(n, length, d=512, layers=12, embed=512):
    w, a = blocks_macs(n, length, d, layers)
    return w + n * d * embed, a  # + text_projection on the EOT rows


def vit_macs(n, res=224, patch=32, width=768, layers=12, embed=512):
    g = res // patch
    w, a = blocks_macs(n, g * g + 1, width, layers)
    patch_embed = n * g * g * 3 * patch * patch * width
    return patch_embed, w + n * width * embed, a  # (first layer, rest of the weights, attention)


def resnet_macs(n, width, layers, res, embed):
    """ModifiedResNet: (stem conv1 MACs, other weight MACs, attention MACs)."""
    conv = lambda hw, cin, cout, k: n * hw * hw * cin * cout * k * k  # noqa: E731
    hw = res // 2
    first = conv(hw, 3, width // 2, 3)
    rest = conv(hw, width // 2, width // 2, 3) + conv(hw, width // 2, width, 3)
    hw //= 2  # stem avgpool
    inplanes = width
    for stage, blocks in enumerate(layers):
        planes = width * 2 ** stage
        for b in range(blocks):
            stride = 2 if (b == 0 and stage > 0) else 1
            rest += conv(hw, inplanes, planes, 1) + conv(hw, planes, planes, 3)
            out = hw // stride  # avgpool before conv3 and before the downsample conv
            rest += conv(out, planes, planes * 4, 1)
            if stride > 1 or inplanes != planes * 4:
                rest += conv(out, inplanes, planes * 4, 1)
            hw, inplanes = out, planes * 4
    c, t = width * 32, (res // 32) ** 2 + 1
    rest += n * (c * c + 2 * t * c * c + c * embed)  # attention pool: q (mean token), k, v, c_proj
    return first, rest, n * 2 * t * c  # scores and weighted sum for the one query


def gflop_of(case, length):
    """(forward GFLOP, backward GFLOP) of a case; length = text positions computed."""
    fwd = bwd = 0
    if case == 'image-vitb32':
        f, w, a = vit_macs(16)
        fwd = f + w + a
    elif case == 'image-rn50':
        f, w, a = resnet_macs(16, 64, [3, 4, 6, 3], 224, 1024)
        fwd = f + w + a
    elif case.startswith('text-k100'):
        w, a = text_tower_macs(100, length)
        fwd = w + a
    elif case.startswith('coop-step'):
        w, a = text_tower_macs(100, length)
        head = 32 * 100 * 512                                  # logits img @ txt.T
        fwd = w + a + head
        bwd = w + 2 * a + head                                 # input gradients only (img is data)
    elif case.startswith('cocoop-step'):
        w, a = text_tower_macs(400, length)
        meta1, meta2 = 4 * 512 * 32, 4 * 32 * 512
        head = 4 * 100 * 512                                   # per-image cosine
        fwd = w + a + head + meta1 + meta2
        bwd = w + 2 * a + head + meta1 + 2 * meta2             # meta-net weights train
    elif case == 'pretrain-step':
        f, wi, ai = resnet_macs(64, 16, [1, 1, 1, 1], 64, 128)
        wt, at = text_tower_macs(64, length, d=128, layers=4, embed=128)
        head = 64 * 64 * 128
        fwd = f + wi + ai + wt + at + head
        bwd = f + 2 * (wi + ai + wt + at + head)               # everything trains; pixels need no gradient
    return 2 * fwd / 1e9, 2 * bwd / 1e9


# -------------------------------------------------------------------------------------- models


def build_models():
    """Defined inside a function so that the parent process never imports torch."""
    import torch
    from torch import nn
    import torch.nn.functional as F

    class QuickGELU(nn.Module):
        def forward(self, x):
            return x * torch.sigmoid(1.702 * x)

    class Block(nn.Module):
        """Pre-LN residual block on [T, N, D] (nn.MultiheadAttention's sequence-first layout)."""

        def __init__(self, d, heads):
            super().__init__()
            self.ln_1 = nn.LayerNorm(d)
            self.attn = nn.MultiheadAttention(d, heads)
            self.ln_2 = nn.LayerNorm(d)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), QuickGELU(), nn.Linear(4 * d, d))

        def forward(self, x, mask=None):
            h = self.ln_1(x)
            x = x + self.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
            return x + self.mlp(self.ln_2(x))

    class Transformer(nn.Module):
        def __init__(self, d, layers, heads):
            super().__init__()
            self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))

        def forward(self, x, mask=None):  # x [N, T, D]
            x = x.transpose(0, 1)
            for b in self.blocks:
                x = b(x, mask)
            return x.transpose(0, 1)

    class ViT(nn.Module):
        def __init__(self, res=224, patch=32, width=768, layers=12, heads=12, embed=512):
            super().__init__()
            g = res // patch
            self.conv1 = nn.Conv2d(3, width, patch, stride=patch, bias=False)
            self.class_embedding = nn.Parameter(torch.randn(width) * width ** -0.5)
            self.positional = nn.Parameter(torch.randn(g * g + 1, width) * width ** -0.5)
            self.ln_pre = nn.LayerNorm(width)
            self.transformer = Transformer(width, layers, heads)
            self.ln_post = nn.LayerNorm(width)
            self.proj = nn.Parameter(torch.randn(width, embed) * width ** -0.5)

        def forward(self, pixels):
            x = self.conv1(pixels).flatten(2).transpose(1, 2)             # [N, g*g, W]
            cls = self.class_embedding.expand(x.shape[0], 1, -1)
            x = self.ln_pre(torch.cat([cls, x], 1) + self.positional)
            x = self.transformer(x)
            return self.ln_post(x[:, 0]) @ self.proj

    def conv_bn(cin, cout, k, stride=1):
        return nn.Sequential(nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False), nn.BatchNorm2d(cout))

    class Bottleneck(nn.Module):
        """1x1, 3x3, (avgpool when strided), 1x1 x4; the shortcut avgpools before its 1x1 conv."""

        def __init__(self, inplanes, planes, stride):
            super().__init__()
            self.c1 = conv_bn(inplanes, planes, 1)
            self.c2 = conv_bn(planes, planes, 3)
            self.pool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
            self.c3 = conv_bn(planes, planes * 4, 1)
            self.down = None
            if stride > 1 or inplanes != planes * 4:
                self.down = nn.Sequential(nn.AvgPool2d(stride) if stride > 1 else nn.Identity(), conv_bn(inplanes, planes * 4, 1))

        def forward(self, x):
            out = F.relu(self.c1(x))
            out = F.relu(self.c2(out))
            out = self.c3(self.pool(out))
            return F.relu(out + (self.down(x) if self.down is not None else x))

    class AttentionPool(nn.Module):
        """Mean token + positions; only the mean token queries (multi-head); then the output projection."""

        def __init__(self, spacial, c, heads, embed):
            super().__init__()
            self.positional = nn.Parameter(torch.randn(spacial * spacial + 1, c) * c ** -0.5)
            self.q, self.k, self.v = nn.Linear(c, c), nn.Linear(c, c), nn.Linear(c, c)
            self.out = nn.Linear(c, embed)
            self.heads = heads

        def forward(self, x):  # NCHW
            n, c = x.shape[:2]
            x = x.flatten(2).transpose(1, 2)                              # [N, HW, C]
            x = torch.cat([x.mean(1, keepdim=True), x], 1) + self.positional
            h, hd = self.heads, c // self.heads
            q = self.q(x[:, :1]).view(n, 1, h, hd).transpose(1, 2)        # [N, H, 1, hd]
            k = self.k(x).view(n, -1, h, hd).transpose(1, 2)              # [N, H, T, hd]
            v = self.v(x).view(n, -1, h, hd).transpose(1, 2)
            attn = torch.softmax((q * hd ** -0.5) @ k.transpose(-1, -2), -1)
            return self.out((attn @ v).transpose(1, 2).reshape(n, c))

    class ModifiedResNet(nn.Module):
        def __init__(self, layers, width, heads, res, embed):
            super().__init__()
            self.stem = nn.Sequential(
                conv_bn(3, width // 2, 3, stride=2), nn.ReLU(),
                conv_bn(width // 2, width // 2, 3), nn.ReLU(),
                conv_bn(width // 2, width, 3), nn.ReLU(),
                nn.AvgPool2d(2))
            blocks, inplanes = [], width
            for stage, count in enumerate(layers):
                planes = width * 2 ** stage
                for b in range(count):
                    blocks.append(Bottleneck(inplanes, planes, 2 if (b == 0 and stage > 0) else 1))
                    inplanes = planes * 4
            self.blocks = nn.Sequential(*blocks)
            self.pool = AttentionPool(res // 32, width * 32, heads, embed)

        def forward(self, pixels):
            return self.pool(self.blocks(self.stem(pixels)))

    class TextTower(nn.Module):
        def __init__(self, vocab=49408, context=CTX_LEN, d=512, layers=12, heads=8, embed=512):
            super().__init__()
            self.token_embedding = nn.Embedding(vocab, d)
            self.positional = nn.Parameter(torch.randn(context, d) * 0.01)
            self.transformer = Transformer(d, layers, heads)
            self.ln_final = nn.LayerNorm(d)
            self.projection = nn.Parameter(torch.randn(d, embed) * d ** -0.5)
            mask = torch.full((context, context), float('-inf')).triu(1)
            self.register_buffer('mask', mask, persistent=False)

        def forward(self, embeds, eot):
            """embeds [K, L, D] (L <= context), eot [K] positions -> [K, E]."""
            length = embeds.shape[1]
            x = self.transformer(embeds + self.positional[:length], self.mask[:length, :length])
            return self.ln_final(x[torch.arange(x.shape[0]), eot]) @ self.projection

    return dict(ViT=ViT, ModifiedResNet=ModifiedResNet, TextTower=TextTower)


# --------------------------------------------------------------------------------------- cases


def frozen(module):
    for p in module.parameters():
        p.requires_grad_(False)
    return module.eval()


def prompt_ids(gen, n_classes, n_ctx):
    """[SOT, X x n_ctx, name (1-2 tokens), '.', EOT, 0...]: ids [K, 77] and the EOT positions."""
    import torch
    ids = torch.zeros(n_classes, CTX_LEN, dtype=torch.long)
    eot = []
    for i in range(n_classes):
        name = 1 if i % 3 == 0 else 2  # most of promptlab's bench names are 2 tokens
        row = [SOT] + [343] * n_ctx + torch.randint(1, 49000, (name,), generator=gen).tolist() + [269, EOT]
        ids[i, :len(row)] = torch.tensor(row)
        eot.append(len(row) - 1)
    return ids, torch.tensor(eot)


def setup(case):
    """Returns (run, units, unit name, text length or None, description)."""
    import torch
    import torch.nn.functional as F
    M = build_models()
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(3)

    if case in ('image-vitb32', 'image-rn50'):
        vit = case == 'image-vitb32'
        model = frozen(M['ViT']() if vit else M['ModifiedResNet']([3, 4, 6, 3], 64, 32, 224, 1024))
        pixels = torch.randn(16, 3, 224, 224, generator=gen)

        def run():
            with torch.no_grad():
                model(pixels)
        return run, 16, 'images', None, f"{'ViT-B/32' if vit else 'RN50'} encode_image, batch 16 at 224 px"

    if case in ('text-k100', 'text-k100-full'):
        tower = frozen(M['TextTower']())
        ids = torch.zeros(100, CTX_LEN, dtype=torch.long)
        eot = []
        for i in range(100):
            n = 6 + int(torch.randint(0, 13, (1,), generator=gen))  # 6..18 tokens, as src/bench
            ids[i, 0] = SOT
            ids[i, 1:n + 1] = torch.randint(1, 49000, (n,), generator=gen)
            ids[i, n + 1] = EOT
            eot.append(n + 1)
        eot = torch.tensor(eot)
        with torch.no_grad():
            embeds = tower.token_embedding(ids)
        length = CTX_LEN if case.endswith('-full') else int(eot.max()) + 1
        x = embeds[:, :length].contiguous()

        def run():
            with torch.no_grad():
                tower(x, eot)
        return run, 100, 'prompts', length, f'ViT-B/32 text tower, 100 prompts of 8-20 tokens, L = {length}'

    if case.startswith('coop-step') or case.startswith('cocoop-step'):
        cocoop = case.startswith('cocoop')
        batch, classes, n_ctx, d, e = (4 if cocoop else 32), 100, 16, 512, 512
        tower = frozen(M['TextTower']())
        ids, eot = prompt_ids(gen, classes, n_ctx)
        length = CTX_LEN if case.endswith('-l77') else int(eot.max()) + 1
        with torch.no_grad():
            embeds = tower.token_embedding(ids)[:, :length]
        prefix, suffix = embeds[:, :1].contiguous(), embeds[:, 1 + n_ctx:].contiguous()
        ctx = torch.nn.Parameter(torch.randn(n_ctx, d, generator=gen) * 0.02)
        params = [ctx]
        if cocoop:
            meta = torch.nn.Sequential(torch.nn.Linear(e, e // 16), torch.nn.ReLU(), torch.nn.Linear(e // 16, d))
            params += list(meta.parameters())
        opt = torch.optim.SGD(params, lr=0.002, momentum=0.9, weight_decay=5e-4)  # Dassl's SGD
        f = torch.randn(batch, e, generator=gen)
        f = f / f.norm(dim=-1, keepdim=True)
        labels = torch.tensor([(7 * i) % classes for i in range(batch)])
        scale = torch.tensor(math.log(1 / 0.07)).exp()
        eots = eot.repeat(batch) if cocoop else eot

        def run():
            opt.zero_grad(set_to_none=True)
            if cocoop:
                shifted = ctx + meta(f)[:, None]                                     # [B, n_ctx, D]
                prompts = torch.cat([
                    prefix.expand(batch, -1, -1, -1),
                    shifted[:, None].expand(-1, classes, -1, -1),
                    suffix.expand(batch, -1, -1, -1)], 2).reshape(batch * classes, length, d)
                t = tower(prompts, eots)
                t = (t / t.norm(dim=-1, keepdim=True)).view(batch, classes, e)
                logits = scale * (t * f[:, None]).sum(-1)
            else:
                prompts = torch.cat([prefix, ctx.expand(classes, -1, -1), suffix], 1)
                t = tower(prompts, eots)
                logits = scale * f @ (t / t.norm(dim=-1, keepdim=True)).t()
            loss = F.cross_entropy(logits, labels)
            loss.backward()
            opt.step()
            loss.item()
        what = 'CoCoOp' if cocoop else 'CoOp'
        return run, 1, 'steps', length, (f'{what} step: ViT-B/32 text tower (frozen), {classes} classes, {n_ctx} ctx, '
                                         f'batch {batch} of cached features ({batch * classes if cocoop else classes} prompts), L = {length}, '
                                         'forward + backward + SGD')

    if case == 'pretrain-step':
        vocab, length, batch, group = 835, 25, 64, 32
        image = M['ModifiedResNet']([1, 1, 1, 1], 16, 8, 64, 128).train()
        text = M['TextTower'](vocab=vocab, context=32, d=128, layers=4, heads=2, embed=128).train()
        logit_scale = torch.nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        named = [(k, p) for m, pre in ((image, 'visual.'), (text, '')) for k, p in ((pre + k, p) for k, p in m.named_parameters())]
        # CLIP's weight-decay rule (src/train/adamw.ts `decays`): matrices and filters, not embeddings,
        # positional embeddings, gains, biases or the logit scale
        decay = [p for k, p in named if p.dim() >= 2 and 'embedding' not in k and 'positional' not in k]
        decay_ids = {id(p) for p in decay}
        rest = [p for _, p in named if id(p) not in decay_ids] + [logit_scale]
        opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.1}, {'params': rest, 'weight_decay': 0.0}],
                                lr=2e-3, betas=(0.9, 0.98), eps=1e-6)
        pixels = torch.randn(batch, 3, 64, 64, generator=gen)
        eot = torch.randint(3, length - 1, (batch,), generator=gen)
        eot[0] = length - 1  # the batch's longest caption sets the cut (25: the median over world batches)
        ids = torch.randint(1, vocab - 2, (batch, length), generator=gen)
        ids[:, 0] = vocab - 2
        ids[torch.arange(batch), eot] = vocab - 1
        target = torch.arange(batch)

        def run():
            opt.zero_grad(set_to_none=True)
            img = torch.cat([image(pixels[g:g + group]) for g in range(0, batch, group)])  # ghost BatchNorm
            txt = text(text.token_embedding(ids), eot)
            img = img / img.norm(dim=-1, keepdim=True)
            txt = txt / txt.norm(dim=-1, keepdim=True)
            logits = logit_scale.clamp(max=math.log(100)).exp() * img @ txt.t()
            loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2
            loss.backward()
            opt.step()
            with torch.no_grad():
                logit_scale.clamp_(max=math.log(100))
            loss.item()
        return run, batch, 'pairs', length, (f'MiniCLIP pretraining step: ModifiedResNet width 16 [1,1,1,1] at 64 px (BatchNorm groups of {group}), '
                                             f'text width 128 x 4 layers, batch {batch}, captions cut at L = {length}, InfoNCE both ways, AdamW')
    raise ValueError(case)


CASES = ['image-vitb32', 'image-rn50', 'text-k100', 'text-k100-full', 'coop-step', 'coop-step-l77',
         'cocoop-step', 'cocoop-step-l77', 'pretrain-step']


def mem_available():
    """MemAvailable in bytes (None where /proc/meminfo is missing)."""
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def memory_needed(case):
    """Rough peak bytes of the prompt-learning steps, to skip a case that cannot fit: about 16 floats per
    position, layer and unit of width kept for backprop, plus 1.5 GB (measured with torch 1.13: peak RSS
    5.2 GB for coop-step-l77, 11.7 GB for cocoop-step-l77, 1.8 GB for coop-step)."""
    prompts = {'coop': 100, 'cocoop': 400}.get(case.split('-')[0])
    if prompts is None:
        return 0
    return prompts * (CTX_LEN if case.endswith('-l77') else 21) * 512 * 12 * 16 * 4 + 1.5e9


def child(case, repeats, threads):
    need, free = memory_needed(case), mem_available()
    if free is not None and need > free:
        print(f'{case}: skipped: needs about {need / 1e9:.0f} GB, {free / 1e9:.0f} GB available', flush=True)
        sys.exit(SKIPPED)
    import torch
    torch.set_num_threads(threads)
    # Debian's torch calls the system BLAS: with the reference libblas3 instead of OpenBLAS every
    # matMul is several times slower, and the comparison would flatter promptlab
    a = torch.randn(512, 512)
    a @ a
    t0 = time.perf_counter()
    for _ in range(5):
        a @ a
    blas = 5 * 2 * 512 ** 3 / (time.perf_counter() - t0) / 1e9
    if blas < 20:
        print(f'warning: a 512 x 512 matMul runs at {blas:.1f} GFLOP/s: the system BLAS is probably the reference '
              'one; apt-get install libopenblas0-pthread', file=sys.stderr, flush=True)
    run, units, unit, length, describe = setup(case)
    fwd, bwd = gflop_of(case, length)
    print(f'{case}: {describe}; {fwd + bwd:.1f} GFLOP ({fwd:.1f} forward + {bwd:.1f} backward); '
          f'torch {torch.__version__}, {threads} threads, load average {os.getloadavg()[0]:.2f} at the start', flush=True)
    t0 = time.perf_counter()
    run()
    print(f'  warm-up: {time.perf_counter() - t0:.3f} s', flush=True)
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
        print(f'  run {i + 1}/{repeats}: {times[-1]:.3f} s', flush=True)
    median = sorted(times)[len(times) // 2]  # as promptlab's runBench (the upper middle for even N)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f'  median {median:.3f} s, {units / median:.2f} {unit}/s, {(fwd + bwd) / median:.1f} GFLOP/s, peak RSS {peak:.0f} MB', flush=True)
    print(json.dumps({'case': case, 'framework': 'pytorch', 'threads': threads, 'median_s': round(median, 4),
                      'unit_per_s': round(units / median, 4), 'peak_rss_mb': round(peak), 'gflop': round(fwd + bwd, 2)}), flush=True)


def main():
    ap = argparse.ArgumentParser(description='PyTorch side of `promptlab bench` (random weights, float32, CPU).')
    ap.add_argument('cases', nargs='*', help=f'cases to run (default all): {", ".join(CASES)}')
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--child', help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.repeats < 1 or a.threads < 1:
        ap.error('--repeats and --threads must be at least 1')
    if a.child:
        child(a.child, a.repeats, a.threads)
        return
    unknown = [c for c in a.cases if c not in CASES]
    if unknown:
        ap.error(f'unknown case(s) {", ".join(unknown)} (valid: {", ".join(CASES)})')
    python = sys.executable
    if importlib.util.find_spec('torch') is None:
        if not os.path.exists(DEBIAN_PYTHON) or python == DEBIAN_PYTHON:
            sys.exit(f"{python} cannot import torch: install Debian's python3-torch (apt-get install python3-torch)")
        print(f'({python} has no torch: the cases run under {DEBIAN_PYTHON})', flush=True)
        python = DEBIAN_PYTHON
    failed, skipped = [], []
    for case in a.cases or CASES:
        rc = subprocess.call([python, os.path.abspath(__file__), '--child', case,
                              '--repeats', str(a.repeats), '--threads', str(a.threads)])
        if rc == SKIPPED:
            skipped.append(case)
        elif rc != 0:
            failed.append(f'{case} (exit {rc})')
    if skipped:
        print(f'skipped for lack of memory: {", ".join(skipped)}', flush=True)
    if failed:
        sys.exit(f'failed: {", ".join(failed)}')


if __name__ == '__main__':
    main()
