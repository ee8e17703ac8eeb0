"""NumPy references of the layers, written from the equations one sentence at a time."""

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_lstm(x, kernel, recurrent_kernel, bias):
    """Keras' LSTM cell (gates i, f, c, o) over `x` [n, d] from zero state."""
    units = recurrent_kernel.shape[0]
    h, c, outputs = np.zeros(units), np.zeros(units), []
    for x_t in x:
        i, f, g, o = np.split(x_t @ kernel + h @ recurrent_kernel + bias, 4)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        outputs.append(h)
    return np.array(outputs).reshape(len(x), units)


def numpy_bilstm(encoder, x, lengths):
    """A `BiLSTMEncoder`'s (h, z) with its weights: h_j = [fwd_j; bwd_j] over the real tokens
    only (the backward LSTM starts at the last word); z = h at length - 1."""
    fwd_w, bwd_w = [
        [w.numpy().astype("float64") for w in (c.kernel, c.recurrent_kernel, c.bias)]
        for c in encoder.direction_cells()
    ]
    units = fwd_w[1].shape[0]
    h = np.zeros((x.shape[0], x.shape[1], 2 * units))
    z = np.zeros((x.shape[0], 2 * units))
    for i, n in enumerate(lengths):
        if n == 0:
            continue
        words = x[i, :n].astype("float64")
        fwd = numpy_lstm(words, *fwd_w)
        bwd = numpy_lstm(words[::-1], *bwd_w)[::-1]
        h[i, :n] = np.concatenate([fwd, bwd], axis=-1)
        z[i] = h[i, n - 1]
    return h, z


def numpy_attention(h, z, mask, W_h, W_z, v, b=0.0, alpha_other=None, w_alpha=None):
    """Eq. 1-2, `u_j = v^T tanh(W_h h_j [+ w_alpha a'_j] + W_z z [+ b])`, softmax over the real j.

    With `alpha_other` and `w_alpha`, the attention-fed attention of Section 2.2.2. An empty
    sentence gets zero weights and a zero vector.
    """
    H, alpha = np.zeros((h.shape[0], h.shape[2])), np.zeros(mask.shape)
    for i in range(h.shape[0]):
        n = int(mask[i].sum())
        if n == 0:
            continue
        pre = h[i, :n] @ W_h + z[i] @ W_z + b
        if alpha_other is not None:
            pre = pre + np.outer(alpha_other[i, :n], w_alpha)
        u = np.tanh(pre) @ v
        e = np.exp(u - u.max())
        alpha[i, :n] = e / e.sum()
        H[i] = alpha[i, :n] @ h[i, :n]
    return H, alpha


def numpy_fed_attention(h, z, alpha_other, mask, W_h, w_alpha, W_z, v):
    """The attention-fed attention (Section 2.2.2): `numpy_attention` fed with `alpha_other`."""
    return numpy_attention(h, z, mask, W_h, W_z, v, alpha_other=alpha_other, w_alpha=w_alpha)
