"""Train a small spiking neural network (SNN) on scikit-learn's digits and export
it in hdlgen's network format (snn.yaml + snn_*.npy), plus test.npz and the
fixture snn_expected.npz computed by the independent integer reference intref.py.

pip packages: numpy, scikit-learn, torch (CPU is enough), pyyaml
Run from this folder:  python train_snn.py
Optional environment overrides for experiments: SEED, EPOCHS, LR, H, T, Q, FB, LOSS_SCALE; OUT=dir writes the
outputs there instead of this folder. The defaults produce the files in this folder.

Float model (surrogate gradients, snnTorch conventions implemented by hand):
  direct encoding (pixels/16 fed as current every step, T steps) ->
  dense 64->H (+bias) -> LIF -> dense H->10 (+bias) -> LIF -> spike counts.
LIF: v[t] = beta*v[t-1] + I[t] - s[t-1]*theta, s[t] = v[t] > theta
(subtract reset, delayed, fire on '>'), beta = Q/2^F, theta = 1, fast-sigmoid
surrogate. Loss: cross-entropy on the spike counts.
Export: each layer's weights, bias and threshold are multiplied by one common
per-layer factor so the largest |weight| becomes 127 (8-bit), then rounded;
the first layer's factor also absorbs the /16 input normalisation, so the
integer network takes raw pixels 0..16. No quantisation-aware training is
needed: the rounding costs no test accuracy here.
"""
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
EPOCHS = int(os.environ.get("EPOCHS", 150))
BATCH = 64
LR = float(os.environ.get("LR", 2e-3))
H = int(os.environ.get("H", 64))
T = int(os.environ.get("T", 16))
Q, FB = int(os.environ.get("Q", 7)), int(os.environ.get("FB", 3))  # beta = Q / 2^FB
LOSS_SCALE = float(os.environ.get("LOSS_SCALE", 0.5))             # logits = counts * LOSS_SCALE
V_BITS = 24
HERE = os.environ.get("OUT") or os.path.dirname(os.path.abspath(__file__))
BETA = Q / 2 ** FB


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


class SpikeFS(torch.autograd.Function):
    """Heaviside(v - theta > 0) with fast-sigmoid surrogate gradient (slope 25)."""

    @staticmethod
    def forward(ctx, u):
        ctx.save_for_backward(u)
        return (u > 0).to(u.dtype)

    @staticmethod
    def backward(ctx, g):
        (u,) = ctx.saved_tensors
        return g / (1 + 25 * u.abs()) ** 2


spike = SpikeFS.apply


class SNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, H)
        self.fc2 = nn.Linear(H, 10)

    def params(self):
        # fc1 acts on raw pixels: fold the /16 normalisation into its weights
        w1, b1, w2, b2 = self.fc1.weight / 16, self.fc1.bias, self.fc2.weight, self.fc2.bias
        return w1, b1, 1.0, w2, b2, 1.0

    def forward(self, x):  # x: [N,64] raw pixels 0..16 (HWC flatten order)
        w1, b1, th1, w2, b2, th2 = self.params()
        n = x.shape[0]
        i1 = x @ w1.t() + b1                       # direct encoder: same current each step
        v1 = torch.zeros(n, H)
        s1 = torch.zeros(n, H)
        v2 = torch.zeros(n, 10)
        s2 = torch.zeros(n, 10)
        counts = torch.zeros(n, 10)
        for _ in range(T):
            v1 = BETA * v1 + i1 - s1.detach() * th1
            s1 = spike(v1 - th1)
            v2 = BETA * v2 + (s1 @ w2.t() + b2) - s2.detach() * th2
            s2 = spike(v2 - th2)
            counts = counts + s2
        return counts


