#include "attn/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "attn/core/error.h"

namespace attn::io {
namespace {

std::string directory_of(const std::string& path) {
  std::string parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

// A name no other writer uses: the process id separates processes, the counter separates
// threads and calls, the random part separates restarts that reuse a process id.
std::string temporary_name_for(const std::string& path) {
  static std::atomic<std::uint64_t> counter{0};
  static const std::uint64_t seed = std::random_device{}();
  std::filesystem::path target(path);
  // Appended piece by piece: GCC 12 warns (-Wrestrict, falsely) about "." + std::string&&.
  std::string name = ".";
  name += target.filename().string();
  name += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1)) + "-" +
          std::to_string(seed % 1000000);
  return (target.parent_path() / name).string();
}

std::string describe_errno(int error_number) { return std::strerror(error_number); }

// Makes the rename itself durable: without this a crash can forget the new directory entry.
int sync_directory(const std::string& directory) {
  int descriptor = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (descriptor < 0) return errno;
  int result = ::fsync(descriptor) == 0 ? 0 : errno;
  ::close(descriptor);
  // Some file systems cannot sync a directory at all; the data itself is already synced.
  return result == EINVAL ? 0 : result;
}

}  // namespace

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  ATTN_CHECK(!path_.empty(), "atomic write: empty file name");
  struct stat target_status;
  ATTN_CHECK(!(::stat(path_.c_str(), &target_status) == 0 && S_ISDIR(target_status.st_mode)),
             "atomic write: cannot write '", path_, "': it is a directory");
  for (int attempt = 0; attempt < 100; ++attempt) {
    temporary_path_ = temporary_name_for(path_);
    // 0666 lets the umask decide the permissions, as for any newly created file.
    descriptor_ = ::open(temporary_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (descriptor_ >= 0) return;
    if (errno != EEXIST) break;
  }
  int error_number = errno;
  throw Error(detail::concat("atomic write: cannot create a temporary file in '",
                             directory_of(path_), "' to write '", path_,
                             "': ", describe_errno(error_number)));
}

AtomicFileWriter::~AtomicFileWriter() {
  if (!committed_) abandon();
}

void AtomicFileWriter::abandon() noexcept {
  if (descriptor_ >= 0) {
    ::close(descriptor_);
    descriptor_ = -1;
  }
  if (!temporary_path_.empty()) {
    ::unlink(temporary_path_.c_str());
    temporary_path_.clear();
  }
}

void AtomicFileWriter::fail(const std::string& action, int error_number) {
  abandon();
  throw Error(detail::concat("atomic write: ", action, " '", path_,
                             "' failed: ", describe_errno(error_number),
                             " (the original file, if any, is unchanged)"));
}

void AtomicFileWriter::write(const void* data, std::size_t size) {
  ATTN_CHECK(descriptor_ >= 0 && !committed_, "atomic write: '", path_,
             "' is already committed or abandoned");
  const auto* cursor = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t written = ::write(descriptor_, cursor, size);
    if (written < 0 && errno == EINTR) continue;
    // A zero-byte write makes no progress; report it as a full disk rather than spin.
    if (written <= 0) fail("writing", written < 0 ? errno : ENOSPC);
    cursor += written;
    size -= static_cast<std::size_t>(written);
  }
}

void AtomicFileWriter::commit() {
  ATTN_CHECK(descriptor_ >= 0 && !committed_, "atomic write: '", path_,
             "' is already committed or abandoned");
  if (::fsync(descriptor_) != 0) fail("flushing", errno);
  int descriptor = descriptor_;
  descriptor_ = -1;
  // close can report a delayed write error (for example on network file systems).
  if (::close(descriptor) != 0) fail("closing", errno);
  if (::rename(temporary_path_.c_str(), path_.c_str()) != 0) fail("renaming into", errno);
  temporary_path_.clear();
  committed_ = true;
  int error_number = sync_directory(directory_of(path_));
  ATTN_CHECK(error_number == 0, "atomic write: '", path_,
             "' was written, but syncing its directory failed: ", describe_errno(error_number));
}

void write_file_atomic(const std::string& path, std::string_view contents) {
  AtomicFileWriter writer(path);
  writer.write(contents);
  writer.commit();
}

}  // namespace attn::io
