// Resolution of tensor names across checkpoint files, shard indexes and folders.
#include "reference/checkpoint.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "kernels/common/bounded_json.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::ref {

namespace {

namespace fs = std::filesystem;
constexpr std::string_view kIndexName = "model.safetensors.index.json";
constexpr std::size_t kNamesShown = 12;

bool is_index_file(const fs::path& p) { return p.extension() == ".json"; }

std::map<std::string, fs::path, std::less<>> read_index(const fs::path& index) {
  const nlohmann::json doc = json_read::parse_file(index.string());  // bounded; duplicate keys refused
  if (!doc.is_object() || !doc.contains("weight_map") || !doc["weight_map"].is_object()) {
    throw InputError(fmt::format("{}: field 'weight_map' is missing or not an object", index.string()));
  }
  std::map<std::string, fs::path, std::less<>> map;
  for (const auto& [name, file] : doc["weight_map"].items()) {
    if (!file.is_string()) {
      throw InputError(fmt::format("{}: weight_map['{}'] is not a file name", index.string(), name));
    }
    // Shard names are relative to the index's folder.
    map.emplace(name, index.parent_path() / file.get<std::string>());
  }
  return map;
}

}  // namespace

CheckpointSet CheckpointSet::open(const std::vector<fs::path>& sources) {
  if (sources.empty()) throw InputError("--checkpoint: no checkpoint given");
  CheckpointSet set;
  for (const fs::path& given : sources) {
    Source s;
    s.given = given;
    std::error_code ec;
    if (fs::is_directory(given, ec)) {
      if (fs::exists(given / kIndexName)) {
        s.weight_map = read_index(given / kIndexName);
      } else {
        for (const auto& entry : fs::directory_iterator(given)) {
          if (entry.path().extension() == ".safetensors") s.files.push_back(entry.path());
        }
        std::ranges::sort(s.files);
        if (s.files.empty()) {
          throw InputError(fmt::format("{}: folder has neither {} nor any .safetensors file", given.string(),
                                       kIndexName));
        }
      }
    } else if (!fs::exists(given, ec)) {
      throw InputError(fmt::format("{}: checkpoint does not exist", given.string()));
    } else if (is_index_file(given)) {
      s.weight_map = read_index(given);
    } else {
      s.files.push_back(given);
      set.file(given);  // open now: a bad file is reported before any computation
    }
    set.sources_.push_back(std::move(s));
  }
  return set;
}

const SafetensorsFile& CheckpointSet::file(const fs::path& path) const {
  auto it = opened_.find(path);
  if (it == opened_.end()) {
    it = opened_.emplace(path, std::make_shared<SafetensorsFile>(SafetensorsFile::open(path))).first;
  }
  return *it->second;
}

bool CheckpointSet::contains(std::string_view name) const {
  for (const Source& s : sources_) {
    if (s.weight_map.contains(name)) return true;
    for (const fs::path& f : s.files) {
      if (file(f).contains(name)) return true;
    }
  }
  return false;
}

CheckpointSet::Found CheckpointSet::get(std::string_view name) const {
  std::vector<std::string> seen;  // the names present, for the error message
  for (const Source& s : sources_) {
    if (auto it = s.weight_map.find(name); it != s.weight_map.end()) {
      return {file(it->second).get(name), it->second};
    }
    for (const auto& [n, f] : s.weight_map) seen.push_back(n);
    for (const fs::path& f : s.files) {
      const SafetensorsFile& st = file(f);
      if (st.contains(name)) return {st.get(name), f};
      seen.insert(seen.end(), st.names().begin(), st.names().end());
    }
  }
  // Names of the same layer are the most useful hint: list those first when there are any.
  const std::string_view prefix = name.substr(0, name.find(".mlp."));
  std::ranges::stable_partition(seen, [&](const std::string& n) { return n.starts_with(prefix); });
  const std::size_t more = seen.size() > kNamesShown ? seen.size() - kNamesShown : 0;
  seen.resize(seen.size() - more);
  throw InputError(fmt::format("tensor '{}' not found in {} (found: {}{})", name, describe_sources(),
                               seen.empty() ? "none" : fmt::format("{}", fmt::join(seen, ", ")),
                               more ? fmt::format(", ... ({} more)", more) : ""));
}

std::string CheckpointSet::describe_sources() const {
  std::vector<std::string> parts;
  for (const Source& s : sources_) {
    if (!s.weight_map.empty()) {
      std::vector<fs::path> shards;
      for (const auto& [n, f] : s.weight_map) shards.push_back(f);
      std::ranges::sort(shards);
      const auto unique = std::ranges::unique(shards);
      parts.push_back(fmt::format("{} ({} files)", s.given.string(), std::distance(shards.begin(), unique.begin())));
    } else if (s.files.size() == 1 && s.files[0] == s.given) {
      parts.push_back(s.given.string());
    } else {
      parts.push_back(fmt::format("{} ({} files)", s.given.string(), s.files.size()));
    }
  }
  return fmt::format("{}", fmt::join(parts, ", "));
}

fs::path CheckpointSet::first_folder() const {
  const fs::path& p = sources_.front().given;
  std::error_code ec;
  return fs::is_directory(p, ec) ? p : p.parent_path();
}

std::string expert_tensor_name(std::int64_t layer, std::string_view suffix) {
  return fmt::format("model.layers.{}.mlp.experts.{}", layer, suffix);
}

std::string router_tensor_name(std::int64_t layer, std::string_view suffix) {
  return fmt::format("model.layers.{}.mlp.router.{}", layer, suffix);
}

MoeWeights load_layer_weights(const CheckpointSet& checkpoint, std::int64_t layer, bool with_router) {
  MoeWeights w;
  auto load = [&](const std::string& name, Tensor& tensor, std::string& label) {
    CheckpointSet::Found found = checkpoint.get(name);
    tensor = std::move(found.tensor);
    label = fmt::format("{}: tensor '{}'", found.file.string(), name);
  };
  WeightLabels& l = w.labels;
  load(expert_tensor_name(layer, "gate_up_proj_blocks"), w.w13_blocks, l.w13_blocks);
  load(expert_tensor_name(layer, "gate_up_proj_scales"), w.w13_scales, l.w13_scales);
  load(expert_tensor_name(layer, "gate_up_proj_bias"), w.w13_bias, l.w13_bias);
  load(expert_tensor_name(layer, "down_proj_blocks"), w.w2_blocks, l.w2_blocks);
  load(expert_tensor_name(layer, "down_proj_scales"), w.w2_scales, l.w2_scales);
  load(expert_tensor_name(layer, "down_proj_bias"), w.w2_bias, l.w2_bias);
  if (with_router) {
    load(router_tensor_name(layer, "weight"), w.router_weight, l.router_weight);
    load(router_tensor_name(layer, "bias"), w.router_bias, l.router_bias);
  }
  return w;
}

}  // namespace mxg::ref
