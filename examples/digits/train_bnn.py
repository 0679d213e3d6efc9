"""Train a small binary neural network (BNN) on scikit-learn's digits and export
it in hdlgen's network format (bnn.yaml + bnn_*.npy), plus test.npz and the
fixture bnn_expected.npz computed by the independent integer reference intref.py.

pip packages: numpy, scikit-learn, torch (CPU is enough), pyyaml
Run from this folder:  python train_bnn.py
Optional environment overrides for experiments: SEED, EPOCHS, LR, C1, C2, POOL2 (0 drops the second maxpool); OUT=dir writes the
outputs there instead of this folder. The defaults produce the files in this folder.

Training is Larq-style: latent float weights, binary weights sign(w) (sign(0)=+1),
binary activations sign(BN(acc)) with a straight-through estimator, latent
weights clipped to [-1, 1]. The first layer sees raw integer pixels 0..16
(zero padding, pad value 0) so its accumulator is exactly the integer one.
Network order (matching the exported YAML):
  conv1 3x3x16 (zero pad) -> BN -> sign -> maxpool2 ->
  conv2 3x3x32 (pad with +1) -> BN -> sign -> maxpool2 ->
  flatten (HWC) -> dense 10 -> BN (folded into integer scale/bias)
"""
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import intref

SEED = int(os.environ.get("SEED", 0))
EPOCHS = int(os.environ.get("EPOCHS", 300))
BATCH = 64
LR = float(os.environ.get("LR", 1e-2))
C1, C2 = int(os.environ.get("C1", 16)), int(os.environ.get("C2", 32))
POOL2 = int(os.environ.get("POOL2", 1))
FS = 2 if POOL2 else 4  # spatial size before flatten
HERE = os.environ.get("OUT") or os.path.dirname(os.path.abspath(__file__))


def set_determinism(seed):
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def load_data():
    d = load_digits()
    x = d.images.astype(np.int64)[..., None]  # [N,8,8,1] HWC, 0..16
    y = d.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    return xtr, xte, ytr, yte


class SignSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x.abs() <= 1).to(g.dtype)


sign = SignSTE.apply


class BNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.w1 = nn.Parameter(torch.empty(C1, 1, 3, 3).uniform_(-1, 1))
        self.w2 = nn.Parameter(torch.empty(C2, C1, 3, 3).uniform_(-1, 1))
        self.wf = nn.Parameter(torch.empty(10, FS * FS * C2).uniform_(-1, 1))
        self.bn1 = nn.BatchNorm2d(C1, momentum=0.1)
        self.bn2 = nn.BatchNorm2d(C2, momentum=0.1)
        self.bnf = nn.BatchNorm1d(10, momentum=0.1)

    def forward(self, x):  # x: [N,1,8,8] raw pixel values 0..16
        a = F.conv2d(x, sign(self.w1), padding=1)          # zero padding, pad value 0
        a = F.max_pool2d(sign(self.bn1(a)), 2)             # threshold then OR-pool
        a = F.conv2d(F.pad(a, (1, 1, 1, 1), value=1.0), sign(self.w2))  # 'one' padding
        a = sign(self.bn2(a))
        if POOL2:
            a = F.max_pool2d(a, 2)
        a = a.permute(0, 2, 3, 1).reshape(a.shape[0], -1)  # HWC flatten
        acc = a @ sign(self.wf).t()
        return self.bnf(acc)

    def clip(self):
        with torch.no_grad():
            for w in (self.w1, self.w2, self.wf):
                w.clamp_(-1, 1)


