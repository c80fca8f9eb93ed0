// Safetensors reader: maps the file read-only and validates every header field before any
// tensor can be viewed, so a corrupt or hostile file ends in InputError, never a bad access.
#include "kernels/tensor/safetensors.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <set>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "kernels/common/bounded_json.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/tensor/mapped_file.hpp"

namespace mxg {

namespace {

using json = nlohmann::json;

constexpr std::uint64_t kLengthBytes = 8;
// The reference implementation refuses headers above 100 MB; so do we, before touching them.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;
constexpr std::size_t kMaxNamesListed = 20;
constexpr std::size_t kMaxValueChars = 80;
constexpr const char* kMetadataKey = "__metadata__";

[[noreturn]] void fail(const std::filesystem::path& path, std::string_view what) {
  throw InputError(fmt::format("{}: {}", path.string(), what));
}

[[noreturn]] void fail_tensor(const std::filesystem::path& path, std::string_view name, std::string_view what) {
  throw InputError(fmt::format("{}: tensor '{}': {}", path.string(), name, what));
}

// A JSON value for an error message: compact, and cut short so one line stays one line.
std::string show(const json& value) { return json_read::show(value, kMaxValueChars); }

std::uint64_t read_u64_le(const std::byte* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t{std::to_integer<std::uint8_t>(p[i])} << (8 * i);
  return v;
}

// Parses the header text through the bounded reader: duplicate keys refused (JSON parsers silently
// keep the last one, which would make two readers of the same file disagree), nesting bounded,
// linear in the number of tensors.
json parse_header(const std::filesystem::path& path, std::string_view text) {
  json header = json_read::parse(text, fmt::format("{}: header", path.string()),
                                 json_read::Limits{.max_bytes = kMaxHeaderBytes, .max_depth = 16});
  if (!header.is_object()) fail(path, fmt::format("header is not a JSON object, {}", show(header)));
  return header;
}

std::map<std::string, std::string> parse_metadata(const std::filesystem::path& path, const json& value) {
  if (!value.is_object()) fail(path, fmt::format("{} is not an object, {}", kMetadataKey, show(value)));
  std::map<std::string, std::string> out;
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) {
      fail(path, fmt::format("{}: value of '{}' is not a string, {}", kMetadataKey, key, show(item)));
    }
    out.emplace(key, item.get<std::string>());
  }
  return out;
}

// Dimensions must be non-negative integers whose running product fits in int64 (Shape's type and
// shape_numel's accumulator), even when a later dimension is 0.
Shape parse_shape(const std::filesystem::path& path, const std::string& name, const json& value) {
  if (!value.is_array()) fail_tensor(path, name, fmt::format("shape is not an array, {}", show(value)));
  Shape shape;
  std::int64_t running = 1;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const json& d = value[i];
    if (d.is_number_integer() && !d.is_number_unsigned()) {
      fail_tensor(path, name, fmt::format("dimension {} is negative, {}", i, show(d)));
    }
    if (!d.is_number_unsigned()) {
      fail_tensor(path, name, fmt::format("dimension {} is not a non-negative integer, {}", i, show(d)));
    }
    const auto dim = d.get<std::uint64_t>();
    if (dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) ||
        __builtin_mul_overflow(running, static_cast<std::int64_t>(dim), &running)) {
      fail_tensor(path, name, fmt::format("shape has too many elements, {}", show(value)));
    }
    shape.push_back(static_cast<std::int64_t>(dim));
  }
  return shape;
}

struct Offsets {
  std::uint64_t begin, end;  // relative to the data section
};

Offsets parse_offsets(const std::filesystem::path& path, const std::string& name, const json& value,
                      std::uint64_t data_size) {
  if (!value.is_array() || value.size() != 2 || !value[0].is_number_unsigned() || !value[1].is_number_unsigned()) {
    fail_tensor(path, name, fmt::format("data_offsets is not [begin, end] of non-negative integers, {}", show(value)));
  }
  const Offsets o{value[0].get<std::uint64_t>(), value[1].get<std::uint64_t>()};
  if (o.begin > o.end) fail_tensor(path, name, fmt::format("data_offsets begin > end, [{}, {}]", o.begin, o.end));
  if (o.end > data_size) {
    fail_tensor(path, name,
                fmt::format("data_offsets end past the {}-byte data section (file truncated?), [{}, {}]", data_size,
                            o.begin, o.end));
  }
  return o;
}

DType parse_entry_dtype(const std::filesystem::path& path, const std::string& name, const json& entry) {
  const auto it = entry.find("dtype");
  if (it == entry.end()) fail_tensor(path, name, "dtype missing");
  if (!it->is_string()) fail_tensor(path, name, fmt::format("dtype is not a string, {}", show(*it)));
  const auto dtype = parse_dtype(it->get_ref<const std::string&>());
  if (!dtype) fail_tensor(path, name, fmt::format("unknown dtype, {}", show(*it)));
  return *dtype;
}

