// Dump sidecar: a complete version-1 document read field by field, the sidecar found beside its
// dump, tensor_info's lookups, and one damaged document per rule whose message names the field.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/diagnose/dump/dump_file.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/tensor/safetensors.hpp"
#include "reference/tests/temp_dir.hpp"

namespace mxg::diagnose {
namespace {

using ojson = nlohmann::ordered_json;
using ref::testing::TempDir;

// A complete sidecar as ci/tools/README.md documents it.
ojson full_sidecar() {
  return ojson::parse(R"({
    "format": "mxguard-moe-dump",
    "version": 1,
    "created_by": "ci/tools/dump_moe_weights.py 1",
    "framework": "sglang",
    "layer": 3,
    "module": "model.layers.3.mlp.experts",
    "module_class": "FusedMoE",
    "module_attributes": {"quant_method.with_bias": true, "hidden_size": 2880},
    "gate_mode": "interleave",
    "gate_mode_source": "env SGLANG_USE_AITER_MOE_GU_ITLV=1",
    "tp_size": 8,
    "tp_rank": 2,
    "ep_size": 1,
    "ep_rank": 0,
    "environment": {"SGLANG_USE_AITER_MOE_GU_ITLV": "1", "SGLANG_USE_AITER": "1"},
    "tensors": {
      "model.layers.3.mlp.experts.w13_weight": {
        "parameter": "w13_weight",
        "dtype_in_process": "torch.float4_e2m1fn_x2",
        "shape_in_process": [128, 1024, 1536],
        "dtype_saved": "U8",
        "shape_saved": [128, 1024, 1536],
        "is_shuffled": true,
        "attributes": {"weight_loader": "<function weight_loader>", "quant_method": "mxfp4"}
      },
      "model.layers.3.mlp.experts.w13_weight_bias": {
        "parameter": "w13_weight_bias",
        "dtype_in_process": "torch.float32",
        "shape_in_process": [128, 1024],
        "dtype_saved": "F32",
        "shape_saved": [128, 1024],
        "is_shuffled": null
      },
      "model.layers.4.mlp.experts.w13_weight": {
        "parameter": "w13_weight",
        "dtype_in_process": "torch.uint8",
        "shape_in_process": [4],
        "dtype_saved": "U8",
        "shape_saved": [4],
        "is_shuffled": false,
        "attributes": {}
      }
    }
  })");
}

DumpSidecar parse(const ojson& doc) { return parse_dump_sidecar(doc.dump(), "side.json"); }

std::string parse_error_text(const std::string& text) {
  try {
    parse_dump_sidecar(text, "side.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
std::string parse_error(const ojson& doc) { return parse_error_text(doc.dump()); }

TEST(DumpSidecar, ReadsEveryField) {
  const DumpSidecar s = parse(full_sidecar());
  EXPECT_EQ(s.path, "side.json");
  EXPECT_EQ(s.version, 1);
  EXPECT_EQ(s.framework, "sglang");
  EXPECT_EQ(s.layer, 3);
  EXPECT_EQ(s.module, "model.layers.3.mlp.experts");
  EXPECT_EQ(s.module_class, "FusedMoE");
  EXPECT_EQ(s.module_attributes.at("hidden_size"), 2880);
  EXPECT_EQ(s.module_attributes.at("quant_method.with_bias"), true);
  EXPECT_EQ(s.gate_mode, GateMode::Interleave);
  EXPECT_EQ(s.gate_mode_source, "env SGLANG_USE_AITER_MOE_GU_ITLV=1");
  EXPECT_EQ(s.tp_size, 8);
  EXPECT_EQ(s.tp_rank, 2);
  EXPECT_EQ(s.ep_size, 1);
  EXPECT_EQ(s.ep_rank, 0);
  EXPECT_EQ(s.environment, (std::map<std::string, std::string>{{"SGLANG_USE_AITER", "1"},
                                                              {"SGLANG_USE_AITER_MOE_GU_ITLV", "1"}}));
  ASSERT_EQ(s.tensors.size(), 3u);
  const SidecarTensor& w = s.tensors[0];  // file order is kept
  EXPECT_EQ(w.name, "model.layers.3.mlp.experts.w13_weight");
  EXPECT_EQ(w.parameter, "w13_weight");
  EXPECT_EQ(w.dtype_in_process, "torch.float4_e2m1fn_x2");
  EXPECT_EQ(w.shape_in_process, (Shape{128, 1024, 1536}));
  EXPECT_EQ(w.dtype_saved, "U8");
  EXPECT_EQ(w.shape_saved, (Shape{128, 1024, 1536}));
  EXPECT_EQ(w.is_shuffled, true);
  EXPECT_EQ(w.attributes.at("quant_method"), "mxfp4");
  EXPECT_EQ(s.tensors[1].is_shuffled, std::nullopt);
  EXPECT_TRUE(s.tensors[1].attributes.is_object() && s.tensors[1].attributes.empty());
  EXPECT_EQ(s.tensors[2].is_shuffled, false);
}

TEST(DumpSidecar, OptionalFieldsMayBeNullOrAbsent) {
  ojson doc = full_sidecar();
  for (const char* key : {"layer", "module_class", "gate_mode", "gate_mode_source", "tp_size", "tp_rank", "ep_size",
                          "ep_rank", "environment", "created_by", "module_attributes"}) {
    doc[key] = nullptr;
  }
  doc.erase("created_by");
  doc["tensors"]["model.layers.3.mlp.experts.w13_weight"].erase("is_shuffled");
  doc["tensors"]["model.layers.3.mlp.experts.w13_weight"].erase("attributes");
  const DumpSidecar s = parse(doc);
  EXPECT_EQ(s.layer, std::nullopt);
  EXPECT_EQ(s.gate_mode, std::nullopt);
  EXPECT_EQ(s.module_class, "");
  EXPECT_EQ(s.gate_mode_source, "");
  EXPECT_EQ(s.tp_size, std::nullopt);
  EXPECT_EQ(s.tp_rank, std::nullopt);
  EXPECT_TRUE(s.environment.empty());
  EXPECT_TRUE(s.module_attributes.is_object() && s.module_attributes.empty());
  EXPECT_EQ(s.tensors[0].is_shuffled, std::nullopt);
  EXPECT_EQ(parse([] { ojson d = full_sidecar(); d["gate_mode"] = "separated"; return d; }()).gate_mode,
            GateMode::Separated);
}

struct BadCase {
  std::string name;
  std::function<void(ojson&)> damage;
  std::string expected;  // a substring of the message
};

const std::string kW13 = "model.layers.3.mlp.experts.w13_weight";

ojson& tensor(ojson& d) { return d["tensors"][kW13]; }

std::vector<BadCase> bad_cases() {
  return {
      {"tp_rank_too_big", [](ojson& d) { d["tp_rank"] = 9; }, "field 'tp_rank' = 9 must be < tp_size 8"},
      {"ep_rank_too_big", [](ojson& d) { d["ep_size"] = 2; d["ep_rank"] = 2; }, "field 'ep_rank' = 2 must be < ep_size 2"},
      {"tp_rank_without_size", [](ojson& d) { d["tp_size"] = nullptr; }, "field 'tp_rank' = 2 is given without tp_size"},
      {"tp_size_zero", [](ojson& d) { d["tp_size"] = 0; }, "field 'tp_size' = 0 must be >= 1"},
      {"tp_rank_negative", [](ojson& d) { d["tp_rank"] = -1; }, "field 'tp_rank' = -1 must be >= 0"},
      {"tp_size_string", [](ojson& d) { d["tp_size"] = "8"; }, "field 'tp_size' = \"8\" is not an integer"},
      {"tp_size_float", [](ojson& d) { d["tp_size"] = 8.5; }, "field 'tp_size' = 8.5 is not an integer"},
      {"tp_size_huge", [](ojson& d) { d["tp_size"] = 18446744073709551615ull; }, "field 'tp_size' = 18446744073709551615 is too large"},
      {"layer_negative", [](ojson& d) { d["layer"] = -3; }, "field 'layer' = -3 must be >= 0"},
      {"format_wrong", [](ojson& d) { d["format"] = "safetensors"; }, "field 'format' = \"safetensors\" is not \"mxguard-moe-dump\""},
      {"format_missing", [](ojson& d) { d.erase("format"); }, "field 'format' is missing"},
      {"version_2", [](ojson& d) { d["version"] = 2; }, "field 'version' = 2 is not supported"},
      {"version_string", [](ojson& d) { d["version"] = "1"; }, "field 'version' = \"1\" is not supported"},
      {"version_missing", [](ojson& d) { d.erase("version"); }, "field 'version' is missing"},
      {"framework_missing", [](ojson& d) { d.erase("framework"); }, "field 'framework' is missing"},
      {"framework_empty", [](ojson& d) { d["framework"] = ""; }, "field 'framework' = \"\" is empty"},
      {"module_number", [](ojson& d) { d["module"] = 3; }, "field 'module' = 3 is not a string"},
      {"module_missing", [](ojson& d) { d.erase("module"); }, "field 'module' is missing"},
      {"module_attributes_list", [](ojson& d) { d["module_attributes"] = ojson::array({2}); },
       "field 'module_attributes' = [2] is not an object"},
      {"unknown_key", [](ojson& d) { d["tp"] = 8; }, "field 'tp' is not part of a version 1 sidecar"},
      {"gate_mode_bad", [](ojson& d) { d["gate_mode"] = "both"; }, "field 'gate_mode' = \"both\" is not \"separated\""},
      {"environment_list", [](ojson& d) { d["environment"] = ojson::array(); }, "field 'environment' = [] is not an object"},
      {"environment_value_number", [](ojson& d) { d["environment"]["X"] = 1; }, "field 'environment.X' = 1 is not a string"},
      {"tensors_missing", [](ojson& d) { d.erase("tensors"); }, "field 'tensors' is missing"},
      {"tensors_empty", [](ojson& d) { d["tensors"] = ojson::object(); }, "field 'tensors' = {} is empty"},
      {"tensors_list", [](ojson& d) { d["tensors"] = ojson::array({1}); }, "field 'tensors' = [1] is not an object"},
      {"tensor_not_object", [](ojson& d) { tensor(d) = 5; }, "field 'tensors['" + kW13 + "']' = 5 is not an object"},
      {"tensor_parameter_missing", [](ojson& d) { tensor(d).erase("parameter"); },
       "field 'tensors['" + kW13 + "'].parameter' is missing"},
      {"tensor_unknown_key", [](ojson& d) { tensor(d)["is_shufled"] = true; },
       "field 'tensors['" + kW13 + "'].is_shufled' is not part of a version 1 sidecar"},
      {"tensor_is_shuffled_string", [](ojson& d) { tensor(d)["is_shuffled"] = "yes"; },
       "field 'tensors['" + kW13 + "'].is_shuffled' = \"yes\" is not true, false or null"},
      {"tensor_dtype_saved_unknown", [](ojson& d) { tensor(d)["dtype_saved"] = "F8_E4M3"; },
       "field 'tensors['" + kW13 + "'].dtype_saved' = \"F8_E4M3\" is not a safetensors dtype"},
      {"tensor_shape_negative", [](ojson& d) { tensor(d)["shape_saved"][1] = -1; },
       "field 'tensors['" + kW13 + "'].shape_saved[1]' = -1 must be >= 0"},
      {"tensor_shape_not_list", [](ojson& d) { tensor(d)["shape_in_process"] = 7; },
       "field 'tensors['" + kW13 + "'].shape_in_process' = 7 is not a list of dimensions"},
      {"tensor_attributes_list", [](ojson& d) { tensor(d)["attributes"] = ojson::array(); },
       "field 'tensors['" + kW13 + "'].attributes' = [] is not an object"},
  };
}

TEST(DumpSidecar, EveryRuleNamesTheFieldAndValue) {
  for (const BadCase& bc : bad_cases()) {
    SCOPED_TRACE(bc.name);
    ojson doc = full_sidecar();
    bc.damage(doc);
    const std::string m = parse_error(doc);
    ASSERT_FALSE(m.empty()) << "parsed without error";
    EXPECT_EQ(m.rfind("side.json: ", 0), 0u) << m;
    EXPECT_NE(m.find(bc.expected), std::string::npos) << m;
  }
}

TEST(DumpSidecar, RefusesNonJsonNonObjectsAndDuplicateKeys) {
  EXPECT_NE(parse_error_text("{\"format\": ").find("side.json: not valid JSON"), std::string::npos);
  EXPECT_NE(parse_error_text("[1, 2]").find("side.json: not a JSON object"), std::string::npos);
  std::string text = full_sidecar().dump();
  text.insert(1, "\"tp_rank\": 0, ");  // the later 2 must not silently win
  EXPECT_NE(parse_error_text(text).find("field 'tp_rank' is given twice"), std::string::npos) << parse_error_text(text);
  std::string nested = full_sidecar().dump();
  nested.replace(nested.find("\"parameter\""), 0, "\"dtype_saved\": \"U8\", ");
  EXPECT_NE(parse_error_text(nested).find("field 'dtype_saved' is given twice"), std::string::npos)
      << parse_error_text(nested);
}

TEST(DumpSidecar, TensorInfoByNameSuffixOrParameter) {
  const DumpSidecar s = parse(full_sidecar());
  EXPECT_EQ(tensor_info(s, kW13), &s.tensors[0]);
  // Two entries are "w13_weight" (layers 3 and 4): ambiguous without the full name.
  EXPECT_EQ(tensor_info(s, "w13_weight"), nullptr);
  EXPECT_EQ(tensor_info(s, "w13_weight_bias"), &s.tensors[1]);  // by suffix and by parameter alike
  EXPECT_EQ(tensor_info(s, "experts.w13_weight_bias"), &s.tensors[1]);
  EXPECT_EQ(tensor_info(s, "weight_bias"), nullptr);  // a suffix must start after a '.'
  EXPECT_EQ(tensor_info(s, "w2_weight"), nullptr);
}

TEST(DumpSidecar, FoundBesideTheDumpAndCheckedAgainstIt) {
  TempDir dir;
  const auto dump = dir / "layer3.safetensors";
  ojson doc = full_sidecar();
  tensor(doc)["shape_saved"] = {2, 3, 4};
  const Tensor w(DType::U8, {2, 3, 4});
  EXPECT_EQ(dump_sidecar_path(dump), dir / "layer3.safetensors.json");
  EXPECT_EQ(find_dump_sidecar(dump), std::nullopt);

  std::ofstream(dump_sidecar_path(dump)) << doc.dump(2);
  const auto found = find_dump_sidecar(dump);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->path, dir / "layer3.safetensors.json");
  const SidecarTensor* info = tensor_info(*found, kW13);
  ASSERT_NE(info, nullptr);
  EXPECT_NO_THROW(check_sidecar_matches(*found, *info, w));
  try {
    check_sidecar_matches(*found, *info, Tensor(DType::I8, {2, 3, 4}));
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("layer3.safetensors.json: tensor '" + kW13 + "'"), std::string::npos) << m;
    EXPECT_NE(m.find("the sidecar says U8 [2, 3, 4]"), std::string::npos) << m;
    EXPECT_NE(m.find("the dump holds I8 [2, 3, 4]"), std::string::npos) << m;
  }
  try {
    check_sidecar_matches(*found, *info, Tensor(DType::U8, {2, 3, 5}));
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("the dump holds U8 [2, 3, 5]"), std::string::npos) << e.what();
  }

  std::ofstream(dump_sidecar_path(dump)) << "{\"format\": \"mxguard-moe-dump\", \"version\": 7}";
  try {
    find_dump_sidecar(dump);
    FAIL() << "a damaged sidecar must not be ignored";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("field 'version' = 7"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mxg::diagnose
