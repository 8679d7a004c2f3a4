"""CD-1 epochs on CUDA in Triton kernels: the GPU's counterpart of ``cd_epoch.c``.

The compiled PyTorch step is twenty kernels a minibatch (five matrix products, two
split-K reductions, element-wise passes), each a few microseconds on a 100 x 784 x 100
problem: their count, not arithmetic, bounds the reference run. Here a minibatch is
four kernels, and the random numbers of many minibatches one more:

* ``_draws``: for a block of minibatches, every uniform draw of the counter stream
  (:class:`genlab.accel.threefry.CounterStream`, the same bits as the compiled step and the C
  kernel): v0 ~ Bernoulli(x) as bytes, and the uniforms that will pick h0 and v1.
  They depend on the key, the minibatch and the unit only, so they are drawn in bulk
  across the whole GPU.
* ``_hidden``: p(h | v0) = sigma(v0 W + b) and h0, for a tile of images x hidden units;
  later p(h | v1) likewise, without sampling.
* ``_visible``: p(v | h0) = sigma(h0 W^T + a), its squared error against the images, and
  v1, for a tile of images x visible units.
* ``_update``: W += lr (v0^T p(h | v0) - v1^T p(h | v1)) / n for a tile of W, and the
  biases a += lr mean(v0 - v1), b += lr mean(p(h | v0) - p(h | v1)).

Small tiles spread each phase over 50-200 blocks of the GPU; products are float32
multiply-adds (``tl.dot``'s ``ieee``: no TF32 rounding, as PyTorch's default). The
error is summed per tile and added up at the end, in a fixed order: an epoch gives the
same bits every time. An epoch launches about 2,400 kernels from Python:
:class:`genlab.accel.graphs.GraphReplay` replays them as one CUDA graph. With
``TRITON_INTERPRET=1`` set before Triton is imported, the same kernels run in Triton's
interpreter on CPU tensors (the tests do that on machines without a GPU).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from genlab.accel.native import check_arguments

try:
    import triton
    import triton.language as tl
except ImportError:  # Triton comes with PyTorch's CUDA builds; without it CUDA runs the compiled steps
    triton = tl = None

MAX_HIDDEN = 256  # a tile of _visible holds all hidden units of its images
ROWS = 16  # images per tile of _hidden and _visible (the smallest tile of tl.dot)
HIDDEN_TILE = (16, 128)  # _hidden: hidden units per tile, visible units per step of its sum
VISIBLE_TILE = 64  # _visible: visible units per tile
UPDATE_TILE = (16, 32, 32)  # _update: visible x hidden units per tile of W, images per step of its sums
CHUNK_BYTES = 64 << 20  # the draws of a block of minibatches take at most this much memory


def available() -> bool:
    return triton is not None


def supports(x: torch.Tensor, W: torch.Tensor) -> bool:
    """Whether :func:`cd1_epoch` can train ``W`` on ``x`` (CUDA float32, at most MAX_HIDDEN hidden units)."""
    return (available() and x.is_cuda and W.is_cuda and x.dtype == W.dtype == torch.float32
            and W.shape[1] <= MAX_HIDDEN)


# -- kernels ----------------------------------------------------------------------


def jit(**options: object) -> Callable:
    """``triton.jit`` where Triton is installed (without it the kernels are never called)."""
    return triton.jit(**options) if triton is not None else lambda fn: fn


@jit(do_not_specialize=["step0"])  # the minibatch numbers change every launch: one compiled kernel for all
def _draws(key_ptr, x_ptr, order_ptr, v0_ptr, uh_ptr, uv_ptr, step0, batch_size,
           n: tl.constexpr, V: tl.constexpr, H: tl.constexpr, BLOCK: tl.constexpr):
    """Draws 0 (v0 ~ Bernoulli(x)), 1 (uniforms for h0) and 2 (for v1) of minibatches step0, step0 + 1, ...
    (program axis 0: which one; axis 2: which draw), as CounterStream.uniform makes them."""
    slot, block, draw = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    step = step0 + slot
    m = tl.where(draw == 1, n * H, n * V)  # this draw's values
    half = (m + 1) // 2
    idx = block * BLOCK + tl.arange(0, BLOCK)
    if block * BLOCK < half:
        # Threefry-2x32-20 of counter (idx, step * 256 + draw) under the key (genlab.accel.threefry.threefry2x32)
        k0 = tl.load(key_ptr).to(tl.uint32)
        k1 = tl.load(key_ptr + 1).to(tl.uint32)
        ks2 = k0 ^ k1 ^ 0x1BD11BDA
        x0 = idx.to(tl.uint32) + k0
        x1 = (step * 256 + draw).to(tl.uint32) + k1 + tl.zeros([BLOCK], tl.uint32)
        for g in tl.static_range(5):  # 5 groups of 4 rounds, a key injection after each
            if g % 2 == 0:
                x0 += x1
                x1 = ((x1 << 13) | (x1 >> 19)) ^ x0
                x0 += x1
                x1 = ((x1 << 15) | (x1 >> 17)) ^ x0
                x0 += x1
                x1 = ((x1 << 26) | (x1 >> 6)) ^ x0
                x0 += x1
                x1 = ((x1 << 6) | (x1 >> 26)) ^ x0
            else:
                x0 += x1
                x1 = ((x1 << 17) | (x1 >> 15)) ^ x0
                x0 += x1
                x1 = ((x1 << 29) | (x1 >> 3)) ^ x0
                x0 += x1
                x1 = ((x1 << 16) | (x1 >> 16)) ^ x0
                x0 += x1
                x1 = ((x1 << 24) | (x1 >> 8)) ^ x0
            if g % 3 == 0:  # injection j = g + 1 adds ks[j % 3] and ks[(j + 1) % 3] + j
                x0 += k1
                x1 += ks2 + (g + 1)
            elif g % 3 == 1:
                x0 += ks2
                x1 += k0 + (g + 1)
            else:
                x0 += k0
                x1 += k1 + (g + 1)
        # element idx takes the first word, element idx + half the second (CounterStream.bits)
        for word in tl.static_range(2):
            if word == 0:
                e, bits = idx, x0
            else:
                e, bits = idx + half, x1
            mask = (idx < half) & (e < m)
            u = ((bits >> 8) & 0xFFFFFF).to(tl.float32) * (1.0 / 16777216.0)
            at = slot * m + e
            if draw == 0:
                row = tl.load(order_ptr + step * batch_size + e // V, mask=mask, other=0)
                p = tl.load(x_ptr + row * V + e % V, mask=mask, other=0.0)
                tl.store(v0_ptr + at, (u < p).to(tl.uint8), mask=mask)
            elif draw == 1:
                tl.store(uh_ptr + at, u, mask=mask)
            else:
                tl.store(uv_ptr + at, u, mask=mask)


@jit(do_not_specialize=["slot"])
def _hidden(v_ptr, u_ptr, W_ptr, b_ptr, ph_ptr, h_ptr, slot, n: tl.constexpr, V: tl.constexpr, H: tl.constexpr,
            SAMPLE: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr, PRECISION: tl.constexpr):
    """p(h | v) = sigma(v W + b) for a tile of images x hidden units, from 0/1 states v (bytes, at ``slot``
    of their buffer); with SAMPLE also h = [u < p(h | v)] (bytes) from the uniforms u at ``slot``."""
    rows = tl.program_id(0) * BM + tl.arange(0, BM)
    hid = tl.program_id(1) * BN + tl.arange(0, BN)
    row_ok, hid_ok = rows < n, hid < H
    acc = tl.zeros([BM, BN], tl.float32)
    for k0 in tl.range(0, V, BK):
        vis = k0 + tl.arange(0, BK)
        vis_ok = vis < V
        v = tl.load(v_ptr + (slot * n + rows[:, None]) * V + vis[None, :],
                    mask=row_ok[:, None] & vis_ok[None, :], other=0).to(tl.float32)
        w = tl.load(W_ptr + vis[:, None] * H + hid[None, :], mask=vis_ok[:, None] & hid_ok[None, :], other=0.0)
        acc = tl.dot(v, w, acc, input_precision=PRECISION)
    tile = row_ok[:, None] & hid_ok[None, :]
    ph = tl.sigmoid(acc + tl.load(b_ptr + hid, mask=hid_ok, other=0.0)[None, :])
    tl.store(ph_ptr + rows[:, None] * H + hid[None, :], ph, mask=tile)
    if SAMPLE:
        u = tl.load(u_ptr + (slot * n + rows[:, None]) * H + hid[None, :], mask=tile, other=1.0)
        tl.store(h_ptr + rows[:, None] * H + hid[None, :], (u < ph).to(tl.uint8), mask=tile)


@jit(do_not_specialize=["step", "slot"])
def _visible(x_ptr, order_ptr, h_ptr, u_ptr, W_ptr, a_ptr, v_ptr, err_ptr, step, slot, batch_size, err_tiles,
             n: tl.constexpr, V: tl.constexpr, H: tl.constexpr,
             BM: tl.constexpr, BN: tl.constexpr, BH: tl.constexpr, PRECISION: tl.constexpr):
    """p(v | h) = sigma(h W^T + a) for a tile of images x visible units, its squared error against the images'
    pixels (to err[step * err_tiles + tile]) and v = [u < p(v | h)] (bytes)."""
    pr, pc = tl.program_id(0), tl.program_id(1)
    rows = pr * BM + tl.arange(0, BM)
    vis = pc * BN + tl.arange(0, BN)
    hid = tl.arange(0, BH)
    row_ok, vis_ok, hid_ok = rows < n, vis < V, hid < H
    tile = row_ok[:, None] & vis_ok[None, :]
    h = tl.load(h_ptr + rows[:, None] * H + hid[None, :], mask=row_ok[:, None] & hid_ok[None, :], other=0)
    w_t = tl.load(W_ptr + vis[None, :] * H + hid[:, None], mask=hid_ok[:, None] & vis_ok[None, :], other=0.0)
    pv = tl.sigmoid(tl.dot(h.to(tl.float32), w_t, input_precision=PRECISION)
                    + tl.load(a_ptr + vis, mask=vis_ok, other=0.0)[None, :])
    image = tl.load(order_ptr + step * batch_size + rows, mask=row_ok, other=0)
    x = tl.load(x_ptr + image[:, None] * V + vis[None, :], mask=tile, other=0.0)
    err = tl.where(tile, (x - pv) * (x - pv), 0.0)
    tl.store(err_ptr + step * err_tiles + pr * tl.num_programs(1) + pc, tl.sum(tl.sum(err, axis=1), axis=0))
    u = tl.load(u_ptr + (slot * n + rows[:, None]) * V + vis[None, :], mask=tile, other=1.0)
    tl.store(v_ptr + rows[:, None] * V + vis[None, :], (u < pv).to(tl.uint8), mask=tile)


@jit(do_not_specialize=["slot"])
def _update(v0_ptr, v1_ptr, ph0_ptr, ph1_ptr, W_ptr, a_ptr, b_ptr, slot, lr,
            n: tl.constexpr, V: tl.constexpr, H: tl.constexpr,
            BV: tl.constexpr, BH: tl.constexpr, BN: tl.constexpr, PRECISION: tl.constexpr):
    """The CD-1 update of a tile of W (visible x hidden units) from one minibatch's states, and of the
    tile's visible biases (tiles in the first column) and hidden biases (tiles in the first row)."""
    pv, ph = tl.program_id(0), tl.program_id(1)
    vis = pv * BV + tl.arange(0, BV)
    hid = ph * BH + tl.arange(0, BH)
    vis_ok, hid_ok = vis < V, hid < H
    acc = tl.zeros([BV, BH], tl.float32)
    da = tl.zeros([BV], tl.float32)
    db = tl.zeros([BH], tl.float32)
    for r0 in tl.range(0, n, BN):
        rows = r0 + tl.arange(0, BN)
        row_ok = rows < n
        tile = vis_ok[:, None] & row_ok[None, :]  # v^T: visible units x images
        v0t = tl.load(v0_ptr + (slot * n + rows[None, :]) * V + vis[:, None], mask=tile, other=0).to(tl.float32)
        v1t = tl.load(v1_ptr + rows[None, :] * V + vis[:, None], mask=tile, other=0).to(tl.float32)
        both = row_ok[:, None] & hid_ok[None, :]
        ph0 = tl.load(ph0_ptr + rows[:, None] * H + hid[None, :], mask=both, other=0.0)
        ph1 = tl.load(ph1_ptr + rows[:, None] * H + hid[None, :], mask=both, other=0.0)
        acc = tl.dot(v0t, ph0, acc, input_precision=PRECISION)
        acc = tl.dot(-v1t, ph1, acc, input_precision=PRECISION)
        da += tl.sum(v0t - v1t, axis=1)
        db += tl.sum(ph0 - ph1, axis=0)
    at = vis[:, None] * H + hid[None, :]
    ok = vis_ok[:, None] & hid_ok[None, :]
    tl.store(W_ptr + at, tl.load(W_ptr + at, mask=ok, other=0.0) + lr * (acc / n), mask=ok)
    if ph == 0:
        tl.store(a_ptr + vis, tl.load(a_ptr + vis, mask=vis_ok, other=0.0) + lr * (da / n), mask=vis_ok)
    if pv == 0:
        tl.store(b_ptr + hid, tl.load(b_ptr + hid, mask=hid_ok, other=0.0) + lr * (db / n), mask=hid_ok)


