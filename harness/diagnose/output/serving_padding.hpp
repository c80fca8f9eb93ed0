// The matrix prepares device buffers with NaN-poisoned padding, so that a kernel reading absent
// data is caught. A serving stack's loader copies the checkpoint into ZEROED buffers instead, and a
// buggy kernel that reads padding there gets zeros and produces finite garbage. To reproduce an
// observed output, the diagnosis turns the poison back into the loader's zeros.
#pragma once

#include "kernels/backend/fused_moe.hpp"

namespace mxg::diagnose {

// Scale bytes 0xFF (E8M0 NaN, the matrix's poison) become 0x00, the byte of a zeroed buffer;
// NaN biases and NaN hidden padding become 0. The checkpoint's own scales and biases hold no such
// values (load_observed_layer refuses them), so only poison changes. The padding the scale
// shuffle adds (0x7F in mxguard; left uninitialised by AITER) is kept as it is.
void zero_fill_padding(FusedMoeProblem& problem);

}  // namespace mxg::diagnose