const json& field(const std::filesystem::path& path, const std::string& name, const json& entry, const char* key) {
  const auto it = entry.find(key);
  if (it == entry.end()) fail_tensor(path, name, fmt::format("{} missing", key));
  return *it;
}

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  MappedFile m = map_file(path);
  if (m.size < kLengthBytes) {
    fail(path, fmt::format("file is {} bytes, shorter than the 8-byte header length", m.size));
  }
  const std::uint64_t header_len = read_u64_le(m.data);
  if (header_len > kMaxHeaderBytes) {
    fail(path, fmt::format("header length {} exceeds the {}-byte limit", header_len, kMaxHeaderBytes));
  }
  if (header_len > m.size - kLengthBytes) {
    fail(path, fmt::format("header length {} runs past the end of the {}-byte file (truncated?)", header_len, m.size));
  }
  const std::string_view text(reinterpret_cast<const char*>(m.data + kLengthBytes), header_len);
  const json header = parse_header(path, text);

  const std::uint64_t data_start = kLengthBytes + header_len;
  const std::uint64_t data_size = m.size - data_start;

  SafetensorsFile file;
  file.path_ = path;
  struct Placed {
    Offsets offsets;
    std::string name;
  };
  std::vector<Placed> placed;
  for (const auto& [name, entry] : header.items()) {
    if (name == kMetadataKey) {
      file.metadata_ = parse_metadata(path, entry);
      continue;
    }
    if (!entry.is_object()) fail_tensor(path, name, fmt::format("entry is not an object, {}", show(entry)));
    const DType dtype = parse_entry_dtype(path, name, entry);
    Shape shape = parse_shape(path, name, field(path, name, entry, "shape"));
    const Offsets o = parse_offsets(path, name, field(path, name, entry, "data_offsets"), data_size);
    // numel fits in int64 (checked above) and data bytes <= data_size, so compare without overflow.
    const auto numel = static_cast<std::uint64_t>(shape_numel(shape));
    const std::uint64_t held = o.end - o.begin;
    if (held % dtype_size(dtype) != 0 || held / dtype_size(dtype) != numel) {
      fail_tensor(path, name,
                  fmt::format("shape {} of {} needs {} elements of {} bytes, data_offsets [{}, {}] hold {} bytes",
                              shape_string(shape), dtype_name(dtype), numel, dtype_size(dtype), o.begin, o.end,
                              held));
    }
    file.entries_.emplace(name, Entry{dtype, std::move(shape), static_cast<std::size_t>(data_start + o.begin),
                                      static_cast<std::size_t>(data_start + o.end)});
    placed.push_back({o, name});
  }

  // Overlap check over byte ranges sorted by start; empty tensors occupy no bytes and cannot overlap.
  std::sort(placed.begin(), placed.end(), [](const Placed& a, const Placed& b) {
    return std::tie(a.offsets.begin, a.offsets.end, a.name) < std::tie(b.offsets.begin, b.offsets.end, b.name);
  });
  const Placed* furthest = nullptr;  // the non-empty range seen so far that ends last
  for (const Placed& p : placed) {
    if (p.offsets.begin == p.offsets.end) continue;
    if (furthest && furthest->offsets.end > p.offsets.begin) {
      fail_tensor(path, p.name,
                  fmt::format("data_offsets [{}, {}] overlap tensor '{}' at [{}, {}]", p.offsets.begin, p.offsets.end,
                              furthest->name, furthest->offsets.begin, furthest->offsets.end));
    }
    if (!furthest || p.offsets.end > furthest->offsets.end) furthest = &p;
  }
  for (const Placed& p : placed) file.names_.push_back(p.name);

  file.mapping_ = std::move(m.keepalive);
  file.base_ = m.data;
  return file;
}

bool SafetensorsFile::contains(std::string_view name) const { return entries_.find(name) != entries_.end(); }

Tensor SafetensorsFile::get(std::string_view name) const {
  const auto it = entries_.find(name);
  if (it == entries_.end()) {
    std::string found;
    const std::size_t listed = std::min(names_.size(), kMaxNamesListed);
    for (std::size_t i = 0; i < listed; ++i) found += (i ? ", " : "") + names_[i];
    if (names_.size() > listed) found += fmt::format(", ... ({} more)", names_.size() - listed);
    if (names_.empty()) found = "none";
    fail(path_, fmt::format("no tensor '{}' (found: {})", name, found));
  }
  const Entry& e = it->second;
  const std::byte* data = base_ + e.begin;
  // The format does not align tensors; a misaligned one is copied so typed access stays defined.
  if (e.begin % dtype_size(e.dtype) != 0) {
    Tensor copy(e.dtype, e.shape);
    std::memcpy(copy.mutable_bytes().data(), data, e.end - e.begin);
    return copy;
  }
  return Tensor::view(e.dtype, e.shape, data, mapping_);
}

}  // namespace mxg
