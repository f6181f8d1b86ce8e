// The HTTP API of `attn serve` as a function from a request (method, path, body) to a
// response (status, content type, body), with no sockets: the server program (apps/attn)
// hands each request to Service::handle and writes back what it returns, and the tests and
// the fuzz target call it directly. docs/SERVE.md describes the API.
//
//   GET  /api/health      {"status": "ok", "models": N}
//   GET  /api/models      the models (name, kind, arch, limits, labels, decoding defaults)
//                         and the server's limits
//   POST /api/translate   {"text", "model"?, "attention"?, decoding options}
//   POST /api/classify    {"text", "model"?, "attention"?}
//   POST /api/generate    {"text", "model"?, "attention"?, decoding options}
//   GET  <page path>      the static files added with add_file (the web page)
//
// Every error is {"error": "..."} with a status: 400 malformed JSON, a field of the wrong
// type or range, a missing or unknown field, empty text, invalid UTF-8, input longer than
// the limits; 404 unknown route or model; 405 a known route with another method (with an
// Allow header); 413 a body over Limits::max_body_bytes; 503 when Limits::queue_size
// requests already wait for the model (with Retry-After); 504 when a request waited
// Limits::queue_wait_ms without its turn; 500 an unexpected exception (the message is
// logged, the service keeps answering). handle never throws.
//
// Requests for one model wait in a bounded queue and run in batches: the requests that
// arrived while the model was busy are decoded together, up to Limits::max_batch of them with
// the same decoding settings (src/serve/batch_queue.h). A request's answer is the one it
// would get alone (docs/SERVE.md says how exactly).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "attn/serve/models.h"

namespace attn::serve {

struct Limits {
  std::size_t max_body_bytes = 64 * 1024;  // request body
  std::int64_t max_input_tokens = 256;      // text, in tokens of the model's tokenizer
  std::int64_t max_output_tokens = 256;     // max_length of translate and generate
  std::int64_t max_beam_size = 16;
  std::int64_t max_concurrent = 2;          // model runs at once, over all models
  std::int64_t max_batch = 32;              // requests of one model decoded together
  std::int64_t queue_size = 64;             // requests waiting per model (503 beyond)
  std::int64_t queue_wait_ms = 10'000;      // longest wait for a run to start (504 beyond)
};

// Throws attn::Error naming a limit that is not positive.
void check_limits(const Limits& limits);

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type
};

// A static file the service answers GET requests for (the page and its script and style).
struct StaticFile {
  std::string content_type;
  std::string body;
};

// At most `capacity` holders at once: the model runs under way over all models.
class ConcurrencyLimit {
 public:
  explicit ConcurrencyLimit(std::int64_t capacity) : capacity_(capacity) {}

  class Slot {
   public:
    Slot() = default;
    explicit Slot(ConcurrencyLimit* owner) : owner_(owner) {}
    Slot(Slot&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
    Slot& operator=(Slot&&) = delete;
    ~Slot();
    explicit operator bool() const { return owner_ != nullptr; }

   private:
    ConcurrencyLimit* owner_ = nullptr;
  };

  // A held slot, or an empty one when all `capacity` are taken.
  Slot try_acquire();
  // A held slot, waiting for one to be free.
  Slot acquire();
  std::int64_t in_use() const;

 private:
  std::int64_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable freed_;
  std::int64_t in_use_ = 0;
};

class BatchQueue;

class Service {
 public:
  // `log` receives one line per unexpected failure (500); by default standard error.
  Service(Models models, Limits limits, std::function<void(const std::string&)> log = {});
  ~Service();

  // Serves `body` with `content_type` for GET `path` (an absolute path such as "/").
  void add_file(std::string path, StaticFile file);

  // Thread-safe; never throws. HEAD is answered as GET (the server drops the body).
  Response handle(std::string_view method, std::string_view path, std::string_view body) const;

  // Every path the service answers (the API's and the files'), for a server that registers
  // routes one by one; any other path is a 404.
  std::vector<std::string> paths() const;

  const Models& models() const { return models_; }
  const Limits& limits() const { return limits_; }
  // Model runs under way now, and requests waiting for one.
  std::int64_t runs_in_progress() const { return runs_.in_use(); }
  std::int64_t requests_waiting() const;
  // Batches run so far over all models, and the requests they held.
  std::int64_t batches_run() const;
  std::int64_t requests_run() const;

 private:
  Response route(std::string_view method, std::string_view path, std::string_view body) const;

  Models models_;
  Limits limits_;
  std::function<void(const std::string&)> log_;
  std::map<std::string, StaticFile, std::less<>> files_;
  mutable ConcurrencyLimit runs_;
  std::map<const ServedModel*, std::unique_ptr<BatchQueue>> queues_;  // one per model
};

}  // namespace attn::serve
