// Tests of safetensors writing and reading: exact bytes of a tiny file, round trips of every dtype,
// and one InputError (naming file and tensor) per kind of corrupt header.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "kernels/common/errors.hpp"
#include "kernels/tensor/safetensors.hpp"
#include "kernels/tensor/tests/safetensors_test_util.hpp"

namespace mxg {
namespace {

using test::ScratchDir;
using test::file_with_header;
using test::read_file;
using test::write_file;

class Safetensors : public ::testing::Test {
 protected:
  ScratchDir dir_;
};

// Tensor with deterministic, non-trivial bytes.
Tensor patterned(DType dtype, Shape shape, std::uint32_t seed) {
  Tensor t(dtype, std::move(shape));
  std::mt19937 rng(seed);
  for (std::byte& b : t.mutable_bytes()) b = static_cast<std::byte>(rng() & 0xFF);
  return t;
}

TEST_F(Safetensors, TinyFileHasExactlyTheExpectedBytes) {
  const auto path = dir_.path() / "tiny.safetensors";
  Tensor b(DType::U8, {3});
  auto bb = b.as_mut<std::uint8_t>();
  bb[0] = 1, bb[1] = 2, bb[2] = 3;
  auto a = Tensor::from_f32(std::vector<float>{1.0f, -2.0f}, {2});
  write_safetensors(path, {{"b", b}, {"a", a}});

  // Header entries keep the given order (b, a); data goes by decreasing element size, so the F32
  // tensor a occupies [0, 8) and the U8 tensor b [8, 11).
  // Length by hand: {"b": 5, {"dtype":"U8", 14, "shape":[3], 12, "data_offsets":[8,11]} 22,
  // "," 1, "a": 4, {"dtype":"F32", 15, "shape":[2], 12, "data_offsets":[0,8]} 21, "}" 1 = 107,
  // padded with 5 spaces to 112 = 0x70.
  std::string expected("\x70\0\0\0\0\0\0\0", 8);
  expected += R"({"b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]},)";
  expected += R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  expected += "     ";
  expected += std::string("\x00\x00\x80\x3F", 4);  // 1.0f little-endian
  expected += std::string("\x00\x00\x00\xC0", 4);  // -2.0f
  expected += std::string("\x01\x02\x03", 3);
  ASSERT_EQ(expected.size(), 8u + 112u + 11u);
  EXPECT_EQ(read_file(path), expected);
}

TEST_F(Safetensors, MetadataComesFirstInTheHeader) {
  const auto path = dir_.path() / "meta.safetensors";
  write_safetensors(path, {{"x", Tensor(DType::I8, {1})}}, {{"format", "pt"}});
  const std::string bytes = read_file(path);
  // {"__metadata__":{"format":"pt"},"x":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}
  // = 31 + 1 + 52 = 84 characters, padded to 88.
  const std::string json = R"({"__metadata__":{"format":"pt"},"x":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}})";
  ASSERT_EQ(json.size(), 84u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x58\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(bytes.substr(8, 88), json + "    ");
  EXPECT_EQ(bytes.size(), 8u + 88u + 1u);
}

TEST_F(Safetensors, EveryDtypeRoundTripsWithMetadataAndEmptyTensors) {
  const auto path = dir_.path() / "all.safetensors";
  NamedTensors tensors;
  std::uint32_t seed = 1;
  // Odd sizes first, so a naive contiguous layout would misalign the wider types behind them.
  for (DType t : {DType::U8, DType::I8, DType::I16, DType::F16, DType::BF16, DType::I32, DType::F32, DType::I64,
                  DType::F64}) {
    tensors.emplace_back(std::string("t_") + std::string(dtype_name(t)), patterned(t, {3, 5}, seed++));
  }
  tensors.emplace_back("empty", Tensor(DType::BF16, {0, 7}));
  tensors.emplace_back("scalar", patterned(DType::F32, {}, seed++));
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "quotes \" and \\ and é"}};
  write_safetensors(path, tensors, metadata);

  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file.metadata(), metadata);
  EXPECT_EQ(file.names().size(), tensors.size());
  for (const auto& [name, expected] : tensors) {
    ASSERT_TRUE(file.contains(name)) << name;
    const Tensor got = file.get(name);
    EXPECT_TRUE(got.same_bytes(expected)) << name;
    EXPECT_EQ(got.shape(), expected.shape()) << name;
    // Every tensor lands aligned to its element size, so views are usable as typed spans.
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(got.bytes().data()) % dtype_size(got.dtype()), 0u) << name;
  }
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp-" + std::to_string(::getpid())));
}

TEST_F(Safetensors, EmptyFileListAndZeroSizeDataSection) {
  const auto path = dir_.path() / "none.safetensors";
  write_safetensors(path, {});
  EXPECT_EQ(read_file(path), std::string("\x08\0\0\0\0\0\0\0{}      ", 16));
  const auto file = SafetensorsFile::open(path);
  EXPECT_TRUE(file.names().empty());
}

