// `mxguard layout` end to end: the real binary on small safetensors files. Apply + --inverse round
// trips are byte-identical, explain and tp-table print what LAYOUTS.md says, and bad input exits 2
// with one line naming the file, the tensor and the dimension.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/tensor/safetensors.hpp"

#ifndef MXGUARD_EXE
#error "MXGUARD_EXE must name the mxguard binary"
#endif

namespace mxg {
namespace {

namespace fs = std::filesystem;

struct CliRun {
  int rc = -1;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

class LayoutCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mxg_layout_cli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  CliRun mxguard(const std::vector<std::string>& args) const {
    std::string cmd = "'" MXGUARD_EXE "'";
    for (const auto& a : args) cmd += " '" + a + "'";
    cmd += " > '" + path("stdout") + "' 2> '" + path("stderr") + "'";
    const int status = std::system(cmd.c_str());
    CliRun r;
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(dir_ / "stdout");
    r.err = slurp(dir_ / "stderr");
    return r;
  }

  // A tensor whose bytes all differ from their neighbours, so any misplaced byte shows.
  std::string write_input(const std::string& file, const std::string& name, DType dtype, const Shape& shape) const {
    Tensor t(dtype, shape);
    auto b = t.mutable_bytes();
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::byte>((i * 37 + i / 251) & 0xFF);
    write_safetensors(path(file), {{name, t}});
    return path(file);
  }

  static Tensor read(const std::string& file, const std::string& name) {
    return SafetensorsFile::open(file).get(name);
  }

