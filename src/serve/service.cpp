#include "attn/serve/service.h"

#include <iostream>
#include <new>

#include <nlohmann/json.hpp>

#include "attn/core/error.h"
#include "batch_queue.h"
#include "handlers.h"
#include "request_fields.h"

namespace attn::serve {

void check_limits(const Limits& limits) {
  ATTN_CHECK(limits.max_body_bytes > 0, "serve limits: expected max_body_bytes > 0");
  ATTN_CHECK(limits.max_input_tokens > 0, "serve limits: expected max_input_tokens > 0, got ",
             limits.max_input_tokens);
  ATTN_CHECK(limits.max_output_tokens > 0, "serve limits: expected max_output_tokens > 0, got ",
             limits.max_output_tokens);
  ATTN_CHECK(limits.max_beam_size > 0, "serve limits: expected max_beam_size > 0, got ",
             limits.max_beam_size);
  ATTN_CHECK(limits.max_concurrent > 0, "serve limits: expected max_concurrent > 0, got ",
             limits.max_concurrent);
  ATTN_CHECK(limits.max_batch > 0, "serve limits: expected max_batch > 0, got ", limits.max_batch);
  ATTN_CHECK(limits.queue_size > 0, "serve limits: expected queue_size > 0, got ", limits.queue_size);
  ATTN_CHECK(limits.queue_wait_ms > 0, "serve limits: expected queue_wait_ms > 0, got ",
             limits.queue_wait_ms);
}

// ---- ConcurrencyLimit ------------------------------------------------------------------------

ConcurrencyLimit::Slot ConcurrencyLimit::try_acquire() {
  std::lock_guard<std::mutex> guard(mutex_);
  if (in_use_ >= capacity_) return Slot();
  ++in_use_;
  return Slot(this);
}

ConcurrencyLimit::Slot ConcurrencyLimit::acquire() {
  std::unique_lock<std::mutex> lock(mutex_);
  freed_.wait(lock, [this] { return in_use_ < capacity_; });
  ++in_use_;
  return Slot(this);
}

std::int64_t ConcurrencyLimit::in_use() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return in_use_;
}

ConcurrencyLimit::Slot::~Slot() {
  if (owner_ == nullptr) return;
  {
    std::lock_guard<std::mutex> guard(owner_->mutex_);
    --owner_->in_use_;
  }
  owner_->freed_.notify_one();
}

// ---- Service ---------------------------------------------------------------------------------

