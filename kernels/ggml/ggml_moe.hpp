// The ggml kernel family's kernel: one GPT-OSS MoE layer on ggml's CPU backend, in process, with
// the graph wired the way llama.cpp's build_moe_ffn wires it for LLM_FFN_SWIGLU_OAI_MOE (the
// router excluded: topk_ids and topk_weights are inputs). Only built when the ggml source is
// present (cmake/Ggml.cmake, MXG_HAVE_GGML).
#pragma once

#include <string>
#include <vector>

#include "kernels/ggml/ggml_experts.hpp"

namespace mxg::ggml_family {

struct GgmlRunOptions {
  int threads = 0;  // ggml CPU threads; 0 = every core the machine reports
  // llama.cpp's use_extra_bufts (on unless `--no-repack`): each weight goes to the first of the
  // CPU backend's extra buffer types that supports its op (on x86 with AVX2, CPU_REPACK, which
  // re-lays MXFP4 experts into 8-row interleaved blocks for its own GEMM), else the plain CPU
  // buffer. Off: every weight in the plain CPU buffer (ggml's generic mul_mat_id).
  bool extra_buffers = true;
};

// What a run used, for reports: which ggml, and where each weight tensor was placed.
struct GgmlRunReport {
  std::string ggml_version;  // "0.23.0 (80fb11a)"
  int threads = 0;
  // One entry per weight tensor in graph order, "<tensor>: <buffer type>", e.g.
  // "ffn_up_exps: CPU_REPACK", "ffn_up_exps.bias: CPU".
  std::vector<std::string> placements;
};

// y = Σ_slot w[t, slot] · (down_e · swiglu_oai(gate_e·x + b_g, up_e·x + b_u) + b_d), e =
// topk_ids[t, slot], as F32 [T, H]. Validates the problem first (InputError, one line, naming the
// field); a failure inside ggml (allocation, compute) is an InfraError.
Tensor run_ggml_moe(const GgmlMoeProblem& problem, const GgmlRunOptions& options, GgmlRunReport* report = nullptr);
inline Tensor run_ggml_moe(const GgmlMoeProblem& problem, int threads) {
  return run_ggml_moe(problem, GgmlRunOptions{.threads = threads});
}

// "ggml 0.23.0 (80fb11a), CPU backend": the library this build links.
std::string ggml_kernel_version();

}  // namespace mxg::ggml_family
