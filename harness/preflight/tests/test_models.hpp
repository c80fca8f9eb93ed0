// The GPT-OSS model configs the preflight tests share (public dimensions, LAYOUTS.md §2).
#pragma once

#include "harness/preflight/model_config.hpp"

namespace mxg::preflight::testing {

inline ModelConfig gptoss(std::int64_t experts) {
  ModelConfig m;
  m.source = experts == 32 ? "gpt-oss-20b/config.json" : "gpt-oss-120b/config.json";
  m.model_type = "gpt_oss";
  m.hidden = 2880;
  m.intermediate = 2880;
  m.experts = experts;
  m.experts_per_token = 4;
  m.quant_method = "mxfp4";
  m.swiglu_limit = 7.0;
  return m;
}

}  // namespace mxg::preflight::testing
