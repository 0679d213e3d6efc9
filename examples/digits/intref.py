"""Independent numpy integer reference for hdlgen network YAML (version 1).

Written directly from the prose semantics of the format (not derived from any
hdlgen code). Used by train_bnn.py / train_snn.py to evaluate the *exported*
integer network and to produce the fixture files.

Needs: numpy, pyyaml.

    python intref.py bnn.yaml test.npz      # prints integer accuracy
"""
import os
import sys

import numpy as np
import yaml


# ----------------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------------

def _param(v, base):
    """Scalar, (nested) list, or path to a .npy file relative to the YAML."""
    if isinstance(v, str):
        return np.load(os.path.join(base, v)).astype(np.int64)
    return np.asarray(v, dtype=np.int64)


def load_net(path):
    with open(path) as f:
        net = yaml.safe_load(f)
    assert net["version"] == 1
    net["_base"] = os.path.dirname(os.path.abspath(path))
    return net


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------

def _same_pads(size, k, stride):
    out = -(-size // stride)  # ceil
    total = max((out - 1) * stride + k - size, 0)
    return out, total // 2, total - total // 2


def _conv_binary_weights(x, w, stride, padding, pad_fill):
    """x: [N,H,W,Cin] int64 values; w: [Cout,kh,kw,Cin] (+1/-1).
    Padded taps take value pad_fill (0 means: contributes nothing).
    Returns acc [N,Ho,Wo,Cout] int64 = sum over taps of x*w."""
    n, h, wd, cin = x.shape
    cout, kh, kw, cin2 = w.shape
    assert cin == cin2, (cin, cin2)
    if padding == "none":
        ho, wo = (h - kh) // stride + 1, (wd - kw) // stride + 1
        pt = pb = pl = pr = 0
    else:
        ho, pt, pb = _same_pads(h, kh, stride)
        wo, pl, pr = _same_pads(wd, kw, stride)
    xp = np.full((n, h + pt + pb, wd + pl + pr, cin), pad_fill, dtype=np.int64)
    xp[:, pt:pt + h, pl:pl + wd, :] = x
    acc = np.zeros((n, ho, wo, cout), dtype=np.int64)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, i:i + (ho - 1) * stride + 1:stride,
                       j:j + (wo - 1) * stride + 1:stride, :]  # [N,Ho,Wo,Cin]
            acc += np.einsum("nhwc,oc->nhwo", patch, w[:, i, j, :])
    return acc


def _check_pm1(w):
    assert np.all((w == 1) | (w == -1)), "binary weights must be +1/-1"


# ----------------------------------------------------------------------------
# BNN-style layers
# ----------------------------------------------------------------------------

def run_net(net, x):
    """x: int64 [N,H,W,C]. Returns dict with 'scores' (or 'counts') and 'pred'."""
    base = net["_base"]
    x = np.asarray(x, dtype=np.int64)
    inp = net["input"]
    assert list(x.shape[1:]) == list(inp["shape"]), (x.shape, inp["shape"])
    bits = int(inp["bits"])
    if inp.get("signed", False):
        xmax_abs = 2 ** (bits - 1)
        assert x.min() >= -xmax_abs and x.max() <= xmax_abs - 1
    else:
        xmax_abs = 2 ** bits - 1
        assert x.min() >= 0 and x.max() <= xmax_abs
    if "time_steps" in net:
        return _run_snn(net, x, base)

    kind = "int"        # 'int' (integer values) or 'bin' (bits 0/1 meaning -1/+1)
    maxabs = xmax_abs   # max |x| of the current integer map (declared range)
    cur = x
    last_taps = None
    for entry in net["layers"]:
        (ltype, p), = entry.items()
        p = p or {}
        if ltype == "binary_conv2d":
            w = _param(p["weights"], base)
            _check_pm1(w)
            assert w.shape[0] == int(p["filters"]) and w.shape[1] == w.shape[2] == int(p["kernel"])
            stride = int(p.get("stride", 1))
            padding = p.get("padding", "none")
            if kind == "int":
                fill = int(p.get("pad_value", 0))
                vals = cur
            else:
                # bit 1 -> +1, bit 0 -> -1; padding 'one' -> +1 taps counted,
                # padding 'zero' -> taps left out of P (contribute 0)
                vals = 2 * cur - 1
                fill = 1 if padding == "one" else 0
            cur = _conv_binary_weights(vals, w, stride, padding, fill)
            last_taps = w.shape[1] * w.shape[2] * w.shape[3]
            last_maxabs = maxabs if kind == "int" else 1
            kind = "acc"
        elif ltype == "binary_dense":
            w = _param(p["weights"], base)
            _check_pm1(w)
            assert cur.ndim == 2 and w.shape == (int(p["units"]), cur.shape[1]), (w.shape, cur.shape)
            vals = cur if kind == "int" else 2 * cur - 1
            last_maxabs = maxabs if kind == "int" else 1
            cur = vals @ w.T
            last_taps = w.shape[1]
            kind = "acc"
        elif ltype == "threshold":
            assert kind == "acc"
            t = _param(p["thresholds"], base)
            d = _param(p["direction"], base)
            c = cur.shape[-1]
            t = np.broadcast_to(t, (c,))
            d = np.broadcast_to(d, (c,))
            assert np.all((d == 1) | (d == -1))
            lo, hi = -last_taps * last_maxabs, last_taps * last_maxabs
            assert np.all(np.where(d == 1, (t >= lo) & (t <= hi + 1), (t >= lo - 1) & (t <= hi))), \
                "threshold out of range"
            cur = np.where(d == 1, cur >= t, cur <= t).astype(np.int64)
            kind = "bin"
        elif ltype == "maxpool":
            size = int(p.get("size", 2))
            stride = int(p.get("stride", size))
            n, h, wd, c = cur.shape
            ho, wo = (h - size) // stride + 1, (wd - size) // stride + 1
            out = None
            for i in range(size):
                for j in range(size):
                    v = cur[:, i:i + (ho - 1) * stride + 1:stride, j:j + (wo - 1) * stride + 1:stride, :]
                    out = v if out is None else np.maximum(out, v)  # OR on bits
            cur = out
        elif ltype == "flatten":
            cur = cur.reshape(cur.shape[0], -1)  # HWC row-major: (h*W + w)*C + c
        elif ltype == "output":
            assert kind == "acc"
            c = cur.shape[-1]
            m = np.broadcast_to(_param(p.get("scale", 1), base), (c,))
            b = np.broadcast_to(_param(p.get("bias", 0), base), (c,))
            scores = cur * m + b
            return {"scores": scores, "pred": np.argmax(scores, axis=1).astype(np.int64)}
        else:
            raise ValueError("unknown layer " + ltype)
    raise ValueError("network has no output layer")


