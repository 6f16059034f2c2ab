"""Convolutions as matrix products: the layers of ``flax.linen.Conv`` / ``ConvTranspose``, fast on CPU.

XLA's CPU backend runs a convolution whose kernel is batched — what ``jax.vmap`` over players
makes of every convolution (a grouped convolution) — and the kernel gradient of a transposed
convolution on a generic, slow path (measured on the 2-core VM: the authors' IV-A decoder took
minutes per step at batch 1000). Written as data movement plus one matrix product per layer,
the same layers become batched dot products under ``vmap``, and so do their gradients:

- a convolution is *im2col*: the k² shifted (strided) windows of the padded input, side by side,
  times the kernel reshaped to ``[k·k·in, out]``;
- a transposed convolution is *col2im*: one product ``x @ kernel`` gives every input pixel's
  k² output taps, and each tap is placed on the output grid (stride-dilated, shifted, cropped:
  one ``lax.pad``) and summed. No multiply meets a zero of the dilated input. At stride 1, on
  inputs at least as large as the kernel, there is no dilation and it is the convolution of the
  padded input (im2col), which moved less data on the 2-core CPU (the 64-channel 9→11 and 11→13
  layers of IV-A: 3–4× faster fwd + gradients) wherever its patches are no larger than col2im's
  taps and placements; a 1×1 code and a thin output (IV-A's 32 → 1 channel last layer: 40×
  faster forward, 4× faster gradients than its im2col) stay col2im.

Both compute exactly flax's function (VALID or SAME padding, NHWC, the same ``kernel
[k, k, in, out]`` and ``bias``), and therefore the same gradients, up to float rounding (tested
against flax for outputs and for the gradients of parameters and inputs).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax


def _transpose_pads(kernel: int, stride: int, padding: str) -> tuple[int, int]:
    """Before/after padding of the stride-dilated input that flax's ``ConvTranspose`` uses
    (``lax.conv_transpose``'s rule, ``transpose_kernel=False``)."""
    if padding == "SAME":
        total = kernel + stride - 2
        before = kernel - 1 if stride > kernel - 1 else -(-total // 2)
    else:
        total = kernel + stride - 2 + max(kernel - stride, 0)
        before = kernel - 1
    return before, total - before


def conv(x: jax.Array, kernel: jax.Array, stride: int, padding: str) -> jax.Array:
    """``lax.conv_general_dilated(x, kernel, (s, s), padding)`` (NHWC, HWIO) as im2col + matmul."""
    k, cin, cout = kernel.shape[0], kernel.shape[2], kernel.shape[3]
    pads = lax.padtype_to_pads(x.shape[1:3], (k, k), (stride, stride), padding)
    x = jnp.pad(x, ((0, 0), *pads, (0, 0)))
    rows = (x.shape[1] - k) // stride + 1
    cols = (x.shape[2] - k) // stride + 1
    windows = [
        x[:, a : a + stride * (rows - 1) + 1 : stride, b : b + stride * (cols - 1) + 1 : stride]
        for a in range(k)
        for b in range(k)
    ]
    patches = jnp.concatenate(windows, axis=-1)  # features ordered (row, column, input channel)
    return patches @ kernel.reshape(k * k * cin, cout)


def _im2col_moves_less(shape: tuple[int, ...], k: int, cin: int, cout: int) -> bool:
    """At stride 1: whether the im2col patches of the padded input (``out pixels · k² · in``)
    are no larger than col2im's taps and their k² placements (``k² · out · (in pixels + out
    pixels)``). A thin output (IV-A's last layer, 32 → 1 channel) is col2im's case: there the
    patches were 40× slower on the 2-core CPU."""
    pixels_in = shape[1] * shape[2]
    pixels_out = (shape[1] + k - 1) * (shape[2] + k - 1)
    return pixels_out * cin <= cout * (pixels_in + pixels_out)


def conv_transpose(x: jax.Array, kernel: jax.Array, stride: int, padding: str) -> jax.Array:
    """``lax.conv_transpose(x, kernel, (s, s), padding)`` (flax's ``ConvTranspose``) as col2im.

    That function correlates the stride-dilated, padded input with the kernel, so input pixel i
    meets tap t at output position s·i + before − t: every tap of ``x @ kernel`` is placed there.
    """
    k, cin, cout = kernel.shape[0], kernel.shape[2], kernel.shape[3]
    before, after = _transpose_pads(k, stride, padding)
    n, height, width = x.shape[:3]
    if stride == 1 and min(height, width) >= k and _im2col_moves_less(x.shape, k, cin, cout):
        edges = [(0, 0, 0), (before, after, 0), (before, after, 0), (0, 0, 0)]
        return conv(lax.pad(x, jnp.zeros((), x.dtype), edges), kernel, 1, "VALID")
    taps = x @ jnp.transpose(kernel, (2, 0, 1, 3)).reshape(cin, k * k * cout)
    taps = taps.reshape(n, height, width, k, k, cout)
    size = [(m - 1) * stride + 1 + before + after - k + 1 for m in (height, width)]
    dilated = [(m - 1) * stride + 1 for m in (height, width)]
    out = None
    for a in range(k):
        for b in range(k):
            config = [(0, 0, 0)]
            for t, m, d in ((a, size[0], dilated[0]), (b, size[1], dilated[1])):
                low = before - t
                config.append((low, m - d - low, stride - 1))
            config.append((0, 0, 0))
            placed = lax.pad(taps[:, :, :, a, b], jnp.zeros((), taps.dtype), config)
            out = placed if out is None else out + placed
    return out


class MatmulConv(nn.Module):
    """``nn.Conv`` / ``nn.ConvTranspose`` (``padding`` "VALID" or "SAME", NHWC) computed by
    :func:`conv` / :func:`conv_transpose`: the same parameters (``kernel [k, k, in, out]``,
    ``bias``), outputs and gradients."""

    features: int
    kernel: int
    stride: int
    transpose: bool = False
    padding: str = "VALID"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.padding not in ("VALID", "SAME"):
            raise ValueError(f"MatmulConv.padding must be 'VALID' or 'SAME', got {self.padding!r}")
        k, cin = self.kernel, x.shape[-1]
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (k, k, cin, self.features))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        layer = conv_transpose if self.transpose else conv
        return layer(x, kernel, self.stride, self.padding) + bias
