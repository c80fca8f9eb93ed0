// A matrix case as loaded from cases/*.json: shapes, token counts, routing and input
// distributions, seeds, tolerances and which dimension values to sweep. Loading validates the
// file against cases/schema/case.schema.json; errors name the file and the JSON pointer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reports/result.hpp"

namespace mxg::matrix {

// One tensor-parallel rank of a model's MoE layer. `intermediate` is the model's full I; the rank's
// slice and padding follow LAYOUTS.md §4 (computed by kernels/layout's TP plan).
struct ShapeSpec {
  std::string name;             // e.g. "gptoss120b-tp8-r7" or "small-h128-tp2-r1"
  std::string model;            // "gptoss20b", "gptoss120b" or "custom"
  std::int64_t hidden = 0;      // H
  std::int64_t intermediate = 0;  // I (whole model)
  std::int64_t experts = 0;     // E (routing range)
  std::int64_t topk = 0;        // k
  int tp = 1;
  int rank = 0;
  float swiglu_limit = 7.0f;
  float alpha = 1.702f;
};

// "<base>-tp<tp>-r<rank>", the name every expanded shape carries.
std::string shape_name(std::string_view base, int tp, int rank);
// A GPT-OSS model ("gptoss20b" or "gptoss120b") at one TP rank (LAYOUTS.md §2 sizes).
// Throws InputError for another model name.
ShapeSpec model_shape(std::string_view model, int tp, int rank);

enum class Routing : std::uint8_t { Uniform, Skewed, OneExpert, SomeEmpty };
enum class InputDist : std::uint8_t { Normal, Outliers, ZeroBlocks, ExtremeScales, NanScale };
std::string routing_name(Routing r);       // "uniform", "skewed", "one-expert", "some-empty"
std::string input_dist_name(InputDist d);  // "normal", "outliers", "zero-blocks", "extreme-scales", "nan-scale"
std::optional<Routing> parse_routing(std::string_view name);
std::optional<InputDist> parse_input_dist(std::string_view name);

struct CaseSpec {
  std::filesystem::path file;
  std::string name;     // unique across loaded files
  std::string family = "aiter";  // kernel family: aiter | ggml (which dimensions, which kernels)
  std::string tier;     // quick | premerge | nightly
  std::string comment;  // why this case exists (issue/PR for regressions)
  std::vector<ShapeSpec> shapes;  // expanded: "ranks": "all" gives one entry per rank
  std::vector<std::int64_t> tokens;
  std::vector<Routing> routings;
  std::vector<InputDist> inputs;
  std::vector<std::uint64_t> seeds;
  report::Tolerance tolerance;
  std::string tolerance_note;  // the calibration behind the numbers
  // Dimension name -> allowed values (a subset of each dimension's values); absent = all.
  // Values are the dimension's value names; is_shuffled's JSON booleans become "true" / "false".
  std::map<std::string, std::vector<std::string>> dimensions;
};

// Loads files and directories; a directory contributes every *.json below it (recursively,
// sorted by path, skipping any directory named "schema"). Throws mxg::InputError on the first
// violation: "FILE: /json/pointer: expected X, found Y" (schema and semantic checks alike),
// "FILE:LINE:COLUMN: not valid JSON (byte B): ..." for a syntax error.
std::vector<CaseSpec> load_cases(const std::vector<std::filesystem::path>& paths);

}  // namespace mxg::matrix
