// Text and JSON printers of a weights diagnosis.
#include "harness/diagnose/weights/report.hpp"

#include <cmath>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"
#include "kernels/format/mxfp4.hpp"

namespace mxg::diagnose::weights {

namespace {

using layout::ExpertTensor;

std::string thousands(std::int64_t n) {
  std::string digits = fmt::format("{}", n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0 && digits[i - 1] != '-') out += ',';
    out += digits[i];
  }
  return out;
}

// Up to four decimals, rounded down so that anything short of all never reads "100%".
std::string percent(double f) {
  std::string s = fmt::format("{:.4f}", std::floor(f * 1e6) / 1e4);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s + "%";
}

// Where a checkpoint element sits, in words: "expert 3, row 34 (gate unit 17), byte 80".
std::string checkpoint_position(ExpertTensor kind, const Mismatch& m) {
  if (m.checkpoint_expert < 0) return "no checkpoint expert (this dump expert pairs with none)";
  if (m.source_row == LayoutMap::kZero) return fmt::format("the zeroed down bias (expert {})", m.checkpoint_expert);
  std::string row = fmt::format("row {}", m.source_row);
  if (is_gate_up(kind)) row += fmt::format(" ({} unit {})", m.source_row % 2 == 0 ? "gate" : "up", m.source_row / 2);
  if (is_bias(kind)) return fmt::format("expert {}, {}", m.checkpoint_expert, row);
  return fmt::format("expert {}, {}, {} {}", m.checkpoint_expert, row, is_blocks(kind) ? "byte" : "scale block",
                     m.source_col);
}

std::string mismatch_line(ExpertTensor kind, const Mismatch& m) {
  return fmt::format(
      "dump expert {}, row block {}, column block {}: element {} of the dump (logical row {}, col {}) is {}; the "
      "chain puts checkpoint {} there, which is {}",
      m.dump_expert, m.row_block, m.col_block, m.dump_offset, m.row, m.col, m.dump_value,
      checkpoint_position(kind, m), m.checkpoint_value);
}

std::string slice_line(const Chain& c) {
  const Slice& s = c.slice;
  if (!s.sliced) return "the checkpoint's own geometry (no tp-slice, no padding)";
  if (c.kind == ExpertTensor::down_proj_bias) {
    return s.bias_zeroed ? fmt::format("zeroed (ranks other than 0 add no down bias), padded to H_p = {}", s.hidden_padded)
                         : fmt::format("kept (rank 0 adds the down bias), padded to H_p = {}", s.hidden_padded);
  }
  std::string line = fmt::format("units {}..{} of I = {} ({} loaded) in I_p = {}", s.unit_start, s.unit_end - 1,
                                 s.intermediate, s.unit_end - s.unit_start, s.intermediate_padded);
  if (c.kind != ExpertTensor::gate_up_proj_bias) line += fmt::format(", H_p = {}", s.hidden_padded);
  const std::int64_t loaded = s.unit_end - s.unit_start;
  if (loaded > s.shard_units) {
    line += fmt::format("; I/tp = {}, so an intermediate_pad computed from I/tp ({}) hides the last {} loaded units",
                        s.shard_units, s.intermediate_padded - s.shard_units, loaded - s.shard_units);
  }
  return line;
}

std::string experts_line(const Chain& c) {
  std::string line = describe_experts(c);
  const auto n = static_cast<std::int64_t>(c.experts.size());
  const bool contiguous = std::ranges::all_of(c.experts, [&](std::int64_t e) { return e >= 0; }) &&
                          c.experts.back() - c.experts.front() == n - 1;
  if (n < c.checkpoint_experts && c.checkpoint_experts % n == 0 && contiguous && c.experts.front() % n == 0) {
    line += fmt::format(" (expert-parallel rank {} of {})", c.experts.front() / n, c.checkpoint_experts / n);
  }
  return line;
}

// "gate_mode=separated (--gate-mode), is_shuffled=false (sidecar x.json)"; `sources` false drops
// the parentheses.
std::string flag_text(const KernelReadReport& k, bool sources = true) {
  std::vector<std::string> parts;
  if (k.gate_mode) {
    parts.push_back(fmt::format("gate_mode={}", gate_mode_name(k.gate_mode->value)) +
                    (sources ? fmt::format(" ({})", k.gate_mode->from) : ""));
  }
  if (k.is_shuffled) {
    parts.push_back(fmt::format("is_shuffled={}", k.is_shuffled->value ? "true" : "false") +
                    (sources ? fmt::format(" ({})", k.is_shuffled->from) : ""));
  }
  return fmt::format("{}", fmt::join(parts, ", "));
}

nlohmann::json chain_json(const Chain& c) {
  nlohmann::json ranks = nlohmann::json::array();
  for (const TpRank& r : c.slice.ranks) ranks.push_back({{"tp", r.tp}, {"rank", r.rank}});
  return {{"pipeline", chain_string(c)},
          {"steps", chain_steps(c)},
          {"experts", c.experts},
          {"checkpoint_experts", c.checkpoint_experts},
          {"sliced", c.slice.sliced},
          {"tp_ranks", ranks},
          {"unit_start", c.slice.unit_start},
          {"unit_end", c.slice.unit_end},
          {"intermediate_padded", c.slice.intermediate_padded},
          {"hidden_padded", c.slice.hidden_padded},
          {"bias_zeroed", c.slice.bias_zeroed},
          {"deinterleave", c.deinterleave},
          {"shuffle", std::string(shuffle_name(c.shuffle))}};
}

}  // namespace

