// Runs one case instance's ggml combinations: the instance's canonical checkpoint tensors go
// through a preparation (ours, under each GgmlPrep; or, in stack mode, the command of the stack
// under test, e.g. llama.cpp's own converter) into ggml's MoE graph, and each output is judged
// against the instance's Eigen reference like any matrix combination.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "harness/matrix/ggml/ggml_combination.hpp"
#include "harness/matrix/instance.hpp"
#include "harness/matrix/scenarios.hpp"
#include "reports/result.hpp"

namespace mxg::matrix::ggml {

struct GgmlRunSettings {
  int threads = 0;  // ggml CPU threads (0: every core)
  // Stack mode: a command with {in} (the checkpoint tensors, kernels/layout/ggml_experts_io.hpp
  // names) and {out} (the converted GgmlExperts) that replaces our preparation, e.g.
  // "/usr/bin/python3 ci/tools/ggml_convert_layer.py --converter-dir llama.cpp/conversion --in {in} --out {out}".
  std::string prep_cmd;
  double timeout_seconds = 600;
  std::filesystem::path work_dir;  // where stack mode writes its files
};

// Whether this build has the ggml kernel (the ggml source was found at configure time).
bool ggml_kernel_available();

// In stack mode only the kernel-side dimension is swept: the preparation is the stack's.
std::vector<GgmlCombination> stack_combinations(const std::vector<GgmlCombination>& swept);

// Each finished combination goes to `record` (called on this thread); stops early when
// `interrupted()` turns true. The ids are result_id(instance, combination_id(c)).
void run_ggml_instance(const Instance& instance, const std::vector<GgmlCombination>& combinations,
                       const std::vector<Scenario>& scenarios, const GgmlRunSettings& settings,
                       const std::function<bool()>& interrupted,
                       const std::function<void(report::CombinationResult)>& record);

}  // namespace mxg::matrix::ggml