TEST_F(Safetensors, NamesAreInDataOffsetOrder) {
  const auto path = dir_.path() / "order.safetensors";
  write_file(path, file_with_header(R"({"z":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                                    R"("a":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}})",
                                    std::string(3, '\x07')));
  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file.names(), (std::vector<std::string>{"z", "a"}));
}

TEST_F(Safetensors, ViewsOutliveTheFileObject) {
  const auto path = dir_.path() / "alive.safetensors";
  const Tensor expected = patterned(DType::F32, {64}, 3);
  write_safetensors(path, {{"w", expected}});
  Tensor view;
  {
    const auto file = SafetensorsFile::open(path);
    view = file.get("w");
  }
  std::filesystem::remove(path);  // the mapping keeps the data even after the name is gone
  EXPECT_TRUE(view.same_bytes(expected));
  Tensor copy = view;
  copy.as_mut<float>()[0] = 42.0f;  // copy-on-write off a read-only mapping
  EXPECT_EQ(copy.as<float>()[0], 42.0f);
  EXPECT_TRUE(view.same_bytes(expected));
}

TEST_F(Safetensors, MisalignedTensorsAreReadCorrectly) {
  // A foreign writer may put an F32 at an odd offset; get() must still return the right values.
  const auto path = dir_.path() / "odd.safetensors";
  std::string data = "\x09";
  const float values[2] = {3.25f, -1.0f};
  data.append(reinterpret_cast<const char*>(values), sizeof values);
  write_file(path, file_with_header(R"({"pad":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                                    R"("f":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}})",
                                    data));
  const auto file = SafetensorsFile::open(path);
  const Tensor f = file.get("f");
  EXPECT_EQ(f.to_f32(), (std::vector<float>{3.25f, -1.0f}));
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(f.bytes().data()) % 4, 0u);
}

TEST_F(Safetensors, MissingTensorListsWhatTheFileHas) {
  const auto path = dir_.path() / "many.safetensors";
  NamedTensors tensors;
  for (int i = 0; i < 25; ++i) tensors.emplace_back("t" + std::to_string(100 + i), Tensor(DType::U8, {1}));
  write_safetensors(path, tensors);
  const auto file = SafetensorsFile::open(path);
  try {
    file.get("router.weight");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("many.safetensors"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'router.weight'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("t100, t101"), std::string::npos) << msg;
    EXPECT_NE(msg.find("t119"), std::string::npos) << msg;  // the 20th name is listed
    EXPECT_EQ(msg.find("t120"), std::string::npos) << msg;  // the 21st is not
    EXPECT_NE(msg.find("5 more"), std::string::npos) << msg;
  }
}

TEST_F(Safetensors, WriterErrorsNameThePath) {
  const auto missing_dir = dir_.path() / "no" / "such" / "dir" / "out.safetensors";
  try {
    write_safetensors(missing_dir, {{"x", Tensor(DType::U8, {1})}});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(missing_dir.string()), std::string::npos) << e.what();
  }
  const auto path = dir_.path() / "dup.safetensors";
  EXPECT_THROW(write_safetensors(path, {{"x", Tensor(DType::U8, {1})}, {"x", Tensor(DType::U8, {2})}}), InputError);
  EXPECT_THROW(write_safetensors(path, {{"__metadata__", Tensor(DType::U8, {1})}}), InputError);
  EXPECT_THROW(write_safetensors(path, {{std::string("bad\xFF"), Tensor(DType::U8, {1})}}), InputError);
  EXPECT_FALSE(std::filesystem::exists(path)) << "a failed write must leave nothing behind";
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path()));  // no temporary file either
}

TEST_F(Safetensors, OverwriteReplacesTheWholeFile) {
  const auto path = dir_.path() / "over.safetensors";
  write_safetensors(path, {{"big", patterned(DType::F64, {100}, 1)}});
  const Tensor small = patterned(DType::U8, {2}, 2);
  write_safetensors(path, {{"small", small}});
  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file.names(), std::vector<std::string>{"small"});
  EXPECT_TRUE(file.get("small").same_bytes(small));
}

// --- Corrupt files: each case must be an InputError naming the file and, where one is at fault,
// --- the tensor.

struct CorruptCase {
  const char* label;
  std::string bytes;
  const char* tensor;  // nullptr: a file-level problem
  const char* phrase;  // a piece of the explanation
};

