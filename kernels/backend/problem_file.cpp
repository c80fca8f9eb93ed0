// Reading and writing problem files and output files (see problem_file.hpp).
#include "kernels/backend/problem_file.hpp"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "kernels/backend/guard_zones.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/tensor/safetensors.hpp"

namespace mxg {
namespace {

struct Field {
  const char* name;
  Tensor FusedMoeProblem::*member;
};
constexpr Field kTensors[] = {
    {"hidden", &FusedMoeProblem::hidden},         {"w13", &FusedMoeProblem::w13},
    {"w13_scale", &FusedMoeProblem::w13_scale},   {"w2", &FusedMoeProblem::w2},
    {"w2_scale", &FusedMoeProblem::w2_scale},     {"w13_bias", &FusedMoeProblem::w13_bias},
    {"w2_bias", &FusedMoeProblem::w2_bias},       {"topk_ids", &FusedMoeProblem::topk_ids},
    {"topk_weights", &FusedMoeProblem::topk_weights},
};

const std::string& meta(const std::filesystem::path& path, const std::map<std::string, std::string>& m,
                        const std::string& key) {
  auto it = m.find(key);
  if (it == m.end()) {
    throw InputError(fmt::format("{}: __metadata__ has no '{}' (a problem file needs gate_mode, is_shuffled, "
                                 "hidden_pad, intermediate_pad, swiglu_limit, alpha)",
                                 path.string(), key));
  }
  return it->second;
}

template <class T>
T parse_number(const std::filesystem::path& path, const std::string& key, const std::string& text) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || ptr != end || text.empty()) {
    throw InputError(fmt::format("{}: __metadata__ '{}' is '{}', not a number", path.string(), key, text));
  }
  return value;
}

bool parse_bool(const std::filesystem::path& path, const std::string& key, const std::string& text) {
  if (text == "true" || text == "1") return true;
  if (text == "false" || text == "0") return false;
  throw InputError(fmt::format("{}: __metadata__ '{}' is '{}', expected true or false", path.string(), key, text));
}

}  // namespace

std::map<std::string, std::string> problem_metadata(const FusedMoeProblem& p) {
  return {
      {"mxguard.protocol", kProblemProtocolVersion},
      {"gate_mode", std::string(gate_mode_name(p.gate_mode))},
      {"is_shuffled", p.is_shuffled ? "true" : "false"},
      {"hidden_pad", std::to_string(p.hidden_pad)},
      {"intermediate_pad", std::to_string(p.intermediate_pad)},
      {"swiglu_limit", fmt::format("{}", p.swiglu_limit)},
      {"alpha", fmt::format("{}", p.alpha)},
      {"guard_bytes", std::to_string(kGuardBytes)},
      {"tokens", std::to_string(p.tokens())},
      {"experts", std::to_string(p.experts())},
      {"topk", std::to_string(p.topk())},
      {"hidden_size", std::to_string(p.hidden_size())},
      {"hidden_padded", std::to_string(p.hidden_padded())},
      {"intermediate_padded", std::to_string(p.intermediate_padded())},
      {"intermediate_size", std::to_string(p.intermediate_size())},
  };
}

void write_problem(const std::filesystem::path& path, const FusedMoeProblem& p) {
  validate_problem(p);
  NamedTensors tensors;
  for (const auto& f : kTensors) tensors.emplace_back(f.name, p.*f.member);
  write_safetensors(path, tensors, problem_metadata(p));
}

FusedMoeProblem read_problem(const std::filesystem::path& path) {
  const auto file = SafetensorsFile::open(path);
  FusedMoeProblem p;
  for (const auto& f : kTensors) p.*f.member = file.get(f.name);
  const auto& m = file.metadata();
  if (auto it = m.find("mxguard.protocol"); it != m.end() && it->second != kProblemProtocolVersion) {
    throw InputError(fmt::format("{}: __metadata__ 'mxguard.protocol' is '{}', this mxguard reads version {}",
                                 path.string(), it->second, kProblemProtocolVersion));
  }
  try {
    p.gate_mode = parse_gate_mode(meta(path, m, "gate_mode"));
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: {}", path.string(), e.what()));
  }
  p.is_shuffled = parse_bool(path, "is_shuffled", meta(path, m, "is_shuffled"));
  p.hidden_pad = parse_number<std::int64_t>(path, "hidden_pad", meta(path, m, "hidden_pad"));
  p.intermediate_pad = parse_number<std::int64_t>(path, "intermediate_pad", meta(path, m, "intermediate_pad"));
  p.swiglu_limit = parse_number<float>(path, "swiglu_limit", meta(path, m, "swiglu_limit"));
  p.alpha = parse_number<float>(path, "alpha", meta(path, m, "alpha"));
  try {
    validate_problem(p);
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: {}", path.string(), e.what()));
  }
  return p;
}

void write_output(const std::filesystem::path& path, const Tensor& y, const std::map<std::string, std::string>& metadata) {
  write_safetensors(path, {{"y", y}}, metadata);
}

Tensor read_output(const std::filesystem::path& path, std::int64_t tokens, std::int64_t hidden) {
  const auto file = SafetensorsFile::open(path);
  const Tensor y = file.get("y");
  const Shape expected{tokens, hidden};
  if (y.shape() != expected) {
    throw InputError(fmt::format("{}: y: shape is {}, expected {} ([T, H])", path.string(), shape_string(y.shape()),
                                 shape_string(expected)));
  }
  if (y.dtype() == DType::BF16) {
    Tensor owned(DType::BF16, expected);
    auto dst = owned.as_mut<std::uint16_t>();
    auto src = y.as<std::uint16_t>();
    std::copy(src.begin(), src.end(), dst.begin());
    return owned;
  }
  if (y.dtype() == DType::F32) {
    const auto values = y.to_f32();
    return Tensor::from_f32(values, expected, DType::BF16);
  }
  throw InputError(fmt::format("{}: y: dtype is {}, expected BF16 or F32", path.string(), dtype_name(y.dtype())));
}

}  // namespace mxg
