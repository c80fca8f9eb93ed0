// .npy reader and writer. The header is a Python dict literal; it is parsed by a small recursive
// descent parser for the literal subset numpy writes (dicts, tuples, lists, strings, integers,
// True / False / None), never by pattern matching, so garbage cannot half-match.
#include "kernels/tensor/npy.hpp"

#include <algorithm>
#include <bit>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"
#include "kernels/tensor/atomic_write.hpp"
#include "kernels/tensor/mapped_file.hpp"

namespace mxg {

static_assert(std::endian::native == std::endian::little, "the .npy reader hands out little-endian bytes as is");

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";
constexpr std::size_t kMaxShown = 60;  // characters of a value quoted in an error
constexpr int kMaxDepth = 16;          // nesting of the header literal (structured dtypes nest)

[[noreturn]] void fail(std::string_view label, std::string_view what) {
  throw InputError(fmt::format("{}: {}", label, what));
}

// Printable, single-line, shortened rendering of header text for messages.
std::string show_text(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, std::min(text.size(), kMaxShown))) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7F) {
      out += c;
    } else {
      out += fmt::format("\\x{:02x}", u);
    }
  }
  if (text.size() > kMaxShown) out += "...";
  return out;
}

// ---- the header literal ------------------------------------------------------------------------

struct Literal;
struct LiteralList {
  std::vector<Literal> items;
  bool tuple = false;
};
struct LiteralDict {
  std::vector<std::pair<std::string, Literal>> items;
};
struct Literal {
  // monostate: None. Integers beyond int64 are kept as their digits so the message can show them.
  struct BigInt {
    std::string digits;
  };
  std::variant<std::monostate, bool, std::int64_t, BigInt, std::string, LiteralList, LiteralDict> value;
  std::string_view source;  // the text the literal was parsed from, for messages
};

using LiteralValue = decltype(Literal::value);

std::string show(const Literal& v) { return show_text(v.source); }

class LiteralParser {
 public:
  LiteralParser(std::string_view text, std::string_view label) : text_(text), label_(label) {}

  Literal parse_document() {
    Literal v = parse_value(0);
    skip_space();
    if (pos_ != text_.size()) error(fmt::format("unexpected text after the dict: '{}'", show_text(text_.substr(pos_))));
    return v;
  }

 private:
  [[noreturn]] void error(std::string_view what) const { fail(label_, fmt::format("header: {}", what)); }

