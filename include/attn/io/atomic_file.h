// All-or-nothing file writes: the bytes go to a temporary file in the target's directory,
// which is flushed to disk and then renamed over the target. A reader (or a crash at any
// moment) sees either the old file or the complete new one, never a half-written file.
// On any failure the temporary file is removed and the target is left untouched.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace attn::io {

class AtomicFileWriter {
 public:
  // Creates the temporary file; throws attn::Error when the directory is missing or not
  // writable.
  explicit AtomicFileWriter(std::string path);
  // Without a successful commit(), removes the temporary file (the target is untouched).
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  // Appends bytes; throws attn::Error on a failed write (disk full, file size limit, ...).
  void write(const void* data, std::size_t size);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }

  // fsync the file, rename it over the target, fsync the directory so the rename itself
  // survives a crash. Throws attn::Error on failure, after removing the temporary file.
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temporary_path() const { return temporary_path_; }

 private:
  void abandon() noexcept;
  [[noreturn]] void fail(const std::string& action, int error_number);

  std::string path_;
  std::string temporary_path_;
  int descriptor_ = -1;
  bool committed_ = false;
};

// Replaces `path` with `contents` atomically.
void write_file_atomic(const std::string& path, std::string_view contents);

}  // namespace attn::io
