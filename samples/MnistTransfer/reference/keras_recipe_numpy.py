#!/usr/bin/env python3
"""Independent NumPy reference of Keras 2's mnist_transfer_cnn on NetDsl's 10k MNIST digits.

Written by the NetDsl team (no code shared with NetDsl) to check what accuracy the recipe itself gives: same data and
split as MnistDigits.Load, Glorot init, Adadelta(1.0, 0.95, 1e-6), batch 128 keeping the last partial batch, 5 epochs
per phase, inverted dropout. Needs only NumPy (Debian: python3-numpy). Run from the repository root:
  python3 samples/MnistTransfer/reference/keras_recipe_numpy.py [--gradcheck] [--seeds 0 1 2 ...] [--eps 1e-6] [--epochs 5]
Layout is NHWC internally (Keras channels_last); conv weights are (Cin, kh, kw, Cout).
"""
import argparse, gzip, os, struct, time, sys
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "data", "mnist") + "/"


# ---------------------------------------------------------------- data
def load_all():
    with gzip.open(DATA + "mnist-10k-images-idx3-ubyte.gz") as f:
        magic, n, r, c = struct.unpack(">IIII", f.read(16))
        assert magic == 0x803
        img = np.frombuffer(f.read(), np.uint8).reshape(n, r, c)
    with gzip.open(DATA + "mnist-10k-labels-idx1-ubyte.gz") as f:
        magic, n2 = struct.unpack(">II", f.read(8))
        assert magic == 0x801 and n2 == n
        lab = np.frombuffer(f.read(), np.uint8).astype(np.int64)
    assert int(img.astype(np.int64).sum()) == 262146600
    return img, lab


def split(img, lab):
    """MnistDigits.Load: per digit, first n*4//5 (file order) -> train, rest -> test; digits ascending."""
    tr, te = [], []
    for d in range(10):
        idx = np.nonzero(lab == d)[0]
        cut = len(idx) * 4 // 5
        tr.append(idx[:cut]); te.append(idx[cut:])
    tr, te = np.concatenate(tr), np.concatenate(te)
    x = (img.astype(np.float32) / np.float32(255.0))[..., None]  # byte / 255f, NHWC
    return (x[tr], lab[tr]), (x[te], lab[te])


# ---------------------------------------------------------------- layers
def im2col(x, k=3):
    # x (N,H,W,C) -> (N*OH*OW, C*k*k) in (C,kh,kw) order
    v = sliding_window_view(x, (k, k), axis=(1, 2))  # (N,OH,OW,C,k,k)
    N, OH, OW = v.shape[:3]
    return v.reshape(N * OH * OW, -1), (N, OH, OW)


def conv_fwd(x, W, b):
    cols, (N, OH, OW) = im2col(x, W.shape[1])
    y = cols @ W.reshape(-1, W.shape[-1]) + b
    return y.reshape(N, OH, OW, -1), cols


def conv_bwd(dy, cols, W, xshape, need_dx=True):
    Cin, k, _, Cout = W.shape
    dy2 = dy.reshape(-1, Cout)
    dW = (cols.T @ dy2).reshape(W.shape)
    db = dy2.sum(0)
    if not need_dx:
        return None, dW, db
    N, H, Wd, _ = xshape
    OH, OW = H - k + 1, Wd - k + 1
    dcols = (dy2 @ W.reshape(-1, Cout).T).reshape(N, OH, OW, Cin, k, k)
    dx = np.zeros(xshape, dy.dtype)
    for i in range(k):
        for j in range(k):
            dx[:, i:i + OH, j:j + OW, :] += dcols[..., i, j]
    return dx, dW, db