  // Python allows any whitespace between tokens; numpy pads with spaces and ends with '\n'.
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r' || text_[pos_] == '\f' || text_[pos_] == '\v')) {
      ++pos_;
    }
  }
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }
  void expect_more(std::string_view what) const {
    if (at_end()) error(fmt::format("ends early, expected {} (truncated header?)", what));
  }

  Literal parse_value(int depth) {
    if (depth > kMaxDepth) error(fmt::format("nested more than {} levels deep", kMaxDepth));
    skip_space();
    expect_more("a value");
    const std::size_t begin = pos_;
    Literal v;
    const char c = peek();
    if (c == '{') {
      v.value = parse_dict(depth);
    } else if (c == '(' || c == '[') {
      // "(x)" without a comma is a parenthesised value in Python, not a tuple.
      std::optional<Literal> inner;
      v.value = parse_sequence(depth, inner);
      if (inner) {
        inner->source = text_.substr(begin, pos_ - begin);
        return std::move(*inner);
      }
    } else if (c == '\'' || c == '"') {
      v.value = parse_string();
    } else if (c == '-' || c == '+' || (c >= '0' && c <= '9')) {
      v.value = parse_integer();
    } else {
      v.value = parse_word();
    }
    v.source = text_.substr(begin, pos_ - begin);
    return v;
  }

  LiteralDict parse_dict(int depth) {
    ++pos_;  // '{'
    LiteralDict d;
    for (;;) {
      skip_space();
      expect_more("a key or '}'");
      if (peek() == '}') break;
      Literal key = parse_value(depth + 1);
      const auto* name = std::get_if<std::string>(&key.value);
      if (!name) error(fmt::format("dict key {} is not a string", show(key)));
      skip_space();
      expect_more("':'");
      if (peek() != ':') error(fmt::format("expected ':' after key '{}', found '{}'", show_text(*name), show_text(text_.substr(pos_, 1))));
      ++pos_;
      Literal value = parse_value(depth + 1);
      d.items.emplace_back(*name, std::move(value));
      skip_space();
      expect_more("',' or '}'");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') error(fmt::format("expected ',' or '}}' in the dict, found '{}'", show_text(text_.substr(pos_, 1))));
      break;
    }
    ++pos_;  // '}'
    return d;
  }

  LiteralList parse_sequence(int depth, std::optional<Literal>& parenthesised) {
    const char open = peek();
    const char close = open == '(' ? ')' : ']';
    ++pos_;
    LiteralList list;
    list.tuple = open == '(';
    bool trailing_comma = false;
    for (;;) {
      skip_space();
      expect_more(fmt::format("a value or '{}'", close));
      if (peek() == close) break;
      list.items.push_back(parse_value(depth + 1));
      trailing_comma = false;
      skip_space();
      expect_more(fmt::format("',' or '{}'", close));
      if (peek() == ',') {
        ++pos_;
        trailing_comma = true;
        continue;
      }
      if (peek() != close) {
        error(fmt::format("expected ',' or '{}', found '{}'", close, show_text(text_.substr(pos_, 1))));
      }
      break;
    }
    ++pos_;
    if (list.tuple && list.items.size() == 1 && !trailing_comma) parenthesised = std::move(list.items.front());
    return list;
  }

  std::string parse_string() {
    const char quote = peek();
    ++pos_;
    std::string out;
    for (;;) {
      if (at_end()) error("a string is not closed (truncated header?)");
      const char c = text_[pos_++];
      if (c == quote) return out;
      if (c == '\n') error("a string runs past the end of the line");
      if (c == '\\') {
        if (at_end()) error("a string is not closed (truncated header?)");
        const char e = text_[pos_++];
        if (e != '\\' && e != '\'' && e != '"') error(fmt::format("unsupported escape '\\{}' in a string", show_text(std::string_view(&e, 1))));
        out += e;
        continue;
      }
      out += c;
    }
  }

  Literal::BigInt parse_digits() {
    Literal::BigInt big;
    while (!at_end() && peek() >= '0' && peek() <= '9') big.digits += text_[pos_++];
    return big;
  }

  LiteralValue parse_integer() {
    bool negative = false;
    if (peek() == '-' || peek() == '+') {
      negative = peek() == '-';
      ++pos_;
      skip_space();
    }
    if (at_end() || peek() < '0' || peek() > '9') error("a sign is not followed by digits");
    Literal::BigInt big = parse_digits();
    // Python 2 era numpy wrote longs as "3L"; numpy still reads those headers.
    if (!at_end() && (peek() == 'L' || peek() == 'l')) ++pos_;
    if (!at_end() && (std::isalnum(static_cast<unsigned char>(peek())) || peek() == '.' || peek() == '_')) {
      error(fmt::format("'{}' is not an integer", show_text(text_.substr(pos_ - big.digits.size(), big.digits.size() + 1))));
    }
    if (big.digits.size() > 1 && big.digits[0] == '0') error(fmt::format("integer '{}' has a leading zero", big.digits));
    std::int64_t v = 0;
    for (char d : big.digits) {
      if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, d - '0', &v)) {
        if (negative) big.digits.insert(big.digits.begin(), '-');
        return big;
      }
    }
    return negative ? -v : v;
  }

  LiteralValue parse_word() {
    const std::size_t begin = pos_;
    while (!at_end() && (std::isalnum(static_cast<unsigned char>(peek())) || peek() == '_')) ++pos_;
    const std::string_view word = text_.substr(begin, pos_ - begin);
    if (word == "True") return true;
    if (word == "False") return false;
    if (word == "None") return std::monostate{};
    if (word.empty()) error(fmt::format("unexpected character '{}'", show_text(text_.substr(begin, 1))));
    error(fmt::format("'{}' is not a literal (expected a string, a number, a tuple, True, False or None)", show_text(word)));
  }

  std::string_view text_;
  std::string_view label_;
  std::size_t pos_ = 0;
};

// ---- the header fields -------------------------------------------------------------------------

struct Descr {
  DType dtype;
  std::size_t itemsize;
};

[[noreturn]] void fail_descr(std::string_view label, const std::string& descr, std::string_view what) {
  fail(label, fmt::format("descr '{}': {}", show_text(descr), what));
}

DType descr_dtype(std::string_view label, const std::string& descr) {
  const auto field = [&](std::string_view what) { fail_descr(label, descr, what); };
  if (descr.empty()) field("empty");
  const char order = descr[0];
  const std::string_view code = std::string_view(descr).substr(1);
  if (order == '>') field("big-endian data is not supported; save with x.astype(x.dtype.newbyteorder('<'))");
  if (order != '<' && order != '|' && order != '=') {
    // Without an explicit order numpy also accepts "f4"; mxguard insists on what numpy writes.
    field("expected a byte-order character '<' or '|' first");
  }
  if (order == '=') field("native byte order '=' is ambiguous in a file; numpy writes '<' or '|'");
  if (code == "u2") {
    field("uint16 is not an mxguard dtype; save bf16 tensors to safetensors, or view them as int16 "
          "(x.view(np.int16)) before np.save");
  }
  if (code.starts_with('O')) field("object arrays (pickled Python objects) are not supported");
  if (code.starts_with('U') || code.starts_with('S') || code.starts_with('a')) {
    field("string / unicode arrays are not supported");
  }
  if (code.starts_with('V')) field("void / structured dtypes are not supported");
  struct Known {
    std::string_view code;
    DType dtype;
  };
  static constexpr Known kKnown[] = {{"u1", DType::U8},  {"b1", DType::U8},  {"i1", DType::I8},
                                     {"i2", DType::I16}, {"i4", DType::I32}, {"i8", DType::I64},
                                     {"f2", DType::F16}, {"f4", DType::F32}, {"f8", DType::F64}};
  for (const Known& k : kKnown) {
    if (k.code != code) continue;
    if (dtype_size(k.dtype) > 1 && order == '|') field("'|' (no byte order) is only valid for one-byte types");
    return k.dtype;
  }
  fail_descr(label, descr, "unsupported dtype (supported: |u1 |b1 |i1 <i2 <i4 <i8 <f2 <f4 <f8)");
}

