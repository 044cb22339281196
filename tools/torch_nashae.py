#!/usr/bin/env python3
"""The NashAE step of `disentangle train` written in PyTorch, for timing the two on one machine.

    python3 tools/torch_nashae.py -data build/data/beam-sweep.h5 [-batch 100] [-latents 4]
        [-steps 1000] [-warmup 20] [-threads 1] [-ensemble loop|batched]

The same network and step as inputs/beam-nashae.opts: encoder 1000-200-80-40-m (SELU, sigmoid
latents), decoder m-40-80-200-1000 (SELU, linear output), m regressors m-40-40-1 (SELU), regressor
i fed z with element i zeroed. A step encodes the batch once, makes K = 5 Adam updates of the
regressors (lr 1e-2) on the detached latents, then one Adam update of the autoencoder (lr 1e-3) on
(1 - lambda) MSE/2 + lambda sum_i cov(z_i, zhat_i), z_i held constant inside the covariance.

-ensemble loop: one nn.Sequential per regressor in an nn.ModuleList, as NashAE's published code
writes them; -ensemble batched: the m regressors as stacked weights, each layer one torch.bmm.

Prints one line "torch: variant=... batch=... latents=... step_ms=... cpu_ms=... rec=... adv=..."
(median of five equal parts of the timed steps, this process's CPU time per step, and the last
step's MSE/2 and sum of covariances, to set beside train's history.csv). Needs python3-torch and
python3-h5py (Debian 12: apt-get install python3-torch python3-h5py). Not a test: a benchmark
partner for tools/peer_bench.sh.
"""
import argparse
import statistics
import time

import h5py
import numpy as np
import torch
from torch import nn


def mlp(widths, last=None):
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            layers.append(nn.SELU())
    if last is not None:
        layers.append(last)
    return nn.Sequential(*layers)


class LoopEnsemble(nn.Module):
    """m regressors, each its own nn.Sequential; regressor i sees z with column i zeroed."""

    def __init__(self, m, hidden):
        super().__init__()
        self.regs = nn.ModuleList(mlp([m] + hidden + [1]) for _ in range(m))
        self.register_buffer("masks", 1.0 - torch.eye(m))

    def forward(self, z):
        return torch.cat([reg(z * self.masks[i]) for i, reg in enumerate(self.regs)], dim=1)


class BatchedEnsemble(nn.Module):
    """The same m regressors as stacked weights [m, in, out]: one bmm per layer for all of them."""

    def __init__(self, m, hidden):
        super().__init__()
        widths = [m] + hidden + [1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for i in range(len(widths) - 1):
            bound = 1.0 / widths[i] ** 0.5  # nn.Linear's default initialisation range
            self.weights.append(nn.Parameter(torch.empty(m, widths[i], widths[i + 1]).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(m, 1, widths[i + 1]).uniform_(-bound, bound)))
        self.register_buffer("masks", (1.0 - torch.eye(m)).unsqueeze(1))  # [m, 1, m]

    def forward(self, z):
        h = z.unsqueeze(0) * self.masks  # [m, B, m]
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = torch.selu(h)
        return h.squeeze(2).t()  # [B, m]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-data", required=True, help="archive with /data [N, features] (beamgen's)")
    ap.add_argument("-batch", type=int, default=100)
    ap.add_argument("-latents", type=int, default=4)
    ap.add_argument("-steps", type=int, default=1000)
    ap.add_argument("-warmup", type=int, default=20)
    ap.add_argument("-threads", type=int, default=1)
    ap.add_argument("-ensemble", choices=["loop", "batched"], default="loop")
    ap.add_argument("-lambda_", "-nashae_lambda", dest="lam", type=float, default=0.2)
    ap.add_argument("-reg_iters", type=int, default=5)
    ap.add_argument("-seed", type=int, default=1)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    with h5py.File(a.data, "r") as f:
        data = np.asarray(f["data"], dtype=np.float32)
    data = data.reshape(data.shape[0], -1)
    data = torch.from_numpy((data - data.mean()) / data.std())
    n, features = data.shape
    m, B = a.latents, a.batch
    if B > n:
        raise SystemExit(f"torch_nashae: -batch {B} is larger than the archive's {n} samples")

    hidden = [200, 80, 40]
    enc = mlp([features] + hidden + [m], nn.Sigmoid())
    dec = mlp([m] + hidden[::-1] + [features])
    regs = (LoopEnsemble if a.ensemble == "loop" else BatchedEnsemble)(m, [40, 40])
    ae_opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-3)
    reg_params = list(regs.parameters())
    reg_opt = torch.optim.Adam(reg_params, lr=1e-2)
    gen = torch.Generator().manual_seed(a.seed)

    def step():
        x = data[torch.randint(n, (B,), generator=gen)]
        z = enc(x)
        zc = z.detach()
        for _ in range(a.reg_iters):
            reg_opt.zero_grad(set_to_none=True)
            (0.5 * ((regs(zc) - zc) ** 2).mean()).backward()
            reg_opt.step()
        for p in reg_params:  # the gradient reaches the encoder through the regressors' inputs
            p.requires_grad_(False)  # only: no weight gradients for them in this pass
        zhat = regs(z)
        adv = ((zc * zhat).mean(0) - zc.mean(0) * zhat.mean(0)).sum()
        rec = 0.5 * ((dec(z) - x) ** 2).mean()
        ae_opt.zero_grad(set_to_none=True)
        ((1 - a.lam) * rec + a.lam * adv).backward()
        ae_opt.step()
        for p in reg_params:
            p.requires_grad_(True)
        return rec, adv

    for _ in range(a.warmup):
        rec, adv = step()
    parts, per = [], max(1, a.steps // 5)
    cpu0 = time.process_time()
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(per):
            rec, adv = step()
        parts.append((time.perf_counter() - t0) / per * 1e3)
    cpu_ms = (time.process_time() - cpu0) / (5 * per) * 1e3
    print(f"torch: variant={a.ensemble} batch={B} latents={m} steps={5 * per} threads={a.threads} "
          f"step_ms={statistics.median(parts):.4f} cpu_ms={cpu_ms:.4f} torch={torch.__version__} "
          f"rec={rec.item():.5f} adv={adv.item():.5f}")


if __name__ == "__main__":
    main()
