// Inputs that are not regular files fail at once instead of blocking in open(2).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "kernels/common/errors.hpp"
#include "kernels/common/regular_file.hpp"

namespace mxg {
namespace {

std::filesystem::path temp_dir() {
  char tmpl[] = "/tmp/mxg-regular-XXXXXX";
  return ::mkdtemp(tmpl);
}

TEST(RegularFile, FifoWithoutWriterFailsFast) {
  // Reproduces H1. If open(2) blocks, the watchdog opens the write end after 3 s to release it,
  // and the elapsed time shows the hang.
  const auto dir = temp_dir();
  const auto fifo = dir / "in.json";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::thread watchdog([&] {
    std::this_thread::sleep_for(std::chrono::seconds(3));
    const int w = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (w >= 0) ::close(w);
  });
  const auto start = std::chrono::steady_clock::now();
  try {
    read_regular_file(fifo, "--data in.json");
    ADD_FAILURE() << "a FIFO was read";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "--data in.json: is a FIFO, expected a regular file");
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  watchdog.join();
  std::filesystem::remove_all(dir);
}

TEST(RegularFile, DirectoryMissingAndOversizedNamed) {
  const auto dir = temp_dir();
  EXPECT_THROW(read_regular_file(dir, "x"), InputError);
  try {
    read_regular_file(dir / "none", "--case none");
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--case none: cannot open: No such file"), std::string::npos);
  }
  std::ofstream(dir / "big") << std::string(100, 'z');
  try {
    read_regular_file(dir / "big", "big", 10);
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "big: file of 100 bytes exceeds the 10-byte limit");
  }
  EXPECT_EQ(read_regular_file(dir / "big", "big", 100), std::string(100, 'z'));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mxg

namespace mxg {
namespace {

TEST(ReplaceableOutput, OnlyAbsentOrRegularPathsMayBeReplaced) {
  // Reproduces "--out replaces a device node or a symlink with a regular file".
  const auto dir = temp_dir();
  EXPECT_NO_THROW(check_replaceable_output(dir / "new.json", "--out"));
  std::ofstream(dir / "file") << "x";
  EXPECT_NO_THROW(check_replaceable_output(dir / "file", "--out"));
  std::filesystem::create_symlink(dir / "file", dir / "link");
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
  for (const auto& [name, kind] : {std::pair{"link", "a symbolic link"}, std::pair{"fifo", "a FIFO"}}) {
    try {
      check_replaceable_output(dir / name, "--out x");
      ADD_FAILURE() << name;
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()), std::string("--out x: is ") + kind + "; refusing to replace it with a regular file");
    }
  }
  EXPECT_THROW(check_replaceable_output("/dev/null", "--out"), InputError);
  EXPECT_THROW(check_replaceable_output(dir, "--out"), InputError);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mxg