Shape shape_of(std::string_view label, const Literal& value) {
  const auto* list = std::get_if<LiteralList>(&value.value);
  if (!list || !list->tuple) fail(label, fmt::format("shape: {} is not a tuple", show(value)));
  Shape shape;
  std::int64_t running = 1;
  for (std::size_t i = 0; i < list->items.size(); ++i) {
    const Literal& d = list->items[i];
    if (const auto* big = std::get_if<Literal::BigInt>(&d.value)) {
      fail(label, fmt::format("shape: dimension {} = {} does not fit in 64 bits", i, big->digits));
    }
    const auto* dim = std::get_if<std::int64_t>(&d.value);
    if (!dim) fail(label, fmt::format("shape: dimension {} = {} is not an integer", i, show(d)));
    if (*dim < 0) fail(label, fmt::format("shape: dimension {} = {} is negative", i, *dim));
    // The running product must fit even when a later dimension is 0 (Tensor multiplies in order).
    if (__builtin_mul_overflow(running, *dim, &running)) {
      fail(label, fmt::format("shape: {} has more elements than fit in 64 bits", show(value)));
    }
    shape.push_back(*dim);
  }
  return shape;
}

struct Header {
  DType dtype;
  Shape shape;
};

Header header_fields(std::string_view label, const Literal& doc) {
  const auto* dict = std::get_if<LiteralDict>(&doc.value);
  if (!dict) fail(label, fmt::format("header: {} is not a dict", show(doc)));
  std::map<std::string, const Literal*, std::less<>> fields;
  for (const auto& [key, value] : dict->items) {
    if (key != "descr" && key != "fortran_order" && key != "shape") {
      fail(label, fmt::format("header: unexpected key '{}' (a .npy header has exactly 'descr', 'fortran_order', "
                              "'shape')",
                              show_text(key)));
    }
    if (!fields.emplace(key, &value).second) fail(label, fmt::format("header: key '{}' given twice", key));
  }
  for (const char* key : {"descr", "fortran_order", "shape"}) {
    if (!fields.contains(key)) fail(label, fmt::format("header: key '{}' missing", key));
  }

  const Literal& descr = *fields.at("descr");
  if (std::holds_alternative<LiteralList>(descr.value)) {
    fail(label, fmt::format("descr {} is a list: structured dtypes are not supported", show(descr)));
  }
  const auto* descr_text = std::get_if<std::string>(&descr.value);
  if (!descr_text) fail(label, fmt::format("descr {} is not a string", show(descr)));

  const Literal& fortran = *fields.at("fortran_order");
  const auto* fortran_flag = std::get_if<bool>(&fortran.value);
  if (!fortran_flag) fail(label, fmt::format("fortran_order {} is not True or False", show(fortran)));
  if (*fortran_flag) {
    fail(label, "fortran_order = True: column-major data is not supported; save np.ascontiguousarray(x)");
  }
  return Header{descr_dtype(label, *descr_text), shape_of(label, *fields.at("shape"))};
}

std::uint32_t read_le(const std::byte* p, int n) {
  std::uint32_t v = 0;
  for (int i = 0; i < n; ++i) v |= std::uint32_t{std::to_integer<std::uint8_t>(p[i])} << (8 * i);
  return v;
}

std::string_view descr_of(const std::string& label, DType t) {
  switch (t) {
    case DType::U8: return "|u1";
    case DType::I8: return "|i1";
    case DType::I16: return "<i2";
    case DType::I32: return "<i4";
    case DType::I64: return "<i8";
    case DType::F16: return "<f2";
    case DType::F32: return "<f4";
    case DType::F64: return "<f8";
    case DType::BF16: break;
  }
  fail(label, fmt::format("dtype {} has no numpy equivalent; write safetensors, or view the tensor as I16",
                          dtype_name(t)));
}

}  // namespace