def run_epochs(model, X, Y, epochs, lr, gen, tag):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(X), generator=gen)
        tot = 0.0
        for i in range(0, len(X), BATCH):
            idx = perm[i:i + BATCH]
            loss = F.cross_entropy(model(X[idx]) * LOSS_SCALE, Y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += loss.item() * len(idx)
        sched.step()
        if ep % 25 == 0 or ep == epochs - 1:
            print("%s epoch %3d loss %.4f" % (tag, ep, tot / len(X)))


def predict(model, x):
    with torch.no_grad():
        return model(torch.tensor(x.reshape(len(x), -1), dtype=torch.float32)).argmax(1).numpy()


def export(model):
    with torch.no_grad():
        w1 = (model.fc1.weight / 16).double().numpy()
        b1 = model.fc1.bias.double().numpy()
        w2 = model.fc2.weight.double().numpy()
        b2 = model.fc2.bias.double().numpy()
    out = {}
    for name, w, b in (("fc1", w1, b1), ("fc2", w2, b2)):
        s = 127.0 / np.abs(w).max()
        wi = np.round(w * s).astype(np.int64)
        assert wi.min() >= -128 and wi.max() <= 127
        out[name] = (wi.astype(np.int8), np.round(b * s).astype(np.int64), int(round(s)))
        print("%s: scale %.3f -> threshold %d, |bias| max %d" % (name, s, int(round(s)), np.abs(out[name][1]).max()))
    files = {}
    for name in ("fc1", "fc2"):
        files["snn_%s_w.npy" % name] = out[name][0]
        files["snn_%s_b.npy" % name] = out[name][1]
    for fn, arr in files.items():
        np.save(os.path.join(HERE, fn), arr)

    def lif(name, theta):
        return {"lif": {"name": name, "threshold": theta, "leak": {"beta": Q, "frac_bits": FB},
                        "reset": "subtract", "fire": "gt", "reset_timing": "delayed", "v_bits": V_BITS}}
    net = {
        "version": 1,
        "name": "digits-snn",
        "input": {"shape": [8, 8, 1], "bits": 5, "signed": False},
        "time_steps": T,
        "encoder": "direct",
        "decoder": "count",
        "layers": [
            {"flatten": {}},
            {"dense": {"name": "fc1", "units": H, "weight_bits": 8,
                       "weights": "snn_fc1_w.npy", "bias": "snn_fc1_b.npy"}},
            lif("lif1", out["fc1"][2]),
            {"dense": {"name": "fc2", "units": 10, "weight_bits": 8,
                       "weights": "snn_fc2_w.npy", "bias": "snn_fc2_b.npy"}},
            lif("lif2", out["fc2"][2]),
        ],
    }
    with open(os.path.join(HERE, "snn.yaml"), "w") as f:
        f.write("# generated by train_snn.py\n")
        yaml.safe_dump(net, f, sort_keys=False, default_flow_style=None)
    print("weights: %d (fc1 %d, fc2 %d)" % (w1.size + w2.size, w1.size, w2.size))


def main():
    t0 = time.time()
    set_determinism(SEED)
    xtr, xte, ytr, yte = load_data()
    np.savez_compressed(os.path.join(HERE, "test.npz"), x=xte.astype(np.int64), y=yte.astype(np.int64))
    X = torch.tensor(xtr.reshape(len(xtr), -1), dtype=torch.float32)
    Y = torch.tensor(ytr)
    gen = torch.Generator().manual_seed(SEED)
    model = SNN()
    run_epochs(model, X, Y, EPOCHS, LR, gen, "train")
    print("float train accuracy: %.4f" % np.mean(predict(model, xtr) == ytr))
    pf_te = predict(model, xte)
    print("float test accuracy:  %.4f" % np.mean(pf_te == yte))
    export(model)

    net = intref.load_net(os.path.join(HERE, "snn.yaml"))
    r_tr = intref.run_net(net, xtr)
    r = intref.run_net(net, xte)
    assert not r["saturated"] and not r_tr["saturated"]
    print("max |v| seen: %d (v_bits %d)" % (max(r["vmax"], r_tr["vmax"]), V_BITS))
    print("integer train accuracy: %.4f" % np.mean(r_tr["pred"] == ytr))
    print("integer test accuracy:  %.4f  (%d/%d)" % (np.mean(r["pred"] == yte), np.sum(r["pred"] == yte), len(yte)))
    print("integer/float test prediction agreement: %.4f" % np.mean(r["pred"] == pf_te))
    print("mean output spikes per test image: %.2f; tied argmax: %d"
          % (r["counts"].sum(1).mean(), np.sum((r["counts"] == r["counts"].max(1, keepdims=True)).sum(1) > 1)))
    np.savez_compressed(os.path.join(HERE, "snn_expected.npz"), counts=r["counts"].astype(np.int64),
             pred=r["pred"].astype(np.int64))
    print("done in %.1f s" % (time.time() - t0))


if __name__ == "__main__":
    main()
