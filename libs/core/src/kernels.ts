/**
 * Kernels a TF.js backend of this project may register beyond TF.js's own, by name: a layer runs
 * one when the active backend has it and composes TF.js operations otherwise, so every backend
 * trains the same models. libs/native registers both LSTM kernels.
 *
 * LSTM over a whole sequence (Keras' gate order input, forget, candidate, output; sigmoid gates,
 * tanh activation; initial state zero):
 * - `lstm`: inputs x [batch, steps, features], kernel [features, 4u], recurrentKernel [u, 4u],
 *   bias [4u] (optional); attrs returnSequences; outputs y ([batch, u], or [batch, steps, u] with
 *   returnSequences) and the state the gradient needs, opaque (float32, batch * (6 steps + 1) * u).
 * - `lstmGrad`: inputs dy (shaped as y), x, kernel, recurrentKernel, state; attrs
 *   returnSequences, hasBias; outputs dx, dkernel, drecurrentKernel and, with hasBias, dbias.
 */
export const EXTRA_KERNELS = {
  lstm: 'DlexpLstm',
  lstmGrad: 'DlexpLstmGrad',
} as const;