std::vector<CorruptCase> corrupt_cases() {
  const std::string good_entry = R"("w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::string data8(8, '\0');
  std::vector<CorruptCase> c;
  const std::string valid = file_with_header("{" + good_entry + "}", data8);
  c.push_back({"truncated_data", valid.substr(0, valid.size() - 3), "w", "past"});
  c.push_back({"truncated_header", valid.substr(0, 20), nullptr, "runs past"});
  c.push_back({"shorter_than_length", std::string("\x01\0\0", 3), nullptr, "shorter"});
  c.push_back({"zero_bytes", std::string(), nullptr, "shorter"});
  c.push_back({"bad_json", file_with_header(R"({"w":{"dtype":"F32",)", data8), nullptr, "not valid JSON"});
  c.push_back({"huge_length", std::string("\0\0\0\0\0\0\0\x10", 8) + "{}", nullptr, "exceeds"});  // 2^60
  c.push_back({"all_ones_length", std::string(8, '\xFF') + "{}", nullptr, "exceeds"});
  c.push_back({"non_object_header", file_with_header("[1,2,3]", ""), nullptr, "not a JSON object"});
  c.push_back({"overlap",
               file_with_header(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                R"("v":{"dtype":"U8","shape":[4],"data_offsets":[6,10]}})",
                                std::string(10, '\0')),
               "v", "overlap tensor 'w'"});
  c.push_back({"offsets_past_end",
               file_with_header(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", data8), "w", "past"});
  c.push_back({"begin_after_end",
               file_with_header(R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[5,4]}})", data8), "w",
               "begin > end"});
  c.push_back({"shape_size_mismatch",
               file_with_header(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data8), "w",
               "needs 3 elements of 4 bytes"});
  c.push_back({"unknown_dtype",
               file_with_header(R"({"w":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}})", data8), "w",
               "F8_E4M3"});
  c.push_back({"negative_dim",
               file_with_header(R"({"w":{"dtype":"U8","shape":[-8],"data_offsets":[0,8]}})", data8), "w",
               "negative"});
  c.push_back({"fractional_dim",
               file_with_header(R"({"w":{"dtype":"U8","shape":[8.0],"data_offsets":[0,8]}})", data8), "w",
               "not a non-negative integer"});
  c.push_back({"overflowing_shape",
               file_with_header(R"({"w":{"dtype":"U8","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}})",
                                ""),
               "w", "too many elements"});
  c.push_back({"shape_not_array",
               file_with_header(R"({"w":{"dtype":"U8","shape":8,"data_offsets":[0,8]}})", data8), "w", "shape"});
  c.push_back({"missing_offsets", file_with_header(R"({"w":{"dtype":"U8","shape":[8]}})", data8), "w",
               "data_offsets missing"});
  c.push_back({"three_offsets",
               file_with_header(R"({"w":{"dtype":"U8","shape":[8],"data_offsets":[0,4,8]}})", data8), "w",
               "data_offsets"});
  c.push_back({"missing_dtype", file_with_header(R"({"w":{"shape":[8],"data_offsets":[0,8]}})", data8), "w",
               "dtype missing"});
  c.push_back({"entry_not_object", file_with_header(R"({"w":[1,2]})", data8), "w", "not an object"});
  c.push_back({"metadata_not_object", file_with_header(R"({"__metadata__":["a"]})", ""), nullptr, "__metadata__"});
  c.push_back({"metadata_value_not_string", file_with_header(R"({"__metadata__":{"k":1}})", ""), nullptr,
               "'k' is not a string"});
  c.push_back({"duplicate_name",
               file_with_header(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                                R"("w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                                std::string(2, '\0')),
               nullptr, "'w' is given twice"});
  c.push_back({"invalid_utf8", file_with_header("{\"w\xC3\":{}}", ""), nullptr, "not valid JSON"});
  return c;
}

TEST_F(Safetensors, CorruptFilesRaiseInputErrorNamingFileAndTensor) {
  for (const auto& c : corrupt_cases()) {
    const auto path = dir_.path() / (std::string(c.label) + ".safetensors");
    write_file(path, c.bytes);
    try {
      SafetensorsFile::open(path);
      ADD_FAILURE() << c.label << ": opened without error";
    } catch (const InputError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(path.string()), std::string::npos) << c.label << ": " << msg;
      if (c.tensor) {
        EXPECT_NE(msg.find(std::string("tensor '") + c.tensor + "'"), std::string::npos) << c.label << ": " << msg;
      }
      EXPECT_NE(msg.find(c.phrase), std::string::npos) << c.label << ": " << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << c.label << ": one line, got " << msg;
    }
  }
}

TEST_F(Safetensors, MissingFileIsAnInputError) {
  const auto path = dir_.path() / "absent.safetensors";
  try {
    SafetensorsFile::open(path);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("absent.safetensors"), std::string::npos) << e.what();
  }
  EXPECT_THROW(SafetensorsFile::open(dir_.path()), InputError);  // a directory
}

TEST_F(Safetensors, ZeroSizeTensorsMayShareAnOffset) {
  // Empty tensors occupy no bytes, so they never overlap anything, even inside another range.
  const auto path = dir_.path() / "empties.safetensors";
  write_file(path, file_with_header(R"({"w":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                                    R"("e1":{"dtype":"F32","shape":[0,3],"data_offsets":[2,2]},)"
                                    R"("e2":{"dtype":"F32","shape":[3,0],"data_offsets":[4,4]}})",
                                    "abcd"));
  const auto file = SafetensorsFile::open(path);
  EXPECT_TRUE(file.get("e1").empty());
  EXPECT_EQ(file.get("e2").shape(), (Shape{3, 0}));
  EXPECT_EQ(file.get("w").nbytes(), 4u);
}

}  // namespace
}  // namespace mxg