# ----------------------------------------------------------------------------
# SNN
# ----------------------------------------------------------------------------

def _sat(v, vb):
    lo, hi = -(1 << (vb - 1)), (1 << (vb - 1)) - 1
    return np.clip(v, lo, hi), bool(np.any((v < lo) | (v > hi)))


def _run_snn(net, x, base):
    T = int(net["time_steps"])
    assert net.get("encoder", "direct") == "direct"
    assert net.get("decoder", "count") == "count"
    layers = []
    for entry in net["layers"]:
        (ltype, p), = entry.items()
        p = p or {}
        if ltype == "flatten":
            layers.append(("flatten", None))
        elif ltype == "dense":
            w = _param(p["weights"], base)
            wb = int(p.get("weight_bits", 8))
            assert w.min() >= -(1 << (wb - 1)) and w.max() <= (1 << (wb - 1)) - 1
            assert w.shape[0] == int(p["units"])
            b = _param(p["bias"], base) if "bias" in p else np.zeros(w.shape[0], np.int64)
            b = np.broadcast_to(b, (w.shape[0],))
            assert np.all(np.abs(b) < 2 ** 31)
            layers.append(("dense", (w, b)))
        elif ltype == "lif":
            assert p.get("reset", "subtract") == "subtract"
            assert p.get("fire", "gt") == "gt"
            assert p.get("reset_timing", "delayed") == "delayed"
            theta = _param(p["threshold"], base)
            assert np.all(theta > 0)
            q, f = int(p["leak"]["beta"]), int(p["leak"]["frac_bits"])
            layers.append(("lif", (theta, q, f, int(p.get("v_bits", 32)))))
        else:
            raise ValueError("unknown SNN layer " + ltype)

    n = x.shape[0]
    state = {}
    counts = None
    saturated = False
    vmax = 0
    for t in range(T):
        cur = x  # direct encoder: same integer input each step
        for li, (ltype, prm) in enumerate(layers):
            if ltype == "flatten":
                cur = cur.reshape(n, -1)
            elif ltype == "dense":
                w, b = prm
                cur = cur @ w.T + b
            else:
                theta, q, f, vb = prm
                theta = np.broadcast_to(theta, (cur.shape[1],))
                v_prev, s_prev = state.get(li, (np.zeros_like(cur), np.zeros_like(cur)))
                v = ((v_prev * q) >> f) + cur - s_prev * theta
                vmax = max(vmax, int(np.abs(v).max()))
                v, sat = _sat(v, vb)
                saturated |= sat
                s = (v > theta).astype(np.int64)
                state[li] = (v, s)
                cur = s
        counts = cur if counts is None else counts + cur
    return {"counts": counts, "pred": np.argmax(counts, axis=1).astype(np.int64),
            "saturated": saturated, "vmax": vmax}


if __name__ == "__main__":
    net = load_net(sys.argv[1])
    d = np.load(sys.argv[2])
    r = run_net(net, d["x"])
    print("integer accuracy: %.4f" % np.mean(r["pred"] == d["y"]))
