// The JSON sidecar ci/tools/dump_moe_weights.py writes beside a dump ("<dump file>.json", e.g.
// layer3.safetensors.json): what the serving process knew about the tensors that the bytes alone
// do not say — the torch dtype before the uint8 view, the `is_shuffled` attribute, the gate mode,
// tp / ep rank and size. Schema: ci/tools/README.md ("format": "mxguard-moe-dump", "version": 1).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/backend/fused_moe.hpp"
#include "kernels/tensor/tensor.hpp"

namespace mxg::diagnose {

inline constexpr std::string_view kDumpSidecarFormat = "mxguard-moe-dump";
inline constexpr int kDumpSidecarVersion = 1;

// One dumped tensor as the process held it.
struct SidecarTensor {
  std::string name;                  // the tensor's name in the dump file (key of "tensors")
  std::string parameter;             // the module attribute it came from ("w13_weight")
  std::string dtype_in_process;      // "torch.float4_e2m1fn_x2"
  Shape shape_in_process;
  std::string dtype_saved;           // safetensors dtype of the dump ("U8")
  Shape shape_saved;
  std::optional<bool> is_shuffled;   // the Python attribute; nullopt: not set on the parameter
  nlohmann::json attributes = nlohmann::json::object();  // other non-tensor attributes, as recorded
};

struct DumpSidecar {
  std::filesystem::path path;
  int version = kDumpSidecarVersion;
  std::string framework;                   // "sglang" | "vllm" | "unknown"
  std::optional<std::int64_t> layer;       // >= 0
  std::string module;                      // "model.layers.3.mlp.experts"; "" when the module was passed directly
  std::string module_class;                // "FusedMoE"
  // Layout-relevant plain attributes of the module ("quant_method.X" for its quant method's).
  nlohmann::json module_attributes = nlohmann::json::object();
  std::optional<GateMode> gate_mode;       // what the process would run with, when it could tell
  std::string gate_mode_source;            // how it was told ("env SGLANG_USE_AITER_MOE_GU_ITLV=1"); "" if unknown
  // tp: the process's whole tensor-parallel group (server --tp-size); ep: expert parallelism. The
  // experts' intermediate split is tp_size / ep_size (SGLang's moe_tp_size). 0 <= rank < size.
  std::optional<std::int64_t> tp_size, tp_rank, ep_size, ep_rank;
  std::map<std::string, std::string> environment;  // layout-relevant variables that were set
  std::vector<SidecarTensor> tensors;              // in file order
};

// Reads and validates every field. InputError "FILE: field 'tp_rank' = 9 must be < tp_size 8".
DumpSidecar read_dump_sidecar(const std::filesystem::path& path);
// Same, from JSON text already read (LABEL names it in errors; `path` of the result is LABEL).
DumpSidecar parse_dump_sidecar(std::string_view json_text, const std::filesystem::path& label);

// Where the sidecar of DUMP_PATH lives: DUMP_PATH with ".json" appended.
std::filesystem::path dump_sidecar_path(const std::filesystem::path& dump_path);
// The sidecar beside DUMP_PATH, read and validated; nullopt when there is none.
std::optional<DumpSidecar> find_dump_sidecar(const std::filesystem::path& dump_path);

// The sidecar's entry for a dump tensor: by exact name, else the one entry whose name ends with
// ".<NAME>" or whose `parameter` equals NAME (a .npy named after the parameter); nullptr if none
// or several.
const SidecarTensor* tensor_info(const DumpSidecar& sidecar, std::string_view dump_tensor_name);

// InputError when the sidecar's dtype_saved / shape_saved disagree with the tensor actually read
// (a sidecar left over from another dump).
void check_sidecar_matches(const DumpSidecar& sidecar, const SidecarTensor& info, const Tensor& tensor);

}  // namespace mxg::diagnose
