// .npy reader and writer: round trips for every dtype, headers of versions 1.0 / 2.0 / 3.0 built by
// hand (independently of the writer), the header literal's accepted spellings, and one case per
// defect whose InputError must name the field at fault.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kernels/common/errors.hpp"
#include "kernels/tensor/npy.hpp"
#include "kernels/tensor/tests/safetensors_test_util.hpp"

namespace mxg {
namespace {

using test::read_file;
using test::ScratchDir;
using test::write_file;

// Builds a .npy file from raw header text, like numpy but without its alignment padding unless
// asked: MAJOR selects the 2-byte (1.0) or 4-byte (2.0, 3.0) header length.
std::string npy_bytes(int major, const std::string& header, const std::string& data, int minor = 0) {
  std::string out("\x93NUMPY", 6);
  out.push_back(static_cast<char>(major));
  out.push_back(static_cast<char>(minor));
  const auto n = static_cast<std::uint32_t>(header.size());
  const int len_bytes = major == 1 ? 2 : 4;
  for (int i = 0; i < len_bytes; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  return out + header + data;
}

std::string bytes_of(const Tensor& t) {
  return {reinterpret_cast<const char*>(t.bytes().data()), t.nbytes()};
}

// Distinct bytes so a permutation or shift of the data shows.
Tensor patterned(DType dtype, Shape shape) {
  Tensor t(dtype, std::move(shape));
  std::uint8_t v = 1;
  for (std::byte& b : t.mutable_bytes()) b = static_cast<std::byte>(v = static_cast<std::uint8_t>(v * 37 + 11));
  return t;
}

// The tensor may view the bytes, so they go into a buffer the tensor keeps alive.
Tensor parse_string(std::string file, std::string_view label = "t.npy") {
  auto owned = std::make_shared<const std::string>(std::move(file));
  return parse_npy({reinterpret_cast<const std::byte*>(owned->data()), owned->size()}, owned, label);
}

// The InputError message of parsing FILE, or "" when it parsed.
std::string parse_error(const std::string& file) {
  try {
    parse_string(file, "bad.npy");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Npy, RoundTripsEveryDtypeAndRank) {
  ScratchDir dir;
  const std::vector<std::pair<DType, std::string>> dtypes = {
      {DType::U8, "|u1"},  {DType::I8, "|i1"},  {DType::I16, "<i2"}, {DType::I32, "<i4"},
      {DType::I64, "<i8"}, {DType::F16, "<f2"}, {DType::F32, "<f4"}, {DType::F64, "<f8"}};
  const std::vector<Shape> shapes = {{}, {5}, {2, 3}, {2, 0, 4}, {1, 2, 3, 4}};
  for (const auto& [dtype, descr] : dtypes) {
    for (const Shape& shape : shapes) {
      const auto path = dir.path() / "x.npy";
      const Tensor t = patterned(dtype, shape);
      write_npy(path, t);
      const std::string file = read_file(path);
      SCOPED_TRACE(file.substr(10, 70));
      // The header numpy would write: 64-byte aligned data, descr spelt as numpy spells it.
      EXPECT_EQ((file.size() - t.nbytes()) % 64, 0u);
      EXPECT_NE(file.find("'descr': '" + descr + "'"), std::string::npos);
      const Tensor back = read_npy(path);
      EXPECT_EQ(back.dtype(), dtype);
      EXPECT_EQ(back.shape(), shape);
      EXPECT_EQ(bytes_of(back), bytes_of(t));
    }
  }
}

TEST(Npy, WriterSpellsShapesLikeNumpy) {
  ScratchDir dir;
  const auto path = dir.path() / "s.npy";
  write_npy(path, Tensor(DType::F32, {}));
  EXPECT_NE(read_file(path).find("'shape': ()"), std::string::npos);
  write_npy(path, Tensor(DType::F32, {7}));
  EXPECT_NE(read_file(path).find("'shape': (7,)"), std::string::npos);
  write_npy(path, Tensor(DType::F32, {7, 8}));
  EXPECT_NE(read_file(path).find("'shape': (7, 8)"), std::string::npos);
  EXPECT_EQ(read_file(path).substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
}

TEST(Npy, WriterRefusesBf16AndLeavesNoFile) {
  ScratchDir dir;
  const auto path = dir.path() / "b.npy";
  try {
    write_npy(path, Tensor(DType::BF16, {2}));
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("BF16"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(Npy, ReadsHandWrittenVersions1To3) {
  const Tensor t = patterned(DType::I32, {2, 3});
  const std::string header = "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }";
  for (int major : {1, 2, 3}) {
    SCOPED_TRACE(major);
    // Data alignment is not required by the format; odd offsets must still read correctly.
    for (const std::string& pad : {std::string(""), std::string(" \n"), std::string(3, ' ') + "\n"}) {
      const std::string file = npy_bytes(major, header + pad, bytes_of(t));
      const Tensor back = parse_string(file);
      EXPECT_EQ(back.dtype(), DType::I32);
      EXPECT_EQ(back.shape(), (Shape{2, 3}));
      EXPECT_EQ(bytes_of(back), bytes_of(t));
    }
  }
}

TEST(Npy, ReadsDoubleQuotedKeysInAnyOrder) {
  const Tensor t = patterned(DType::U8, {4});
  const std::string file = npy_bytes(3, "{\"descr\": \"|u1\", \"shape\": (4,), \"fortran_order\": False}\n", bytes_of(t));
  EXPECT_EQ(bytes_of(parse_string(file)), bytes_of(t));
}

TEST(Npy, AcceptsAnyKeyOrderQuotesSpacingAndTrailingCommas) {
  const Tensor t = patterned(DType::F32, {3});
  for (const std::string header : {
           "{'shape': (3,), 'fortran_order': False, 'descr': '<f4'}",
           "{ 'fortran_order' : False , 'descr' : \"<f4\" , 'shape' : ( 3 , ) , }",
           "{'descr':'<f4','fortran_order':False,'shape':(3,),}\n",
           "{'descr': '<f4',\n 'fortran_order': False,\n 'shape': (3L,)}",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (+3,)}",
       }) {
    SCOPED_TRACE(header);
    const Tensor back = parse_string(npy_bytes(1, header, bytes_of(t)));
    EXPECT_EQ(back.shape(), (Shape{3}));
    EXPECT_EQ(bytes_of(back), bytes_of(t));
  }
}

TEST(Npy, BoolAndLittleEndianOneByteSpellings) {
  const std::string data = std::string("\x00\x01\x01\x00", 4);
  const Tensor b = parse_string(npy_bytes(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (4,)}", data));
  EXPECT_EQ(b.dtype(), DType::U8);
  EXPECT_EQ(bytes_of(b), data);
  EXPECT_EQ(parse_string(npy_bytes(1, "{'descr': '<u1', 'fortran_order': False, 'shape': (4,)}", data)).dtype(),
            DType::U8);
  EXPECT_EQ(parse_string(npy_bytes(1, "{'descr': '<i1', 'fortran_order': False, 'shape': (4,)}", data)).dtype(),
            DType::I8);
}

TEST(Npy, ScalarAndEmptyShapes) {
  const Tensor s = parse_string(npy_bytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': ()}", std::string(8, '\x11')));
  EXPECT_EQ(s.rank(), 0u);
  EXPECT_EQ(s.nbytes(), 8u);
  const Tensor e = parse_string(npy_bytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 5)}", ""));
  EXPECT_EQ(e.shape(), (Shape{0, 5}));
  EXPECT_EQ(e.nbytes(), 0u);
}

TEST(Npy, ReadNpyIsAViewOfTheMapping) {
  ScratchDir dir;
  const auto path = dir.path() / "v.npy";
  const Tensor t = patterned(DType::F32, {64});
  write_npy(path, t);
  const Tensor a = read_npy(path);
  std::filesystem::remove(path);  // the mapping keeps the bytes alive after the name is gone
  EXPECT_EQ(bytes_of(a), bytes_of(t));
}

TEST(Npy, MissingFileNamesIt) {
  try {
    read_npy("/nonexistent/dir/x.npy");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/x.npy"), std::string::npos) << e.what();
  }
}

struct BadCase {
  std::string name;
  std::string file;
  std::vector<std::string> expected;  // every one must appear in the message
};

std::string with_header(const std::string& header, const std::string& data = std::string(24, '\0')) {
  return npy_bytes(1, header, data);
}

std::vector<BadCase> bad_cases() {
  const std::string ok_shape = "'fortran_order': False, 'shape': (2, 3)";
  std::vector<BadCase> c;
  c.push_back({"empty_file", "", {"magic"}});
  c.push_back({"bad_magic", "\x93NUMPX\x01\x00\x10\x00{}", {"magic", "NUMPX"}});
  c.push_back({"zip_file", std::string("PK\x03\x04\x14\x00\x00\x00", 8), {"magic", "PK"}});
  c.push_back({"version_4", npy_bytes(4, "{}", ""), {"version", "4.0"}});
  c.push_back({"version_0", npy_bytes(0, "{}", ""), {"version", "0.0"}});
  c.push_back({"version_1_1", npy_bytes(1, "{}", "", 1), {"version", "1.1"}});
  c.push_back({"no_length", std::string("\x93NUMPY\x02\x00\x10", 9), {"header length", "truncated"}});
  {
    std::string f = with_header("{'descr': '<f4', " + ok_shape + "}");
    f[8] = '\x7f';  // claims 127 header bytes, far past the end
    f.resize(40);
    c.push_back({"header_past_end", f, {"header length", "127", "truncated"}});
  }
  c.push_back({"header_cut_in_dict", with_header("{'descr': '<f4', 'fortran_order': Fal", ""), {"header"}});
  c.push_back({"header_cut_in_string", with_header("{'descr': '<f4", ""), {"header", "not closed"}});
  c.push_back({"header_unclosed_dict", with_header("{'descr': '<f4', " + ok_shape, ""), {"header", "truncated"}});
  c.push_back({"not_a_dict_list", with_header("['descr', '<f4']"), {"header", "is not a dict"}});
  c.push_back({"not_a_dict_string", with_header("'descr'"), {"header", "is not a dict"}});
  c.push_back({"garbage_header", with_header("descr: <f4"), {"header", "descr"}});
  c.push_back({"text_after_dict", with_header("{'descr': '<f4', " + ok_shape + "} x"), {"header", "after the dict"}});
  c.push_back({"missing_colon", with_header("{'descr' '<f4', " + ok_shape + "}"), {"header", "':'"}});
  c.push_back({"double_comma", with_header("{'descr': '<f4',, " + ok_shape + "}"), {"header"}});
  c.push_back({"key_not_string", with_header("{1: '<f4', " + ok_shape + "}"), {"header", "key"}});
  c.push_back({"missing_descr", with_header("{" + ok_shape + "}"), {"'descr'", "missing"}});
  c.push_back({"missing_shape", with_header("{'descr': '<f4', 'fortran_order': False}"), {"'shape'", "missing"}});
  c.push_back({"missing_fortran", with_header("{'descr': '<f4', 'shape': (2, 3)}"), {"'fortran_order'", "missing"}});
  c.push_back({"duplicate_key", with_header("{'descr': '<f4', 'descr': '<f4', " + ok_shape + "}"), {"'descr'", "twice"}});
  c.push_back({"extra_key", with_header("{'descr': '<f4', 'extra': 1, " + ok_shape + "}"), {"'extra'"}});
  c.push_back({"big_endian", with_header("{'descr': '>f4', " + ok_shape + "}"), {"descr", ">f4", "big-endian"}});
  c.push_back({"pipe_multibyte", with_header("{'descr': '|f4', " + ok_shape + "}"), {"descr", "|f4"}});
  c.push_back({"no_byte_order", with_header("{'descr': 'f4', " + ok_shape + "}"), {"descr", "'f4'"}});
  c.push_back({"uint16", with_header("{'descr': '<u2', " + ok_shape + "}", std::string(12, '\0')),
               {"descr", "<u2", "safetensors", "int16"}});
  c.push_back({"uint32", with_header("{'descr': '<u4', " + ok_shape + "}"), {"descr", "<u4"}});
  c.push_back({"complex", with_header("{'descr': '<c8', " + ok_shape + "}"), {"descr", "<c8"}});
  c.push_back({"object", with_header("{'descr': '|O', " + ok_shape + "}"), {"descr", "|O", "object"}});
  c.push_back({"unicode", with_header("{'descr': '<U5', " + ok_shape + "}"), {"descr", "<U5", "unicode"}});
  c.push_back({"structured", with_header("{'descr': [('a', '<f4')], " + ok_shape + "}"), {"descr", "structured"}});
  c.push_back({"descr_not_string", with_header("{'descr': 4, " + ok_shape + "}"), {"descr", "4", "not a string"}});
  c.push_back({"fortran_true", with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3)}"),
               {"fortran_order", "True"}});
  c.push_back({"fortran_int", with_header("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}"),
               {"fortran_order", "0"}});
  c.push_back({"shape_list", with_header("{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}"),
               {"shape", "[2, 3]", "not a tuple"}});
  c.push_back({"shape_parenthesised_int", with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (6)}"),
               {"shape", "(6)", "not a tuple"}});
  c.push_back({"shape_negative", with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}"),
               {"shape", "dimension 1", "-3", "negative"}});
  c.push_back({"shape_float", with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3.0)}"),
               {"header", "3."}});
  c.push_back({"shape_string", with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, '3')}"),
               {"shape", "dimension 1", "'3'"}});
  c.push_back({"shape_huge_dim",
               with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}"),
               {"shape", "99999999999999999999", "64 bits"}});
  c.push_back({"shape_product_overflow",
               with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 0)}"),
               {"shape", "64 bits"}});
  c.push_back({"shape_bytes_overflow",
               with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,)}"),
               {"data", "2^64"}});
  c.push_back({"leading_zero", with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (02, 3)}"),
               {"header", "leading zero"}});
  c.push_back({"bad_word", with_header("{'descr': '<f4', 'fortran_order': false, 'shape': (2, 3)}"),
               {"header", "false"}});
  c.push_back({"bad_escape", with_header("{'descr': '<f\\x34', " + ok_shape + "}"), {"header", "escape"}});
  c.push_back({"deep_nesting", with_header("{'descr': " + std::string(40, '(') + "1" + std::string(40, ')') + "}"),
               {"header", "nested"}});
  c.push_back({"data_short", with_header("{'descr': '<f4', " + ok_shape + "}", std::string(20, '\0')),
               {"data", "24", "20", "truncated"}});
  c.push_back({"data_trailing", with_header("{'descr': '<f4', " + ok_shape + "}", std::string(25, '\0')),
               {"data", "24", "25", "trailing"}});
  c.push_back({"data_missing", with_header("{'descr': '<f4', " + ok_shape + "}", ""), {"data", "24", "0"}});
  return c;
}

TEST(Npy, EveryDefectIsAnInputErrorNamingTheField) {
  for (const BadCase& bc : bad_cases()) {
    SCOPED_TRACE(bc.name);
    const std::string message = parse_error(bc.file);
    ASSERT_FALSE(message.empty()) << "parsed without error";
    EXPECT_EQ(message.rfind("bad.npy: ", 0), 0u) << message;
    for (const std::string& part : bc.expected) EXPECT_NE(message.find(part), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
  }
}

TEST(Npy, ReadNpyErrorsNameThePath) {
  ScratchDir dir;
  const auto path = dir.path() / "trunc.npy";
  write_file(path, with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", std::string(7, '\0')));
  try {
    read_npy(path);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path.string() + ": data", 0), 0u) << e.what();
  }
}

}  // namespace
}  // namespace mxg