Tensor parse_npy(std::span<const std::byte> file, std::shared_ptr<const void> keepalive, std::string_view label) {
  constexpr std::size_t kVersionAt = 6;
  if (file.size() < kMagic.size() + 2 ||
      std::memcmp(file.data(), kMagic.data(), kMagic.size()) != 0) {
    const std::size_t n = std::min(file.size(), kMagic.size());
    fail(label, fmt::format("magic: expected \"\\x93NUMPY\", found \"{}\" ({} bytes in the file)",
                            show_text(std::string_view(reinterpret_cast<const char*>(file.data()), n)), file.size()));
  }
  const int major = std::to_integer<int>(file[kVersionAt]);
  const int minor = std::to_integer<int>(file[kVersionAt + 1]);
  if (major < 1 || major > 3 || minor != 0) {
    fail(label, fmt::format("version: {}.{} is not supported (1.0, 2.0 or 3.0)", major, minor));
  }
  const int length_bytes = major == 1 ? 2 : 4;
  const std::size_t length_at = kVersionAt + 2;
  if (file.size() < length_at + static_cast<std::size_t>(length_bytes)) {
    fail(label, fmt::format("header length: the file ends after {} bytes (truncated?)", file.size()));
  }
  const std::uint64_t header_len = read_le(file.data() + length_at, length_bytes);
  const std::uint64_t data_at = length_at + static_cast<std::uint64_t>(length_bytes) + header_len;
  if (data_at > file.size()) {
    fail(label, fmt::format("header length: {} runs past the end of the {}-byte file (truncated header?)", header_len,
                            file.size()));
  }
  // Versions 1.0 and 2.0 are latin-1, 3.0 utf-8; valid headers are ASCII either way, and bytes
  // beyond it can only sit inside strings, where the field checks refuse them.
  const std::string_view text(reinterpret_cast<const char*>(file.data()) + length_at + length_bytes, header_len);
  const Header h = header_fields(label, LiteralParser(text, label).parse_document());

  // numel fits in int64 (shape_of), but numel * itemsize may not fit in 64 bits.
  const auto numel = static_cast<std::uint64_t>(shape_numel(h.shape));
  const std::size_t itemsize = dtype_size(h.dtype);
  const std::uint64_t held = file.size() - data_at;
  std::uint64_t needed = 0;
  const bool overflow = __builtin_mul_overflow(numel, std::uint64_t{itemsize}, &needed);
  if (overflow || needed != held) {
    fail(label, fmt::format("data: shape {} of {} needs {} bytes, the file holds {} after the header ({})",
                            shape_string(h.shape), dtype_name(h.dtype),
                            overflow ? std::string("more than 2^64") : std::to_string(needed), held,
                            overflow || needed > held ? "truncated?" : "trailing bytes"));
  }
  const std::byte* data = file.data() + data_at;
  // Typed access needs element alignment; numpy aligns data to 64 bytes, a hand-made file may not.
  if (reinterpret_cast<std::uintptr_t>(data) % itemsize != 0) {
    Tensor copy(h.dtype, h.shape);
    if (held != 0) std::memcpy(copy.mutable_bytes().data(), data, held);
    return copy;
  }
  return Tensor::view(h.dtype, h.shape, data, std::move(keepalive));
}

Tensor read_npy(const std::filesystem::path& path) {
  MappedFile m = map_file(path);
  return parse_npy(m.bytes(), m.keepalive, path.string());
}

void write_npy(const std::filesystem::path& path, const Tensor& tensor) {
  const std::string label = path.string();
  const std::string_view descr = descr_of(label, tensor.dtype());
  std::string shape;
  for (std::size_t i = 0; i < tensor.rank(); ++i) shape += fmt::format("{}{}", i ? ", " : "", tensor.dim(i));
  if (tensor.rank() == 1) shape += ",";
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", descr, shape);
  // Pad with spaces and end with '\n' so the data starts 64-byte aligned, as numpy does.
  constexpr std::size_t kPreamble = 10, kAlign = 64;
  const std::size_t unpadded = kPreamble + header.size() + 1;
  header.append((kAlign - unpadded % kAlign) % kAlign, ' ');
  header += '\n';
  if (header.size() > std::numeric_limits<std::uint16_t>::max()) {
    fail(label, fmt::format("header: {} bytes do not fit a version 1.0 header (rank {})", header.size(), tensor.rank()));
  }
  const auto len = static_cast<std::uint16_t>(header.size());
  const unsigned char preamble[kPreamble] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                             static_cast<unsigned char>(len & 0xFF),
                                             static_cast<unsigned char>(len >> 8)};
  AtomicFileWriter out(path);
  out.write(preamble, sizeof preamble);
  out.write(header.data(), header.size());
  const auto bytes = tensor.bytes();
  if (!bytes.empty()) out.write(bytes.data(), bytes.size());
  out.commit();
}

}  // namespace mxg