def pool_fwd(y):
    N, H, W, C = y.shape
    r = y.reshape(N, H // 2, 2, W // 2, 2, C).transpose(0, 1, 3, 5, 2, 4).reshape(N, H // 2, W // 2, C, 4)
    arg = r.argmax(-1)  # first max wins on ties
    return np.take_along_axis(r, arg[..., None], -1)[..., 0], arg


def pool_bwd(dp, arg, yshape):
    N, H, W, C = yshape
    d = np.zeros(dp.shape + (4,), dp.dtype)
    np.put_along_axis(d, arg[..., None], dp[..., None], -1)
    return d.reshape(N, H // 2, W // 2, C, 2, 2).transpose(0, 1, 4, 2, 5, 3).reshape(yshape)


def dropmask(rng, shape, rate, dtype):
    return (rng.random(shape) >= rate).astype(dtype) / dtype(1.0 - rate)


# ---------------------------------------------------------------- model
def glorot(rng, shape, fan_in, fan_out, dtype):
    lim = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-lim, lim, shape).astype(dtype)


def init(rng, dtype=np.float32, ncls=5):
    return {
        "W1": glorot(rng, (1, 3, 3, 32), 9 * 1, 9 * 32, dtype), "b1": np.zeros(32, dtype),
        "W2": glorot(rng, (32, 3, 3, 32), 9 * 32, 9 * 32, dtype), "b2": np.zeros(32, dtype),
        "W3": glorot(rng, (4608, 128), 4608, 128, dtype), "b3": np.zeros(128, dtype),
        "W4": glorot(rng, (128, ncls), 128, ncls, dtype), "b4": np.zeros(ncls, dtype),
    }


def features(p, x):
    z1, c1 = conv_fwd(x, p["W1"], p["b1"]); a1 = np.maximum(z1, 0)
    z2, c2 = conv_fwd(a1, p["W2"], p["b2"]); a2 = np.maximum(z2, 0)
    pooled, arg = pool_fwd(a2)
    return pooled, (c1, z1, a1, c2, z2, a2, arg)


def head_fwd(p, f, m2):
    h = f.reshape(len(f), -1) @ p["W3"] + p["b3"]
    ha = np.maximum(h, 0)
    hd = ha * m2 if m2 is not None else ha
    logits = hd @ p["W4"] + p["b4"]
    return logits, (h, ha, hd)


def softmax_ce(logits, y):
    z = logits - logits.max(1, keepdims=True)
    e = np.exp(z); pr = e / e.sum(1, keepdims=True)
    n = len(y)
    loss = -np.log(pr[np.arange(n), y]).mean()
    d = pr.copy(); d[np.arange(n), y] -= 1; d /= n
    return loss, d


def loss_grad(p, x, y, m1, m2, train_conv=True, pooled=None):
    """Forward+backward. m1: dropout mask on pooled features, m2: on dense-128 output (None = no dropout)."""
    if pooled is None:
        pooled, cache = features(p, x)
    f = pooled * m1 if m1 is not None else pooled
    logits, (h, ha, hd) = head_fwd(p, f, m2)
    loss, dl = softmax_ce(logits, y)
    g = {"W4": hd.T @ dl, "b4": dl.sum(0)}
    dhd = dl @ p["W4"].T
    dha = dhd * m2 if m2 is not None else dhd
    dh = dha * (h > 0)
    F = f.reshape(len(f), -1)
    g["W3"] = F.T @ dh; g["b3"] = dh.sum(0)
    if not train_conv:
        return loss, g
    c1, z1, a1, c2, z2, a2, arg = cache
    df = (dh @ p["W3"].T).reshape(pooled.shape)
    dpool = df * m1 if m1 is not None else df
    da2 = pool_bwd(dpool, arg, a2.shape)
    dz2 = da2 * (z2 > 0)
    da1, g["W2"], g["b2"] = conv_bwd(dz2, c2, p["W2"], a1.shape)
    dz1 = da1 * (z1 > 0)
    _, g["W1"], g["b1"] = conv_bwd(dz1, c1, p["W1"], x.shape, need_dx=False)
    return loss, g


class Adadelta:  # Keras 2 rule
    def __init__(self, params, names, lr=1.0, rho=0.95, eps=1e-6):
        self.names, self.lr, self.rho, self.eps = names, lr, rho, eps
        self.a = {k: np.zeros_like(params[k]) for k in names}
        self.d = {k: np.zeros_like(params[k]) for k in names}

    def step(self, p, g):
        rho, eps = np.float32(self.rho), np.float32(self.eps)
        for k in self.names:
            a = self.a[k] = rho * self.a[k] + (1 - rho) * g[k] * g[k]
            u = g[k] * np.sqrt(self.d[k] + eps) / np.sqrt(a + eps)
            p[k] -= np.float32(self.lr) * u
            self.d[k] = rho * self.d[k] + (1 - rho) * u * u


def predict(p, x, bs=512):
    out = []
    for i in range(0, len(x), bs):
        f, _ = features(p, x[i:i + bs])
        out.append(head_fwd(p, f, None)[0].argmax(1))
    return np.concatenate(out)


def train_phase(p, x, y, rng, train_conv, eps, epochs=5, bs=128, before_last=None):
    """before_last: optional callback run just before the very last optimizer step of the phase."""
    names = ["W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4"] if train_conv else ["W3", "b3", "W4", "b4"]
    opt = Adadelta(p, names, eps=eps)
    pre = None
    if not train_conv:  # conv frozen: pooled features are constant, compute once (dropout still applied per batch)
        pre = np.concatenate([features(p, x[i:i + 512])[0] for i in range(0, len(x), 512)])
    n = len(x)
    for ep in range(epochs):
        perm = rng.permutation(n)
        tot = 0.0
        for i in range(0, n, bs):  # last partial batch kept
            idx = perm[i:i + bs]
            m1 = dropmask(rng, (len(idx), 12, 12, 32), 0.25, np.float32)
            m2 = dropmask(rng, (len(idx), 128), 0.5, np.float32)
            loss, g = loss_grad(p, x[idx], y[idx], m1, m2, train_conv,
                                pooled=None if train_conv else pre[idx])
            if before_last is not None and ep == epochs - 1 and i + bs >= n:
                before_last()
            opt.step(p, g)
            tot += loss * len(idx)
        print(f"    epoch {ep + 1} loss {tot / n:.4f}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- gradient check
def gradcheck():
    rng = np.random.default_rng(123)
    p = init(rng, np.float64)
    for k in p:
        if k.startswith("b"):
            p[k] = rng.normal(0, 0.05, p[k].shape)  # non-zero biases so every path is exercised
    x = rng.random((3, 28, 28, 1))
    y = np.array([0, 3, 4])
    m1 = dropmask(rng, (3, 12, 12, 32), 0.25, np.float64)
    m2 = dropmask(rng, (3, 128), 0.5, np.float64)
    _, g = loss_grad(p, x, y, m1, m2)
    worst = 0.0
    h = 1e-6
    for k in p:
        flat = p[k].reshape(-1)
        idxs = rng.choice(flat.size, min(40, flat.size), replace=False)
        # bias on highest-|grad| coordinates too
        idxs = np.unique(np.concatenate([idxs, np.argsort(-np.abs(g[k].reshape(-1)))[:10]]))
        errs = []
        for i in idxs:
            old = flat[i]
            flat[i] = old + h; lp, _ = loss_grad(p, x, y, m1, m2)
            flat[i] = old - h; lm, _ = loss_grad(p, x, y, m1, m2)
            flat[i] = old
            num = (lp - lm) / (2 * h); ana = g[k].reshape(-1)[i]
            errs.append(abs(num - ana) / max(abs(num) + abs(ana), 1e-10))
        e = max(errs); worst = max(worst, e)
        print(f"  gradcheck {k:3s}: {len(idxs)} coords, max rel err {e:.2e}")
    print(f"gradcheck max relative error: {worst:.2e}")
    return worst


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="*", default=list(range(6)))
    ap.add_argument("--gradcheck", action="store_true")
    ap.add_argument("--eps", type=float, default=1e-6)
    ap.add_argument("--epochs", type=int, default=5, help="epochs per phase (the sample's --epochs)")
    args = ap.parse_args()
    if args.gradcheck:
        gradcheck()
    img, lab = load_all()
    (xtr, ytr), (xte, yte) = split(img, lab)
    assert len(xtr) == 7996 and len(xte) == 2004
    lo_tr, lo_te = ytr < 5, yte < 5
    x1, y1, x1t, y1t = xtr[lo_tr], ytr[lo_tr], xte[lo_te], yte[lo_te]
    x2, y2, x2t, y2t = xtr[~lo_tr], ytr[~lo_tr] - 5, xte[~lo_te], yte[~lo_te] - 5
    assert (len(x1), len(x1t), len(x2), len(x2t)) == (4102, 1029, 3894, 975)
    print(f"data ok: {len(x1)}/{len(x1t)} (0-4), {len(x2)}/{len(x2t)} (5-9); eps={args.eps}", flush=True)
    r1, r2, q1, q2 = [], [], [], []
    for s in args.seeds:
        t = time.time()
        rng = np.random.default_rng(s)
        p = init(rng)
        pre = []
        train_phase(p, x1, y1, rng, True, args.eps, epochs=args.epochs,
                    before_last=lambda: pre.append((predict(p, x1t) == y1t).mean() * 100))
        a1 = (predict(p, x1t) == y1t).mean() * 100
        t1 = time.time() - t
        train_phase(p, x2, y2, rng, False, args.eps, epochs=args.epochs,
                    before_last=lambda: pre.append((predict(p, x2t) == y2t).mean() * 100))
        a2 = (predict(p, x2t) == y2t).mean() * 100
        r1.append(a1); r2.append(a2); q1.append(pre[0]); q2.append(pre[1])
        print(f"seed {s:2d}: phase1 {a1:.2f}%  phase2 {a2:.2f}%  "
              f"[before final partial-batch step: {pre[0]:.2f}% / {pre[1]:.2f}%]  ({t1:.0f}s + {time.time() - t - t1:.0f}s)", flush=True)
    for name, r in [("before-last-step phase1", q1), ("before-last-step phase2", q2)]:
        r = np.array(r)
        print(f"{name} mean {r.mean():.2f} sd {r.std(ddof=1) if len(r) > 1 else 0:.2f} min {r.min():.2f} max {r.max():.2f}")
    r1, r2 = np.array(r1), np.array(r2)
    print(f"phase1 mean {r1.mean():.2f} sd {r1.std(ddof=1) if len(r1) > 1 else 0:.2f} "
          f"min {r1.min():.2f} max {r1.max():.2f}")
    print(f"phase2 mean {r2.mean():.2f} sd {r2.std(ddof=1) if len(r2) > 1 else 0:.2f} "
          f"min {r2.min():.2f} max {r2.max():.2f}")


if __name__ == "__main__":
    main()
