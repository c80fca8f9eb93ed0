// run_ggml_moe: the GPT-OSS expert block as a ggml graph on the CPU backend. The graph follows
// llama.cpp's build_moe_ffn (src/llama-graph.cpp) for LLM_FFN_SWIGLU_OAI_MOE node for node, from
// the point where the experts are selected; weights are placed the way llama.cpp's model loader
// places them (the first buffer type whose device supports the weight's op).
#include "kernels/ggml/ggml_moe.hpp"

#include <cstring>
#include <algorithm>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>

#include <fmt/format.h>

#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml-cpp.h"
#include "ggml-cpu.h"
#include "ggml.h"
#include "kernels/common/errors.hpp"
#include "kernels/ggml/validate_ggml_problem.hpp"

namespace mxg::ggml_family {
namespace {

// Upper bound on the tensors one graph creates (weights, inputs, ~10 nodes, one view and one add
// per selected expert); the context holds metadata only.
std::size_t context_bytes(std::int64_t topk) {
  const auto tensors = static_cast<std::size_t>(32 + 3 * topk);
  return tensors * ggml_tensor_overhead() + ggml_graph_overhead_custom(tensors, false);
}

// One weight tensor of the graph: where its bytes come from and the op that consumes it (what the
// buffer-type choice is asked about).
struct Weight {
  ggml_tensor* tensor = nullptr;
  const Tensor* source = nullptr;
  ggml_tensor* consumer = nullptr;
};

// ggml tensors whose row-major host counterpart is [d2, d1, d0] (ggml lists dims fastest first).
ggml_tensor* new_weight(ggml_context* ctx, ggml_type type, std::int64_t ne0, std::int64_t ne1, std::int64_t ne2,
                        const char* name) {
  ggml_tensor* t = ggml_new_tensor_3d(ctx, type, ne0, ne1, ne2);
  ggml_set_name(t, name);
  return t;
}

class MoeGraph {
 public:
  MoeGraph(const GgmlMoeProblem& p, const GgmlMoeDims& d) : problem_(p) {
    ggml_init_params params{context_bytes(d.topk), nullptr, /*no_alloc=*/true};
    ctx_.reset(ggml_init(params));
    if (!ctx_) throw InfraError("ggml: ggml_init failed for the graph context");
    ggml_context* ctx = ctx_.get();
    const GgmlExperts& x = p.experts;
    const std::int64_t E = d.experts, H = d.hidden, I = d.intermediate, k = d.topk, T = d.tokens;

    // Inputs, in llama.cpp's shapes: cur [H, T], the selected experts [k, T] and their weights
    // [1, k, T] (what build_moe_ffn computes from the router; given here).
    hidden_ = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, H, T);
    ids_ = ggml_new_tensor_2d(ctx, GGML_TYPE_I32, k, T);
    route_weights_ = ggml_new_tensor_3d(ctx, GGML_TYPE_F32, 1, k, T);
    for (ggml_tensor* in : {hidden_, ids_, route_weights_}) ggml_set_input(in);

    ggml_tensor* cur = ggml_reshape_3d(ctx, hidden_, H, 1, T);
    ggml_tensor* gate = nullptr;
    ggml_tensor* up = nullptr;
    if (x.merged()) {
      // One mul_mat_id over [gate; up] rows, one add_id, then two views: gate the first I rows
      // of each result column, up the last I.
      ggml_tensor* w = new_weight(ctx, GGML_TYPE_MXFP4, H, 2 * I, E, "ffn_gate_up_exps");
      ggml_tensor* b = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, 2 * I, E);
      ggml_set_name(b, "ffn_gate_up_exps.bias");
      ggml_tensor* gate_up = ggml_mul_mat_id(ctx, w, cur, ids_);
      weights_.push_back({w, &x.gate_up, gate_up});
      gate_up = ggml_add_id(ctx, gate_up, b, ids_);
      weights_.push_back({b, &x.gate_up_bias, gate_up});
      const std::int64_t n_ff = gate_up->ne[0] / 2;
      gate = ggml_view_3d(ctx, gate_up, n_ff, gate_up->ne[1], gate_up->ne[2], gate_up->nb[1], gate_up->nb[2], 0);
      up = ggml_view_3d(ctx, gate_up, n_ff, gate_up->ne[1], gate_up->ne[2], gate_up->nb[1], gate_up->nb[2],
                        n_ff * gate_up->nb[0]);
    } else {
      // llama.cpp's order: up first, then gate, each a mul_mat_id followed by its add_id.
      up = add_expert_matmul(ctx, x.up, x.up_bias, H, I, E, cur, "ffn_up_exps");
      gate = add_expert_matmul(ctx, x.gate, x.gate_bias, H, I, E, cur, "ffn_gate_exps");
    }
    ggml_tensor* act = ggml_swiglu_oai(ctx, gate, up, p.alpha, p.swiglu_limit);
    ggml_tensor* experts = add_expert_matmul(ctx, x.down, x.down_bias, I, H, E, act, "ffn_down_exps");
    experts = ggml_mul(ctx, experts, route_weights_);

