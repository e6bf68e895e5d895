/**
 * Kernels a TF.js backend of this project may register beyond TF.js's own, by name: a layer runs
 * one when the active backend has it and composes TF.js operations otherwise, so every backend
 * trains the same models. libs/native registers all of them.
 *
 * LSTM over a whole sequence (Keras' gate order input, forget, candidate, output; sigmoid gates,
 * tanh activation; initial state zero):
 * - `lstm`: inputs x [batch, steps, features], kernel [features, 4u], recurrentKernel [u, 4u],
 *   bias [4u] (optional); attrs returnSequences; outputs y ([batch, u], or [batch, steps, u] with
 *   returnSequences) and the state the gradient needs, opaque (float32, batch * (6 steps + 1) * u).
 * - `lstmGrad`: inputs dy (shaped as y), x, kernel, recurrentKernel, state; attrs
 *   returnSequences, hasBias; outputs dx, dkernel, drecurrentKernel and, with hasBias, dbias.
 *
 * One Adam step for one weight tensor, in one pass instead of a dozen kernels:
 * - `adam`: inputs gradient, m, v (float32, one shape); attrs beta1, beta2, scale, epsilon;
 *   outputs nextM = m·β1 + g·(1 − β1), nextV = v·β2 + g²·(1 − β2) and
 *   update = nextM·scale / (√nextV + ε), each operation rounded to float32 as the TF.js
 *   operations would (the bias corrections are folded into scale and ε by the caller).
 */
export const EXTRA_KERNELS = {
  lstm: 'DlexpLstm',
  lstmGrad: 'DlexpLstmGrad',
  adam: 'DlexpAdam',
} as const;