int report_exit_code(const WeightsReport& r) {
  if (r.diagnosis.verdict != Verdict::exact) return exit_code::kRegression;
  if (r.kernel && !r.kernel->read.consistent) return exit_code::kRegression;
  return exit_code::kPass;
}

std::string render_text(const WeightsReport& r) {
  const Diagnosis& d = r.diagnosis;
  std::string out = fmt::format("diagnose weights: {}\n", r.tensor);
  out += fmt::format("  checkpoint  {}  {} {}\n", r.checkpoint_source, dtype_name(r.checkpoint_dtype),
                     shape_string(r.checkpoint_shape));
  out += fmt::format("  dump        {}{}  {} {}\n", r.dump_source,
                     r.dump_tensor.empty() ? "" : fmt::format(" '{}'", r.dump_tensor), dtype_name(r.dump_dtype),
                     shape_string(r.dump_shape));
  if (r.tp || r.ep) {
    std::vector<std::string> s;
    if (r.tp) s.push_back(fmt::format("tp={} ({})", r.tp->value, r.tp->from));
    if (r.ep) s.push_back(fmt::format("ep={} ({})", r.ep->value, r.ep->from));
    out += fmt::format("  searched    only chains with {}\n", fmt::join(s, ", "));
  }
  const ExpertTensor kind = d.chain ? d.chain->kind : ExpertTensor::gate_up_proj_blocks;
  switch (d.verdict) {
    case Verdict::exact:
      out += fmt::format("EXACT    {}\n", chain_string(*d.chain));
      break;
    case Verdict::partial:
      out += fmt::format("PARTIAL  no chain matches exactly; closest: {}\n", chain_string(*d.chain));
      break;
    case Verdict::unknown:
      out += "UNKNOWN  layout unknown: no chain of known transforms explains this dump\n";
      if (d.chain) out += fmt::format("  closest     {} (not a match)\n", chain_string(*d.chain));
      break;
  }
  for (const std::string& note : d.notes) out += fmt::format("  note        {}\n", note);
  if (d.chain) {
    const Verification& v = d.verification;
    out += fmt::format("  experts     {}\n", experts_line(*d.chain));
    out += fmt::format("  slice       {}\n", slice_line(*d.chain));
    if (d.verdict == Verdict::exact) {
      out += fmt::format("  verified    {} of {} tiles byte for byte (every element that is not padding)\n",
                         thousands(v.matched), thousands(v.tiles));
    } else {
      out += fmt::format("  tiles       {} of {} match ({}); {} differ\n", thousands(v.matched), thousands(v.tiles),
                         percent(v.fraction()), thousands(v.tiles - v.matched));
      if (!v.first.empty()) out += "  first mismatching tiles (in the dump's logical coordinates):\n";
      for (const Mismatch& m : v.first) out += fmt::format("    {}\n", mismatch_line(kind, m));
    }
    if (!d.ambiguous_experts.empty()) {
      out += fmt::format("  experts     {} dump expert(s) match several checkpoint experts equally (identical "
                         "content); their pairing is not determined\n",
                         d.ambiguous_experts.size());
    }
    for (const Chain& alt : d.alternatives) out += fmt::format("  also exact  {}\n", chain_string(alt));
    if (d.verdict != Verdict::exact) {
      for (const ScoredChain& s : d.runners_up) {
        out += fmt::format("  runner-up   {} (probe score {})\n", chain_string(s.chain), percent(s.score));
      }
    }
  }
  out += fmt::format("  search      {} candidate chains screened, {} compared byte for byte, {:.2f} s\n",
                     d.candidates, d.verified, d.seconds);
  if (r.kernel) {
    const KernelRead& k = r.kernel->read;
    const std::string flags = flag_text(*r.kernel);
    const std::string head = flags.empty() ? "kernel read" : fmt::format("kernel read with {}", flags);
    if (d.verdict != Verdict::exact) {
      out += fmt::format("{}: not judged (no exact chain)\n", head);
    } else if (k.consistent) {
      out += fmt::format("{}: CONSISTENT (the kernel reads the checkpoint back)\n", head);
    } else {
      out += fmt::format("{}: INCONSISTENT\n  {}\n", head, k.reason);
      const std::string read_with = flag_text(*r.kernel, false);
      for (const matrix::Scenario& s : k.scenarios) {
        out += fmt::format("  this layout{} is historical scenario '{}': {}\n",
                           read_with.empty() ? "" : fmt::format(" read with {}", read_with), s.name, s.comment);
      }
    }
    if (!k.note.empty()) out += fmt::format("  note        {}\n", k.note);
  }
  return out;
}