    graph_ = ggml_new_graph_custom(ctx, static_cast<std::size_t>(32 + 3 * k), false);
    ggml_build_forward_expand(graph_, experts);
    // Sum over the selected experts as llama.cpp does: one [H, T] view per slot, expanded before
    // the adds, then a chain of adds in slot order (a single slot is made contiguous instead).
    std::vector<ggml_tensor*> slots;
    for (std::int64_t s = 0; s < k; ++s) {
      slots.push_back(ggml_view_2d(ctx, experts, H, T, experts->nb[2], static_cast<std::size_t>(s) * experts->nb[1]));
      ggml_build_forward_expand(graph_, slots.back());
    }
    out_ = slots[0];
    for (std::int64_t s = 1; s < k; ++s) {
      out_ = ggml_add(ctx, out_, slots[static_cast<std::size_t>(s)]);
      ggml_build_forward_expand(graph_, out_);
    }
    if (k == 1) out_ = ggml_cont(ctx, out_);
    ggml_set_output(out_);
    ggml_build_forward_expand(graph_, out_);
  }

  std::vector<Weight>& weights() { return weights_; }
  ggml_cgraph* graph() { return graph_; }

  void set_inputs() {
    ggml_backend_tensor_set(hidden_, problem_.hidden.bytes().data(), 0, problem_.hidden.nbytes());
    ggml_backend_tensor_set(ids_, problem_.topk_ids.bytes().data(), 0, problem_.topk_ids.nbytes());
    ggml_backend_tensor_set(route_weights_, problem_.topk_weights.bytes().data(), 0, problem_.topk_weights.nbytes());
  }

  Tensor output(std::int64_t tokens, std::int64_t hidden) const {
    Tensor y(DType::F32, {tokens, hidden});
    auto bytes = y.mutable_bytes();
    if (ggml_nbytes(out_) != bytes.size()) {
      throw InfraError(fmt::format("ggml: output has {} bytes, expected {}", ggml_nbytes(out_), bytes.size()));
    }
    ggml_backend_tensor_get(out_, bytes.data(), 0, bytes.size());
    return y;
  }

 private:
  // mul_mat_id of one expert weight (MXFP4 [K, rows, E]) with `in`, then add_id of its bias.
  ggml_tensor* add_expert_matmul(ggml_context* ctx, const Tensor& weight, const Tensor& bias, std::int64_t k,
                                 std::int64_t rows, std::int64_t experts, ggml_tensor* in, const char* name) {
    ggml_tensor* w = new_weight(ctx, GGML_TYPE_MXFP4, k, rows, experts, name);
    ggml_tensor* b = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, rows, experts);
    ggml_format_name(b, "%s.bias", name);
    ggml_tensor* out = ggml_mul_mat_id(ctx, w, in, ids_);
    weights_.push_back({w, &weight, out});
    out = ggml_add_id(ctx, out, b, ids_);
    weights_.push_back({b, &bias, out});
    return out;
  }

  const GgmlMoeProblem& problem_;
  ggml_context_ptr ctx_;
  ggml_tensor* hidden_ = nullptr;
  ggml_tensor* ids_ = nullptr;
  ggml_tensor* route_weights_ = nullptr;
  ggml_tensor* out_ = nullptr;
  ggml_cgraph* graph_ = nullptr;
  std::vector<Weight> weights_;
};

// The buffer types llama.cpp's loader offers a CPU weight, in its order: the CPU backend's extra
// types (when enabled), then the plain CPU buffer.
std::vector<ggml_backend_buffer_type_t> candidate_buffer_types(ggml_backend_dev_t dev, bool extra) {
  std::vector<ggml_backend_buffer_type_t> out;
  if (extra) {
    auto get_extra = reinterpret_cast<ggml_backend_dev_get_extra_bufts_t>(
        ggml_backend_reg_get_proc_address(ggml_backend_dev_backend_reg(dev), "ggml_backend_dev_get_extra_bufts"));
    if (get_extra != nullptr) {
      for (ggml_backend_buffer_type_t* b = get_extra(dev); b != nullptr && *b != nullptr; ++b) out.push_back(*b);
    }
  }
  out.push_back(ggml_backend_dev_buffer_type(dev));
  return out;
}

// Whether `dev` runs the weight's consumer with the weight in a buffer of type `buft`: asked the
// way llama.cpp asks, through a zero-sized buffer of that type attached for the question.
bool supports(ggml_backend_dev_t dev, ggml_backend_buffer_type_t buft, const Weight& w) {
  ggml_backend_buffer_ptr probe(ggml_backend_buft_alloc_buffer(buft, 0));
  if (!probe) return false;
  w.tensor->buffer = probe.get();
  const bool ok = ggml_backend_dev_supports_op(dev, w.consumer);
  w.tensor->buffer = nullptr;
  return ok;
}