  fs::path dir_;
};

TEST_F(LayoutCli, ApplyThenInverseIsByteIdentical) {
  struct Case {
    std::string transform;
    std::vector<std::string> options, inverse_options;
    Shape shape;
  };
  const std::vector<Case> cases = {
      {"deinterleave", {}, {}, {2, 64, 4, 16}},
      {"interleave", {"--experts", "2"}, {"--experts", "2"}, {128, 12}},
      {"shuffle-weight", {}, {}, {2, 64, 4, 16}},
      {"shuffle-weight", {"--gu-interleave", "--gate-up"}, {"--gu-interleave", "--gate-up"}, {2, 64, 128}},
      {"shuffle-scale", {"--experts", "3"}, {"--experts", "3", "--rows", "40", "--cols", "5"}, {120, 5}},
      {"shuffle-scale",
       {"--gu-interleave", "--gate-up", "--experts", "2"},
       {"--gu-interleave", "--gate-up", "--experts", "2", "--rows", "64", "--cols", "6"},
       {128, 6}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.transform + " " + ::testing::PrintToString(c.options));
    const std::string in = write_input("in.safetensors", "w", DType::U8, c.shape);
    std::vector<std::string> fwd = {"layout", "apply", c.transform, "--in", in, "--tensor", "w", "--out",
                                    path("mid.safetensors")};
    fwd.insert(fwd.end(), c.options.begin(), c.options.end());
    const CliRun a = mxguard(fwd);
    ASSERT_EQ(a.rc, 0) << a.err;
    const Tensor mid = read(path("mid.safetensors"), "w");
    EXPECT_EQ(mid.dtype(), DType::U8);
    EXPECT_FALSE(std::equal(mid.bytes().begin(), mid.bytes().end(), read(in, "w").bytes().begin()));

    std::vector<std::string> inv = {"layout", "apply", c.transform, "--inverse", "--in", path("mid.safetensors"),
                                    "--tensor", "w", "--out", path("back.safetensors")};
    inv.insert(inv.end(), c.inverse_options.begin(), c.inverse_options.end());
    const CliRun b = mxguard(inv);
    ASSERT_EQ(b.rc, 0) << b.err;
    EXPECT_TRUE(read(path("back.safetensors"), "w").same_bytes(read(in, "w")));
  }
}

TEST_F(LayoutCli, ScaleShuffleWritesPaddedTwoDAndTpSliceKeepsDtype) {
  const std::string in = write_input("s.safetensors", "s", DType::U8, {3, 40, 5});
  const CliRun r = mxguard({"layout", "apply", "shuffle-scale", "--in", in, "--tensor", "s", "--out", path("o.st")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(read(path("o.st"), "s").shape(), (Shape{256, 8}));  // 120 rows -> 256, 5 cols -> 8

  const std::string bias =
      write_input("b.safetensors", "model.layers.0.mlp.experts.gate_up_proj_bias", DType::BF16, {2, 640});
  const CliRun t = mxguard({"layout", "apply", "tp-slice", "--tp", "4", "--rank", "3", "--in", bias, "--tensor",
                         "model.layers.0.mlp.experts.gate_up_proj_bias", "--out", path("b3.st")});
  ASSERT_EQ(t.rc, 0) << t.err;
  const Tensor sliced = read(path("b3.st"), "model.layers.0.mlp.experts.gate_up_proj_bias");
  EXPECT_EQ(sliced.dtype(), DType::BF16);
  EXPECT_EQ(sliced.shape(), (Shape{2, 512}));  // I = 320: I/tp = 80 -> I_p = 256, 2*I_p rows
  // Rank 3 of 4 loads units [288, 320): bias rows 576..639 land at 0..63.
  const Tensor src = read(bias, "model.layers.0.mlp.experts.gate_up_proj_bias");
  EXPECT_EQ(sliced.as<std::uint16_t>()[0], src.as<std::uint16_t>()[576]);
  EXPECT_EQ(sliced.as<std::uint16_t>()[512 + 63], src.as<std::uint16_t>()[640 + 639]);
  EXPECT_EQ(sliced.as<std::uint16_t>()[64], 0);
}

TEST_F(LayoutCli, ExplainPrintsBothDirectionsWithTile) {
  const CliRun r = mxguard({"layout", "explain", "shuffle-weight", "--shape", "1,32,64", "--row", "17", "--col", "35"});
  ASSERT_EQ(r.rc, 0) << r.err;
  // Byte (17, 35): tile row 1, tile col 2 = tile 6; row 1 byte 3 in it = offset 1555 = (24, 19).
  EXPECT_NE(r.out.find("input  expert 0 row 17 col 35 -> output expert 0 row 24 col 19"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tile 6 (tile row 1, tile col 2), row 1 byte 3 inside the tile"), std::string::npos) << r.out;
  // Output offset 17*64 + 35 = 1123 = tile 4 (tile row 1, col 0), row 6 byte 3 <- input (22, 3).
  EXPECT_NE(r.out.find("output expert 0 row 17 col 35 <- input  expert 0 row 22 col 3"), std::string::npos)
      << r.out;

  const CliRun tp = mxguard({"layout", "explain", "tp-slice", "--tp", "4", "--rank", "1", "--tensor",
                          "x.gate_up_proj_blocks", "--shape", "2,5760,90,16", "--row", "1400", "--col", "0"});
  ASSERT_EQ(tp.rc, 0) << tp.err;
  EXPECT_NE(tp.out.find("-> none"), std::string::npos) << tp.out;  // unit 700 belongs to rank 0
  EXPECT_NE(tp.out.find("intermediate units [736, 1472)"), std::string::npos) << tp.out;
}

TEST_F(LayoutCli, TpTableListsEveryRank) {
  const CliRun r = mxguard({"layout", "tp-table", "--intermediate", "2880", "--hidden", "2880", "--tp", "4"});
  ASSERT_EQ(r.rc, 0) << r.err;
  // LAYOUTS.md §4: 736, 736, 736, 672 units; I_p 768; intermediate_pad 48.
  const char* expected_rows[] = {"[0, 736)", "[736, 1472)", "[1472, 2208)", "[2208, 2880)"};
  const int loaded[] = {736, 736, 736, 672};
  std::istringstream lines(r.out);
  std::string line;
  int rank = 0;
  while (std::getline(lines, line)) {
    if (rank < 4 && line.find(expected_rows[rank]) != std::string::npos) {
      std::istringstream fields(line.substr(line.find(')') + 1));
      int units = 0, shard = 0, ip = 0, pad = 0;
      fields >> units >> shard >> ip >> pad;
      EXPECT_EQ(units, loaded[rank]) << line;
      EXPECT_EQ(shard, 720) << line;
      EXPECT_EQ(ip, 768) << line;
      EXPECT_EQ(pad, 48) << line;
      ++rank;
    }
  }
  EXPECT_EQ(rank, 4) << r.out;
}

// Exit 2 and exactly one stderr line containing every fragment.
void expect_input_error(const CliRun& r, const std::vector<std::string>& fragments) {
  EXPECT_EQ(r.rc, 2) << r.out << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  for (const auto& f : fragments) EXPECT_NE(r.err.find(f), std::string::npos) << "missing '" << f << "' in " << r.err;
}

TEST_F(LayoutCli, BadInputExitsTwoNamingFileTensorAndDimension) {
  const std::string in = write_input("w13.safetensors", "w13", DType::U8, {1, 5762, 32});
  expect_input_error(mxguard({"layout", "apply", "shuffle-weight", "--in", in, "--tensor", "w13", "--out",
                              path("o.st")}),
                     {in, "'w13'", "rows = 5762 is not a multiple of 16",
                      "separated-tiles shuffle needs rows % 16 == 0"});
  expect_input_error(mxguard({"layout", "apply", "deinterleave", "--in", in, "--tensor", "w2", "--out",
                              path("o.st")}),
                     {in, "w2"});
  expect_input_error(mxguard({"layout", "apply", "shuffle-scale", "--inverse", "--in", in, "--tensor", "w13",
                              "--out", path("o.st")}),
                     {in, "'w13'", "--rows"});
  expect_input_error(mxguard({"layout", "apply", "tp-slice", "--in", in, "--tensor", "w13", "--out", path("o.st")}),
                     {in, "'w13'", "--kind"});
  const std::string w2 = write_input("w2.safetensors", "w2", DType::U8, {1, 64, 32});
  expect_input_error(mxguard({"layout", "apply", "tp-slice", "--kind", "down_proj_blocks", "--tp", "2", "--rank",
                              "2", "--in", w2, "--tensor", "w2", "--out", path("o.st")}),
                     {w2, "'w2'", "rank = 2 must be in [0, 2)"});
  expect_input_error(mxguard({"layout", "explain", "shuffle-weight", "--shape", "1,32,1448", "--row", "0", "--col",
                              "0"}),
                     {"[1, 32, 1448]", "row bytes = 1448 is not a multiple of 32"});
  EXPECT_FALSE(fs::exists(path("o.st")));
  EXPECT_EQ(mxguard({"layout", "apply", "transpose", "--in", in, "--tensor", "w13", "--out", path("o.st")}).rc, 2);
}

TEST_F(LayoutCli, HelpTeachesWithExamples) {
  for (const char* sub : {"apply", "explain", "tp-table"}) {
    const CliRun r = mxguard({"layout", sub, "--help"});
    EXPECT_EQ(r.rc, 0);
    EXPECT_NE(r.out.find("Examples:"), std::string::npos) << sub;
    EXPECT_NE(r.out.find("mxguard layout"), std::string::npos) << sub;
  }
}

}  // namespace
}  // namespace mxg
