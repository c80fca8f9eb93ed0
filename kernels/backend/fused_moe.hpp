// The fused-MoE kernel contract (LAYOUTS.md §8) every backend implements, and the backend
// registry. A problem carries DEVICE-layout bytes: what a serving stack would hand the kernel.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/backend/pad_convention.hpp"
#include "kernels/tensor/tensor.hpp"

namespace mxg {

// How the kernel interprets w13 rows: [gate | up] halves, or alternating 16-row gate/up blocks.
enum class GateMode : std::uint8_t { Separated, Interleave };
std::string_view gate_mode_name(GateMode m);  // "separated" | "interleave"
GateMode parse_gate_mode(std::string_view s);   // throws InputError naming the value

struct FusedMoeProblem {
  Tensor hidden;        // BF16 [T, H_p]
  Tensor w13;           // U8 [E, 2*I_p, H_p/2]
  Tensor w13_scale;     // U8 [rows, cols] 2-D: E*2*I_p rows, H_p/32 cols (padded when shuffled)
  Tensor w2;            // U8 [E, H_p, I_p/2]
  Tensor w2_scale;      // U8 2-D: E*H_p rows, I_p/32 cols (padded when shuffled)
  Tensor w13_bias;      // F32 [E, 2*I_p], always [gate | up] order
  Tensor w2_bias;       // F32 [E, H_p]
  Tensor topk_ids;      // I32 [T, k]
  Tensor topk_weights;  // F32 [T, k]
  GateMode gate_mode = GateMode::Separated;
  bool is_shuffled = false;
  std::int64_t hidden_pad = 0;        // last hidden_pad inputs of H_p are absent
  std::int64_t intermediate_pad = 0;  // last intermediate_pad units of I_p are absent
  float swiglu_limit = 7.0f;
  float alpha = 1.702f;

  std::int64_t tokens() const { return hidden.dim(0); }
  std::int64_t hidden_padded() const { return hidden.dim(1); }
  std::int64_t hidden_size() const { return hidden_padded() - hidden_pad; }
  std::int64_t experts() const { return w13.dim(0); }
  std::int64_t intermediate_padded() const { return w13.dim(1) / 2; }
  // Units the kernel computes: I_p minus the stated intermediate_pad (not what was loaded).
  std::int64_t intermediate_size() const { return intermediate_padded() - intermediate_pad; }
  std::int64_t topk() const { return topk_ids.dim(1); }
};

// Checks every shape, dtype and value the contract constrains (including top-k ids in
// [0, E)); throws InputError naming the field, the expected and the found value.
void validate_problem(const FusedMoeProblem& p);

struct BackendInfo {
  std::string backend;  // registry name
  std::string kernel;   // kernel name and version
  std::string device;   // "cpu (N threads)", GPU name, or the external command
  std::map<std::string, std::string> versions;  // library -> version, as a persistent worker reports them
};

struct BackendOptions {
  int threads = 0;             // 0: all cores
  std::string kernel_cmd;      // external backend: command template with {in} and {out}
  std::string kernel_worker;   // external backend, protocol v2: a persistent worker's command line
  double timeout_seconds = 600;
  std::uint64_t worker_rss_limit_bytes = 0;  // persistent workers: 0 none, else restart past it
  std::optional<int> device;                 // persistent workers / commands: the GPU (--devices) it gets
  // host and hip: which pad convention the kernel emulates (pad_convention.hpp; exact = mxguard's own).
  PadConvention pad_convention = PadConvention::Exact;
  std::string kernel_mutant;  // host: a built-in kernel bug (kernel_mutants.hpp); "" none
};

class FusedMoeBackend {
 public:
  virtual ~FusedMoeBackend() = default;
  virtual BackendInfo info() const = 0;
  // Returns y, BF16 [T, H]. Throws InputError for a malformed problem, InfraError when the
  // device or external command fails.
  virtual Tensor run(const FusedMoeProblem& problem) = 0;
  // The same, told which combination it runs (the matrix's result id): a backend that hands the
  // problem to another process names the request by it. The default ignores the id.
  virtual Tensor run_combination(const FusedMoeProblem& problem, std::string_view /*id*/) { return run(problem); }
};

using BackendFactory = std::function<std::unique_ptr<FusedMoeBackend>(const BackendOptions&)>;

// How a matrix run isolates a backend's combinations from each other (the backend's policy, so the
// CLI never decides by backend name).
enum class Isolation : std::uint8_t {
  Optional,  // in process unless --isolate: then combinations run in a child `mxguard kernel worker`
  Default,   // always in a child worker (a GPU fault must not end the run)
  Inherent,  // the backend already runs outside mxguard (a command per combination, or the user's
             // persistent worker): --isolate adds nothing
};

struct BackendRegistration {
  std::string name;         // registry key, e.g. "host"
  std::string description;  // one line for `mxguard kernel list`
  BackendFactory factory;
  Isolation isolation = Isolation::Optional;
};

// Registration is explicit, never by static objects (a static library would drop them): the
// registry adds the built-in backends (host, external, and the GPU ones of
// kernels/backend/gpu_hook.hpp when built) the first time any function below is called.
// Registering a name twice throws std::invalid_argument.
void register_backend(BackendRegistration registration);
// InputError listing the registered names when `name` is unknown.
std::unique_ptr<FusedMoeBackend> make_backend(std::string_view name, const BackendOptions& options = {});
std::vector<std::string> backend_names();  // sorted
// InputError listing the registered names when `name` is unknown.
std::string backend_description(std::string_view name);
// InputError listing the registered names when `name` is unknown.
Isolation backend_isolation(std::string_view name);

}  // namespace mxg
