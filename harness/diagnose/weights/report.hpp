// The `diagnose weights` result record and its two printers: a human pipeline line with details,
// and JSON (schema mxguard.diagnose.weights/1). One record, two printers, one exit code rule.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/diagnose/weights/kernel_read.hpp"
#include "harness/diagnose/weights/search.hpp"
#include "kernels/backend/fused_moe.hpp"

namespace mxg::diagnose::weights {

// A setting and where it came from ("--tp", "sidecar dump.json").
template <class T>
struct Sourced {
  T value;
  std::string from;
};

// What the kernel was told; a flag that does not change how this tensor is read (the gate mode of
// a down_proj tensor, either flag of a bias) may be absent.
struct KernelReadReport {
  std::optional<Sourced<GateMode>> gate_mode;
  std::optional<Sourced<bool>> is_shuffled;
  KernelRead read;
};

struct WeightsReport {
  std::string tensor;  // checkpoint tensor name
  std::string checkpoint_source, dump_source, dump_tensor;
  DType checkpoint_dtype = DType::U8, dump_dtype = DType::U8;
  Shape checkpoint_shape, dump_shape;
  std::optional<Sourced<std::int64_t>> tp, ep;
  Diagnosis diagnosis;
  std::optional<KernelReadReport> kernel;
};

std::string render_text(const WeightsReport& r);
nlohmann::json to_json(const WeightsReport& r);

// 0: an exact chain, and (when the flags were given) the kernel reads it back; 1 otherwise.
int report_exit_code(const WeightsReport& r);

}  // namespace mxg::diagnose::weights
