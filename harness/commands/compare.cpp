// `mxguard compare`: the comparison metrics of one tensor against a reference tensor, with the
// error attributed to experts and 16-row tiles when a routing is known. A measuring tool: it
// reports, it does not judge (exit 0 unless the input is bad).
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "harness/command.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/tensor/safetensors.hpp"
#include "reference/metrics.hpp"
#include "reference/routing.hpp"

namespace mxg::cli {
namespace {

struct CompareOptions {
  std::string a, b;
  std::string tensor = "y";
  std::optional<std::string> tensor_b, routing;
  bool json = false;
  std::int64_t top = 10;
};

// "[t, h]" for a flat index of a tensor of `shape`.
std::string coordinates(const Shape& shape, std::int64_t flat) {
  std::vector<std::int64_t> index(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return fmt::format("[{}]", fmt::join(index, ", "));
}

// JSON has no NaN or infinity: those statistics are written as null.
nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

int run_compare(const CompareOptions& o) {
  const SafetensorsFile fa = SafetensorsFile::open(o.a), fb = SafetensorsFile::open(o.b);
  const std::string name_b = o.tensor_b.value_or(o.tensor);
  const Tensor a = fa.get(o.tensor), b = fb.get(name_b);
  const std::string label_a = fmt::format("{}: tensor '{}'", o.a, o.tensor);
  const std::string label_b = fmt::format("{}: tensor '{}'", o.b, name_b);
  const ref::ErrorStats s = ref::compare_tensors(a, b, label_a, label_b);

  // Routing: --routing, else the reference file's own topk tensors (mxguard reference writes them).
  std::optional<ref::Routing> routing;
  std::string routing_source;
  if (o.routing || (fb.contains(ref::kTopkIdsName) && fb.contains(ref::kTopkWeightsName) && a.rank() == 2)) {
    const SafetensorsFile routing_file = o.routing ? SafetensorsFile::open(*o.routing) : fb;
    routing_source = routing_file.path().string();
    if (a.rank() != 2) {
      throw InputError(fmt::format("{}: shape {}: --routing needs a [tokens, hidden] tensor", label_a,
                                   shape_string(a.shape())));
    }
    routing = ref::routing_from_tensors(routing_file.get(ref::kTopkIdsName), routing_file.get(ref::kTopkWeightsName),
                                        a.dim(0), 0, 0, routing_source);
  }
  std::optional<ref::ErrorAttribution> attribution;
  if (routing) attribution = ref::attribute_error(a, b, *routing, o.top);

  const bool located = s.max_abs_index >= 0;
  if (o.json) {
    nlohmann::json j;
    j["a"] = {{"file", o.a}, {"tensor", o.tensor}, {"dtype", dtype_name(a.dtype())}, {"shape", a.shape()}};
    j["b"] = {{"file", o.b}, {"tensor", name_b}, {"dtype", dtype_name(b.dtype())}, {"shape", b.shape()}};
    j["elements"] = s.elements;
    j["finite_pairs"] = s.finite_pairs;
    j["nonfinite"] = {{"a", {{"nan", s.nan_test}, {"inf", s.inf_test}}}, {"b", {{"nan", s.nan_ref}, {"inf", s.inf_ref}}}};
    j["any_nonfinite"] = s.any_nonfinite();
    j["nmse"] = number(s.nmse);
    j["max_abs"] = number(s.max_abs);
    j["rms_b"] = number(s.rms_ref);
    j["max_rel"] = number(s.max_rel);
    j["cosine"] = number(s.cosine);
    if (located) {
      j["max_abs_at"] = {{"index", coordinates(a.shape(), s.max_abs_index)},
                         {"a", number(a.value_at(s.max_abs_index))},
                         {"b", number(b.value_at(s.max_abs_index))}};
    }
    if (attribution) {
      j["routing"] = routing_source;
      j["tile_rows"] = ref::kAttributionTileRows;
      for (const auto& t : attribution->tiles) {
        j["tiles"].push_back({{"expert", t.expert}, {"tile", t.tile}, {"share", t.share}, {"nonfinite", t.nonfinite}});
      }
      for (const auto& e : attribution->experts) {
        j["experts"].push_back({{"expert", e.expert}, {"tokens", e.tokens}, {"share", e.share}, {"nonfinite", e.nonfinite}});
      }
    }
    fmt::print("{}\n", j.dump(2));
    return exit_code::kPass;
  }

  fmt::print("A {} {} {}\nB {} {} {}\n", label_a, shape_string(a.shape()), dtype_name(a.dtype()), label_b,
             shape_string(b.shape()), dtype_name(b.dtype()));
  fmt::print("  non-finite  A: {} (NaN {}, Inf {})   B: {} (NaN {}, Inf {}){}\n", s.nonfinite_test(), s.nan_test,
             s.inf_test, s.nonfinite_ref(), s.nan_ref, s.inf_ref,
             s.any_nonfinite() ? "   <- statistics below are over finite pairs only" : "");
  fmt::print("  elements    {} ({} finite pairs)\n", s.elements, s.finite_pairs);
  fmt::print("  nmse        {:.6e}   (sum (A-B)^2 / sum B^2)\n", s.nmse);
  fmt::print("  max_rel     {:.6e}   (max |A-B| / RMS(B), RMS(B) = {:.6e})\n", s.max_rel, s.rms_ref);
  fmt::print("  cosine      {:.12f}\n", s.cosine);
  if (located) {
    fmt::print("  max |A-B|   {:.6e} at {}: A = {:.9g}, B = {:.9g}\n", s.max_abs, coordinates(a.shape(), s.max_abs_index),
               a.value_at(s.max_abs_index), b.value_at(s.max_abs_index));
  }
  if (attribution) {
    fmt::print("  error by expert / tile of {} hidden rows (routing: {}; error share = sum w^2 (A-B)^2):\n",
               ref::kAttributionTileRows, routing_source);
    if (attribution->tiles.empty()) fmt::print("    no error anywhere\n");
    for (const auto& t : attribution->tiles) {
      fmt::print("    expert {:>4} tile {:>4} (rows {:>5}..{:<5}) share {:.4f}{}\n", t.expert, t.tile,
                 t.tile * ref::kAttributionTileRows, t.tile * ref::kAttributionTileRows + ref::kAttributionTileRows - 1,
                 t.share, t.nonfinite ? fmt::format("  non-finite {}", t.nonfinite) : "");
    }
    std::size_t shown = 0;
    for (const auto& e : attribution->experts) {
      if (shown++ == static_cast<std::size_t>(o.top)) break;
      fmt::print("    expert {:>4}: {} tokens, share {:.4f}{}\n", e.expert, e.tokens, e.share,
                 e.nonfinite ? fmt::format(", non-finite {}", e.nonfinite) : "");
    }
  }
  return exit_code::kPass;
}

}  // namespace

void add_compare_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<CompareOptions>();
  auto* cmd = app.add_subcommand(
      "compare",
      "Print the comparison metrics of tensor A against reference B (NMSE, max |A-B| / RMS(B), cosine,\n"
      "NaN/Inf counts) and, given a routing, the experts and 16-row tiles where the error sits.");
  cmd->add_option("A", o->a, "Safetensors file under test (e.g. a kernel's output)")->required();
  cmd->add_option("B", o->b, "Reference safetensors file (e.g. from `mxguard reference`)")->required();
  cmd->add_option("--tensor", o->tensor, "Tensor name in A (and in B unless --tensor-b)")->capture_default_str();
  cmd->add_option("--tensor-b", o->tensor_b, "Tensor name in B");
  cmd->add_option("--routing", o->routing,
                  "Safetensors with topk_ids/topk_weights [T, k] for the attribution (default: B's own, if present)");
  cmd->add_option("--top", o->top, "How many worst tiles and experts to list")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_flag("--json", o->json, "Print one JSON object instead of text (non-finite statistics are null)");
  cmd->footer(
      "Non-finite values are counted first; the statistics are over pairs where both values are finite.\n"
      "Examples:\n"
      "  mxguard compare kernel_y.safetensors ref.safetensors --tensor y\n"
      "  mxguard compare out.safetensors ref.safetensors --tensor y_kernel --tensor-b y --json\n"
      "Exit codes: 0 measured (whatever the numbers), 2 bad input.");
  cmd->callback([&action, o] { action = [o] { return run_compare(*o); }; });
}

}  // namespace mxg::cli
