#include "attn/io/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "attn/io/safetensors.h"
#include "support/temporary_directory.h"

namespace attn::io {
namespace {

using attn::testing::TemporaryDirectory;

std::string read_text(const std::string& path) {
  std::ifstream stream(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(stream), {});
}

void expect_error_mentions(const std::function<void()>& action, const std::string& fragment) {
  try {
    action();
    ADD_FAILURE() << "expected an attn::Error mentioning '" << fragment << "'";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos) << error.what();
  }
}

using Names = std::vector<std::string>;

TEST(AtomicFile, WritesAndReplacesFiles) {
  TemporaryDirectory directory;
  std::string path = directory.file("out.txt");
  write_file_atomic(path, "first");
  EXPECT_EQ(read_text(path), "first");
  write_file_atomic(path, "second, longer");
  EXPECT_EQ(read_text(path), "second, longer");
  write_file_atomic(path, "");
  EXPECT_EQ(read_text(path), "");
  EXPECT_EQ(directory.entries(), Names{"out.txt"});
}

TEST(AtomicFile, NewFilesGetTheUsualPermissions) {
  TemporaryDirectory directory;
  mode_t mask = ::umask(022);
  write_file_atomic(directory.file("out.txt"), "x");
  ::umask(mask);
  auto permissions = std::filesystem::status(directory.file("out.txt")).permissions();
  EXPECT_EQ(permissions, std::filesystem::perms(0644));
}

TEST(AtomicFile, TheTargetAppearsOnlyOnCommit) {
  TemporaryDirectory directory;
  std::string path = directory.file("out.txt");
  write_file_atomic(path, "old");
  {
    AtomicFileWriter writer(path);
    writer.write("new contents");
    EXPECT_EQ(read_text(path), "old");
    EXPECT_TRUE(std::filesystem::exists(writer.temporary_path()));
    EXPECT_EQ(std::filesystem::path(writer.temporary_path()).parent_path(), directory.path());
    writer.commit();
  }
  EXPECT_EQ(read_text(path), "new contents");
  EXPECT_EQ(directory.entries(), Names{"out.txt"});
}

TEST(AtomicFile, AbandoningAWriterRemovesTheTemporaryFile) {
  TemporaryDirectory directory;
  std::string path = directory.file("out.txt");
  write_file_atomic(path, "old");
  {
    AtomicFileWriter writer(path);
    writer.write("half of it");
  }  // no commit, as when an exception unwinds through the writer
  EXPECT_EQ(read_text(path), "old");
  EXPECT_EQ(directory.entries(), Names{"out.txt"});
}

TEST(AtomicFile, MissingDirectoryIsAClearError) {
  TemporaryDirectory directory;
  std::string path = directory.file("no/such/dir/out.txt");
  expect_error_mentions([&] { write_file_atomic(path, "x"); }, "no/such/dir");
  expect_error_mentions([&] { write_file_atomic(path, "x"); }, "No such file or directory");
  EXPECT_TRUE(directory.entries().empty());
}

TEST(AtomicFile, RefusesToReplaceADirectory) {
  TemporaryDirectory directory;
  std::filesystem::create_directory(directory.file("target"));
  expect_error_mentions([&] { write_file_atomic(directory.file("target"), "x"); },
                        "is a directory");
  EXPECT_EQ(directory.entries(), Names{"target"});
}

TEST(AtomicFile, UnwritableDirectoryLeavesTheOldFileAndNoTemporary) {
  TemporaryDirectory directory;
  std::string path = directory.file("out.txt");
  write_file_atomic(path, "old");
  std::filesystem::permissions(directory.path(), std::filesystem::perms(0555));
  if (::access(directory.path().c_str(), W_OK) == 0) {
    GTEST_SKIP() << "running with privileges that ignore directory permissions";
  }
  expect_error_mentions([&] { write_file_atomic(path, "new"); }, "Permission denied");
  EXPECT_EQ(read_text(path), "old");
  EXPECT_EQ(directory.entries(), Names{"out.txt"});
}

// A failure after the data is written (here: the target turns into a directory before the
// rename) still removes the temporary file.
TEST(AtomicFile, AFailedRenameRemovesTheTemporaryFile) {
  TemporaryDirectory directory;
  std::string path = directory.file("out");
  AtomicFileWriter writer(path);
  writer.write("data");
  std::filesystem::create_directory(path);
  std::filesystem::create_directory(path + "/occupied");  // a non-empty directory
  expect_error_mentions([&] { writer.commit(); }, "renaming");
  EXPECT_EQ(directory.entries(), Names{"out"});
}

// Simulates a full disk in the middle of a write with a file size limit: the write fails
// partway through the tensor data.
TEST(AtomicFile, AWriteFailingMidwayLeavesTheOldCheckpoint) {
  TemporaryDirectory directory;
  std::string path = directory.file("model.safetensors");
  TensorMap small{{"w", Tensor::ones({4})}};
  save_safetensors(path, small);
  std::string original = read_text(path);

  rlimit saved_limit;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved_limit), 0);
  rlimit limit = saved_limit;
  limit.rlim_cur = 64 * 1024;
  auto saved_handler = std::signal(SIGXFSZ, SIG_IGN);  // get EFBIG instead of being killed
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  TensorMap large{{"w", Tensor::ones({1024 * 1024})}};  // 4 MiB
  std::string message;
  try {
    save_safetensors(path, large);
  } catch (const Error& error) {
    message = error.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &saved_limit);
  std::signal(SIGXFSZ, saved_handler);

  EXPECT_NE(message.find("writing"), std::string::npos) << message;
  EXPECT_NE(message.find("File too large"), std::string::npos) << message;
  EXPECT_EQ(read_text(path), original);
  EXPECT_EQ(directory.entries(), Names{"model.safetensors"});
}

}  // namespace
}  // namespace attn::io