// Places every weight in its chosen buffer type (one buffer each) and copies its bytes in; a
// repacking buffer re-lays them out on the way.
std::vector<ggml_backend_buffer_ptr> load_weights(ggml_backend_dev_t dev, std::vector<Weight>& weights, bool extra,
                                                  std::vector<std::string>& placements) {
  const auto candidates = candidate_buffer_types(dev, extra);
  std::vector<ggml_backend_buffer_ptr> buffers;
  for (Weight& w : weights) {
    ggml_backend_buffer_type_t chosen = nullptr;
    for (ggml_backend_buffer_type_t buft : candidates) {
      if (supports(dev, buft, w)) {
        chosen = buft;
        break;
      }
    }
    if (chosen == nullptr) {
      throw InfraError(fmt::format("ggml: no CPU buffer type supports {} for {}", ggml_get_name(w.tensor),
                                   ggml_op_desc(w.consumer)));
    }
    if (ggml_nbytes(w.tensor) != w.source->nbytes()) {
      throw InfraError(fmt::format("ggml: {} needs {} bytes, the problem holds {}", ggml_get_name(w.tensor),
                                   ggml_nbytes(w.tensor), w.source->nbytes()));
    }
    ggml_backend_buffer_ptr buffer(ggml_backend_buft_alloc_buffer(chosen, ggml_backend_buft_get_alloc_size(chosen, w.tensor)));
    if (!buffer) {
      throw InfraError(fmt::format("ggml: could not allocate {} bytes of {} for {}", ggml_nbytes(w.tensor),
                                   ggml_backend_buft_name(chosen), ggml_get_name(w.tensor)));
    }
    ggml_backend_buffer_set_usage(buffer.get(), GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
    if (ggml_backend_tensor_alloc(buffer.get(), w.tensor, ggml_backend_buffer_get_base(buffer.get())) !=
        GGML_STATUS_SUCCESS) {
      throw InfraError(fmt::format("ggml: could not place {} in {}", ggml_get_name(w.tensor), ggml_backend_buft_name(chosen)));
    }
    ggml_backend_tensor_set(w.tensor, w.source->bytes().data(), 0, w.source->nbytes());
    placements.push_back(fmt::format("{}: {}", ggml_get_name(w.tensor), ggml_backend_buft_name(chosen)));
    buffers.push_back(std::move(buffer));
  }
  return buffers;
}

// ggml logs every weight it repacks at debug level, and its default logger prints everything to
// stderr. Installed once: warnings and errors still go to whatever logger was there before.
struct LogFilter {
  ggml_log_callback next = nullptr;
  void* next_data = nullptr;
  ggml_log_level last = GGML_LOG_LEVEL_NONE;
};
LogFilter g_log_filter;

void filtered_log(ggml_log_level level, const char* text, void* data) {
  auto* f = static_cast<LogFilter*>(data);
  if (level != GGML_LOG_LEVEL_CONT) f->last = level;  // a continuation keeps its line's level
  if (f->last >= GGML_LOG_LEVEL_WARN && f->next != nullptr) f->next(level, text, f->next_data);
}

void quiet_ggml_debug_logs() {
  static std::once_flag once;
  std::call_once(once, [] {
    ggml_log_get(&g_log_filter.next, &g_log_filter.next_data);
    ggml_log_set(filtered_log, &g_log_filter);
  });
}

int resolve_threads(int threads) {
  if (threads < 0) throw InputError(fmt::format("ggml run: threads is {}, expected 0 (every core) or more", threads));
  if (threads > 0) return threads;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

Tensor run_ggml_moe(const GgmlMoeProblem& problem, const GgmlRunOptions& options, GgmlRunReport* report) {
  const GgmlMoeDims dims = validate_ggml_problem(problem);
  const int threads = resolve_threads(options.threads);
  quiet_ggml_debug_logs();

  ggml_backend_ptr backend(ggml_backend_cpu_init());
  if (!backend) throw InfraError("ggml: ggml_backend_cpu_init failed");
  ggml_backend_cpu_set_n_threads(backend.get(), threads);
  ggml_backend_dev_t dev = ggml_backend_get_device(backend.get());

  MoeGraph graph(problem, dims);
  std::vector<std::string> placements;
  const auto weight_buffers = load_weights(dev, graph.weights(), options.extra_buffers, placements);

  ggml_gallocr_ptr allocator(ggml_gallocr_new(ggml_backend_get_default_buffer_type(backend.get())));
  if (!allocator || !ggml_gallocr_alloc_graph(allocator.get(), graph.graph())) {
    throw InfraError("ggml: could not allocate the graph's activations");
  }
  graph.set_inputs();
  if (const ggml_status status = ggml_backend_graph_compute(backend.get(), graph.graph()); status != GGML_STATUS_SUCCESS) {
    throw InfraError(fmt::format("ggml: graph compute failed: {}", ggml_status_to_string(status)));
  }
  Tensor y = graph.output(dims.tokens, dims.hidden);
  if (report != nullptr) {
    report->ggml_version = fmt::format("{} ({})", ggml_version(), ggml_commit());
    report->threads = threads;
    report->placements = std::move(placements);
  }
  return y;
}

std::string ggml_kernel_version() { return fmt::format("ggml {} ({}), CPU backend", ggml_version(), ggml_commit()); }

}  // namespace mxg::ggml_family