def train(xtr, ytr):
    model = BNN()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, EPOCHS)
    gen = torch.Generator().manual_seed(SEED)
    X = torch.tensor(xtr, dtype=torch.float32).permute(0, 3, 1, 2)
    Y = torch.tensor(ytr)
    for ep in range(EPOCHS):
        model.train()
        perm = torch.randperm(len(X), generator=gen)
        tot = 0.0
        for i in range(0, len(X), BATCH):
            idx = perm[i:i + BATCH]
            loss = F.cross_entropy(model(X[idx]), Y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            model.clip()
            tot += loss.item() * len(idx)
        sched.step()
        if ep % 25 == 0 or ep == EPOCHS - 1:
            print("epoch %3d loss %.4f" % (ep, tot / len(X)))
    model.eval()
    return model


def float_predict(model, x):
    with torch.no_grad():
        return model(torch.tensor(x, dtype=torch.float32).permute(0, 3, 1, 2)).argmax(1).numpy()


def bin_w(w):
    """latent -> +1/-1 with sign(0) = +1."""
    return np.where(w.detach().numpy() >= 0, 1, -1).astype(np.int8)


def fold_threshold(name, bn, taps, maxabs):
    """Exact fold of BN + sign(y>=0) into integer thresholds / directions."""
    g = bn.weight.detach().double().numpy()
    b = bn.bias.detach().double().numpy()
    mu = bn.running_mean.double().numpy()
    sd = np.sqrt(bn.running_var.double().numpy() + bn.eps)
    lo, hi = -taps * maxabs, taps * maxabs
    T = np.zeros(len(g), np.int64)
    D = np.ones(len(g), np.int64)
    for c in range(len(g)):
        if g[c] > 0:
            T[c] = math.ceil(mu[c] - b[c] * sd[c] / g[c])
            T[c] = min(max(T[c], lo), hi + 1)
        elif g[c] < 0:
            D[c] = -1
            T[c] = math.floor(mu[c] - b[c] * sd[c] / g[c])
            T[c] = min(max(T[c], lo - 1), hi)
        else:  # constant output sign(beta)
            T[c] = lo if b[c] >= 0 else hi + 1
    print("%s: thresholds in [%d, %d], acc range [%d, %d], %d channels with direction -1"
          % (name, T.min(), T.max(), lo, hi, np.sum(D == -1)))
    return T, D


def export(model, xtr, ytr):
    w1 = bin_w(model.w1).transpose(0, 2, 3, 1)  # (Cout,kh,kw,Cin)
    w2 = bin_w(model.w2).transpose(0, 2, 3, 1)
    wf = bin_w(model.wf)                        # (out, in) in HWC order already
    in_bits = 5
    maxabs_in = 2 ** in_bits - 1                # declared input range 0..31
    t1, d1 = fold_threshold("bn1", model.bn1, 9 * 1, maxabs_in)
    t2, d2 = fold_threshold("bn2", model.bn2, 9 * C1, 1)
    # final BN: y = a*acc + c  ->  integer m = round(a*2^k), b = round(c*2^k)
    bn = model.bnf
    a = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach().double().numpy()
    c = (bn.bias.detach().double() - bn.running_mean.double() * torch.tensor(a)).numpy()
    k = int(math.floor(math.log2(127 / np.abs(a).max())))
    m = np.round(a * 2 ** k).astype(np.int64)
    bo = np.round(c * 2 ** k).astype(np.int64)
    print("output fold: shift k=%d, m=%s, b=%s" % (k, m.tolist(), bo.tolist()))

    files = {
        "bnn_conv1_w.npy": w1, "bnn_conv2_w.npy": w2, "bnn_fc_w.npy": wf,
        "bnn_bn1_t.npy": t1.astype(np.int64), "bnn_bn1_d.npy": d1.astype(np.int8),
        "bnn_bn2_t.npy": t2.astype(np.int64), "bnn_bn2_d.npy": d2.astype(np.int8),
        "bnn_out_m.npy": m.astype(np.int64), "bnn_out_b.npy": bo.astype(np.int64),
    }
    for fn, arr in files.items():
        np.save(os.path.join(HERE, fn), arr)
    net = {
        "version": 1,
        "name": "digits-bnn",
        "input": {"shape": [8, 8, 1], "bits": in_bits, "signed": False},
        "layers": [
            {"binary_conv2d": {"name": "conv1", "filters": C1, "kernel": 3, "stride": 1,
                               "padding": "zero", "pad_value": 0, "weights": "bnn_conv1_w.npy"}},
            {"threshold": {"name": "bn1", "thresholds": "bnn_bn1_t.npy", "direction": "bnn_bn1_d.npy"}},
            {"maxpool": {"size": 2}},
            {"binary_conv2d": {"name": "conv2", "filters": C2, "kernel": 3, "stride": 1,
                               "padding": "one", "weights": "bnn_conv2_w.npy"}},
            {"threshold": {"name": "bn2", "thresholds": "bnn_bn2_t.npy", "direction": "bnn_bn2_d.npy"}},
        ] + ([{"maxpool": {"size": 2}}] if POOL2 else []) + [
            {"flatten": {}},
            {"binary_dense": {"name": "fc", "units": 10, "weights": "bnn_fc_w.npy"}},
            {"output": {"scale": "bnn_out_m.npy", "bias": "bnn_out_b.npy"}},
        ],
    }
    with open(os.path.join(HERE, "bnn.yaml"), "w") as f:
        f.write("# generated by train_bnn.py\n")
        yaml.safe_dump(net, f, sort_keys=False, default_flow_style=None)
    nbits = w1.size + w2.size + wf.size
    print("binary weights: %d bits (conv1 %d, conv2 %d, fc %d)" % (nbits, w1.size, w2.size, wf.size))


def main():
    t0 = time.time()
    set_determinism(SEED)
    xtr, xte, ytr, yte = load_data()
    np.savez_compressed(os.path.join(HERE, "test.npz"), x=xte.astype(np.int64), y=yte.astype(np.int64))
    model = train(xtr, ytr)
    pf_tr, pf_te = float_predict(model, xtr), float_predict(model, xte)
    print("float train accuracy: %.4f" % np.mean(pf_tr == ytr))
    print("float test accuracy:  %.4f" % np.mean(pf_te == yte))
    export(model, xtr, ytr)

    net = intref.load_net(os.path.join(HERE, "bnn.yaml"))
    r_tr = intref.run_net(net, xtr)
    r = intref.run_net(net, xte)
    print("integer train accuracy: %.4f" % np.mean(r_tr["pred"] == ytr))
    print("integer test accuracy:  %.4f  (%d/%d)" % (np.mean(r["pred"] == yte), np.sum(r["pred"] == yte), len(yte)))
    print("integer/float test prediction agreement: %.4f" % np.mean(r["pred"] == pf_te))
    np.savez_compressed(os.path.join(HERE, "bnn_expected.npz"), scores=r["scores"].astype(np.int64),
             pred=r["pred"].astype(np.int64))
    print("done in %.1f s" % (time.time() - t0))


if __name__ == "__main__":
    main()