nlohmann::json to_json(const WeightsReport& r) {
  const Diagnosis& d = r.diagnosis;
  nlohmann::json j;
  j["schema"] = "mxguard.diagnose.weights/1";
  j["tensor"] = r.tensor;
  j["checkpoint"] = {{"source", r.checkpoint_source},
                     {"dtype", std::string(dtype_name(r.checkpoint_dtype))},
                     {"shape", r.checkpoint_shape}};
  j["dump"] = {{"source", r.dump_source},
               {"tensor", r.dump_tensor},
               {"dtype", std::string(dtype_name(r.dump_dtype))},
               {"shape", r.dump_shape}};
  j["restrictions"] = nlohmann::json::object();
  if (r.tp) j["restrictions"]["tp"] = {{"value", r.tp->value}, {"from", r.tp->from}};
  if (r.ep) j["restrictions"]["ep"] = {{"value", r.ep->value}, {"from", r.ep->from}};
  j["verdict"] = std::string(verdict_name(d.verdict));
  j["chain"] = d.chain ? chain_json(*d.chain) : nlohmann::json(nullptr);
  j["tiles"] = {{"total", d.verification.tiles},
                {"matched", d.verification.matched},
                {"fraction", d.verification.fraction()}};
  nlohmann::json mismatches = nlohmann::json::array();
  for (const Mismatch& m : d.verification.first) {
    mismatches.push_back({{"dump_expert", m.dump_expert},
                          {"row_block", m.row_block},
                          {"col_block", m.col_block},
                          {"row", m.row},
                          {"col", m.col},
                          {"dump_offset", m.dump_offset},
                          {"dump_value", m.dump_value},
                          {"checkpoint_expert", m.checkpoint_expert},
                          {"checkpoint_row", m.source_row == LayoutMap::kZero ? nlohmann::json(nullptr)
                                                                               : nlohmann::json(m.source_row)},
                          {"checkpoint_col", m.source_col},
                          {"checkpoint_value", m.checkpoint_value}});
  }
  j["mismatches"] = mismatches;
  nlohmann::json alternatives = nlohmann::json::array();
  for (const Chain& c : d.alternatives) alternatives.push_back(chain_json(c));
  j["alternatives"] = alternatives;
  nlohmann::json runners = nlohmann::json::array();
  for (const ScoredChain& s : d.runners_up) runners.push_back({{"pipeline", chain_string(s.chain)}, {"score", s.score}});
  j["runners_up"] = runners;
  j["ambiguous_experts"] = d.ambiguous_experts;
  j["notes"] = d.notes;
  j["search"] = {{"candidates", d.candidates}, {"verified", d.verified}, {"seconds", d.seconds}};
  if (r.kernel) {
    const KernelRead& k = r.kernel->read;
    nlohmann::json scenarios = nlohmann::json::array();
    for (const matrix::Scenario& s : k.scenarios) scenarios.push_back({{"name", s.name}, {"comment", s.comment}});
    j["kernel_read"] = {
        {"gate_mode", r.kernel->gate_mode ? nlohmann::json{{"value", std::string(gate_mode_name(r.kernel->gate_mode->value))},
                                                           {"from", r.kernel->gate_mode->from}}
                                          : nlohmann::json(nullptr)},
        {"is_shuffled", r.kernel->is_shuffled ? nlohmann::json{{"value", r.kernel->is_shuffled->value},
                                                               {"from", r.kernel->is_shuffled->from}}
                                              : nlohmann::json(nullptr)},
        {"judged", d.verdict == Verdict::exact},
        {"consistent", k.consistent},
        {"reason", k.reason},
        {"scenarios", scenarios},
        {"note", k.note}};
  } else {
    j["kernel_read"] = nullptr;
  }
  j["exit_code"] = report_exit_code(r);
  return j;
}

}  // namespace mxg::diagnose::weights