def cd1_epoch(W: torch.Tensor, v_bias: torch.Tensor, h_bias: torch.Tensor, x: torch.Tensor, order: torch.Tensor,
              key: torch.Tensor, lr: float, batch_size: int, precision: str = "ieee") -> torch.Tensor:
    """One CD-1 epoch over the rows ``x[order]`` in minibatches of ``batch_size``, updating W and the biases in place.

    The same contract as :func:`genlab.accel.native.cd1_epoch` (minibatch i draws from the counter
    stream (``key``, i) as the compiled step does), but ``key`` stays on the device and the
    summed squared error comes back as a 0-d tensor there: nothing waits for the GPU, so a
    CUDA graph can capture the whole epoch. For the same reason the row numbers in ``order``
    are not checked: they must lie in [0, len(x)). ``precision`` is ``tl.dot``'s input
    precision (``"tf32x3"`` was 11 % slower on an H100, ``"tf32"`` rounds W to 10 bits).
    """
    if triton is None:
        raise RuntimeError("genlab's CUDA CD-1 kernels need Triton (it comes with PyTorch's CUDA builds)")
    check_arguments(W, v_bias, h_bias, x, order, key, batch_size, order_values=False)
    x = x.contiguous()
    n_total, (V, H) = order.numel(), W.shape
    BH = max(16, triton.next_power_of_2(H))
    per_step = batch_size * (V * 5 + H * 4)  # bytes of one minibatch's draws
    chunk = max(1, min(n_total // batch_size, CHUNK_BYTES // per_step))
    dev = x.device
    v0 = torch.empty(chunk * batch_size * V, dtype=torch.uint8, device=dev)
    uv = torch.empty(chunk * batch_size * V, dtype=torch.float32, device=dev)
    uh = torch.empty(chunk * batch_size * H, dtype=torch.float32, device=dev)
    ph0, ph1 = (torch.empty(batch_size * H, dtype=torch.float32, device=dev) for _ in range(2))
    h0 = torch.empty(batch_size * H, dtype=torch.uint8, device=dev)
    v1 = torch.empty(batch_size * V, dtype=torch.uint8, device=dev)
    steps = -(-n_total // batch_size)
    err_tiles = triton.cdiv(batch_size, ROWS) * triton.cdiv(V, VISIBLE_TILE)  # _visible's tiles of a minibatch
    err = torch.zeros(steps * err_tiles, dtype=torch.float32, device=dev)
    order = order.to(torch.int64)
    step = 0
    while step < steps:
        n = min(batch_size, n_total - step * batch_size)
        # a block of full minibatches, or the last, short one alone (n is a compile-time constant of the kernels)
        count = 1 if n < batch_size else min(chunk, n_total // batch_size - step)
        _draws[(count, triton.cdiv((n * max(V, H) + 1) // 2, 1024), 3)](
            key, x, order, v0, uh, uv, step, batch_size, n, V, H, BLOCK=1024)
        rows = triton.cdiv(n, ROWS)
        for slot in range(count):
            _hidden[(rows, triton.cdiv(H, HIDDEN_TILE[0]))](
                v0, uh, W, h_bias, ph0, h0, slot, n, V, H, SAMPLE=True, BM=ROWS, BN=HIDDEN_TILE[0], BK=HIDDEN_TILE[1],
                PRECISION=precision)
            _visible[(rows, triton.cdiv(V, VISIBLE_TILE))](
                x, order, h0, uv, W, v_bias, v1, err, step + slot, slot, batch_size, err_tiles, n, V, H,
                BM=ROWS, BN=VISIBLE_TILE, BH=BH, PRECISION=precision)
            _hidden[(rows, triton.cdiv(H, HIDDEN_TILE[0]))](
                v1, uh, W, h_bias, ph1, h0, 0, n, V, H, SAMPLE=False, BM=ROWS, BN=HIDDEN_TILE[0], BK=HIDDEN_TILE[1],
                PRECISION=precision)
            _update[(triton.cdiv(V, UPDATE_TILE[0]), triton.cdiv(H, UPDATE_TILE[1]))](
                v0, v1, ph0, ph1, W, v_bias, h_bias, slot, lr, n, V, H,
                BV=UPDATE_TILE[0], BH=UPDATE_TILE[1], BN=UPDATE_TILE[2], PRECISION=precision)
        step += count
    return err.sum()