namespace {

std::string json_text(const nlohmann::ordered_json& json) {
  // Token pieces come from tokenizer files; a byte that is not UTF-8 must not fail a response.
  return json.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

Response json_response(int status, const nlohmann::ordered_json& json) {
  Response response;
  response.status = status;
  response.body = json_text(json);
  return response;
}

Response error_response(int status, const std::string& message) {
  return json_response(status, {{"error", message}});
}

Response method_not_allowed(std::string_view method, std::string_view allowed) {
  Response response = error_response(405, "method " + std::string(method.substr(0, 20)) +
                                               " is not allowed here; use " + std::string(allowed));
  response.headers.emplace_back("Allow", std::string(allowed));
  return response;
}

// The page may load only what this server serves (no other site's scripts, whatever a
// model's output contains) and may not be framed by another site's page.
Response file_response(const StaticFile& file) {
  Response response;
  response.content_type = file.content_type;
  response.body = file.body;
  response.headers.emplace_back("Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return response;
}

using Handler = nlohmann::ordered_json (*)(const HandlerContext&, std::string_view);

constexpr const char* kHealthPath = "/api/health";
constexpr const char* kModelsPath = "/api/models";

struct ModelRoute {
  const char* path;
  Handler handler;
};
constexpr ModelRoute kModelRoutes[] = {
    {"/api/translate", &translate}, {"/api/classify", &classify}, {"/api/generate", &generate},
    {"/api/embed", &embed}};

// The handler of a model route, or null.
Handler model_route(std::string_view path) {
  for (const ModelRoute& route : kModelRoutes) {
    if (path == route.path) return route.handler;
  }
  return nullptr;
}

}  // namespace

Service::Service(Models models, Limits limits, std::function<void(const std::string&)> log)
    : models_(std::move(models)), limits_(limits), log_(std::move(log)),
      runs_(limits.max_concurrent) {
  check_limits(limits_);
  if (!log_) log_ = [](const std::string& line) { std::cerr << line << std::endl; };
  for (const ServedModel* model : models_.all()) {
    queues_[model] = std::make_unique<BatchQueue>(*model, limits_, runs_);
  }
}

Service::~Service() = default;

std::int64_t Service::requests_waiting() const {
  std::int64_t waiting = 0;
  for (const auto& [model, queue] : queues_) waiting += queue->waiting();
  return waiting;
}

std::int64_t Service::batches_run() const {
  std::int64_t batches = 0;
  for (const auto& [model, queue] : queues_) batches += queue->batches_run();
  return batches;
}

std::int64_t Service::requests_run() const {
  std::int64_t requests = 0;
  for (const auto& [model, queue] : queues_) requests += queue->requests_run();
  return requests;
}

void Service::add_file(std::string path, StaticFile file) {
  ATTN_CHECK(!path.empty() && path.front() == '/', "serve: a file's path must start with '/', got '",
             path, "'");
  files_[std::move(path)] = std::move(file);
}

std::vector<std::string> Service::paths() const {
  std::vector<std::string> paths = {kHealthPath, kModelsPath};
  for (const ModelRoute& route : kModelRoutes) paths.emplace_back(route.path);
  for (const auto& [path, file] : files_) paths.push_back(path);
  return paths;
}

Response Service::handle(std::string_view method, std::string_view path, std::string_view body) const {
  try {
    if (body.size() > limits_.max_body_bytes) {
      return error_response(413, "the request body is " + std::to_string(body.size()) +
                                     " bytes; this server takes at most " +
                                     std::to_string(limits_.max_body_bytes));
    }
    return route(method, path, body);
  } catch (const HttpError& error) {
    Response response = error_response(error.status(), error.what());
    // Runs take about a second; a client that waits that long will likely find a free slot.
    if (error.status() == 503) response.headers.emplace_back("Retry-After", "1");
    return response;
  } catch (const Error& error) {
    // The library refused the input (its checks name what was wrong).
    return error_response(400, error.what());
  } catch (const std::bad_alloc&) {
    log_("serve: out of memory on " + std::string(method.substr(0, 20)) + " " +
         std::string(path.substr(0, 200)));
    return error_response(500, "internal error: out of memory");
  } catch (const std::exception& error) {
    log_("serve: unexpected error on " + std::string(method.substr(0, 20)) + " " +
         std::string(path.substr(0, 200)) + ": " + error.what());
    return error_response(500, "internal error: " + std::string(error.what()));
  } catch (...) {
    log_("serve: unexpected error on " + std::string(method.substr(0, 20)) + " " +
         std::string(path.substr(0, 200)));
    return error_response(500, "internal error");
  }
}

Response Service::route(std::string_view method, std::string_view path, std::string_view body) const {
  if (Handler handler = model_route(path)) {
    if (method != "POST") return method_not_allowed(method, "POST");
    const HandlerContext context{models_, limits_, queues_};
    return json_response(200, handler(context, body));
  }
  const bool is_health = path == kHealthPath, is_models = path == kModelsPath;
  const auto file = files_.find(path);
  if (!is_health && !is_models && file == files_.end()) {
    throw HttpError(404, "no such route: " + std::string(path.substr(0, 200)));
  }
  if (method != "GET" && method != "HEAD") return method_not_allowed(method, "GET, HEAD");
  if (is_health) {
    return json_response(200, {{"status", "ok"}, {"models", models_.all().size()},
                               {"runs_in_progress", runs_.in_use()},
                               {"requests_waiting", requests_waiting()},
                               {"batches_run", batches_run()},
                               {"requests_run", requests_run()}});
  }
  if (is_models) return json_response(200, models_json(models_, limits_));
  return file_response(file->second);
}

}  // namespace attn::serve
