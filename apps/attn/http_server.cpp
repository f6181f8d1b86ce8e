#include "http_server.h"

#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "attn/core/error.h"
#include "attn_web_assets.h"

namespace attn::cli {

namespace {

std::string lowercase(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

// "example.org:8080" -> "example.org", "[::1]:8080" -> "::1".
std::string_view host_name_of(std::string_view host_header) {
  if (host_header.starts_with('[')) {
    const std::size_t end = host_header.find(']');
    return end == std::string_view::npos ? host_header : host_header.substr(1, end - 1);
  }
  return host_header.substr(0, host_header.find(':'));
}

// "application/json; charset=utf-8" -> "application/json".
std::string media_type_of(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  while (!type.empty() && type.front() == ' ') type.remove_prefix(1);
  return lowercase(type);
}

// A route pattern that matches `path` literally. httplib matches patterns with std::regex,
// whose backtracking recursion grows with the subject: a catch-all ".*" would overflow the
// worker's stack on a long path, whereas a literal fails at the first differing character.
std::string literal_pattern(const std::string& path) {
  std::string pattern;
  for (char c : path) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '/' && c != '_') pattern += '\\';
    pattern += c;
  }
  return pattern;
}

void set_json_error(httplib::Response& response, int status, const std::string& message) {
  response.status = status;
  const nlohmann::json body = {{"error", message}};
  response.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                       "application/json");
}

// The message of an error httplib answered itself (its body is empty).
std::string transport_error_message(int status, std::size_t max_body_bytes) {
  switch (status) {
    case 400: return "bad request: the HTTP request could not be parsed";
    case 404: return "no such route";
    case 413: return "the request body is larger than this server takes (" +
                     std::to_string(max_body_bytes) + " bytes)";
    case 414: return "the request URI is too long";
    default: return "request failed with status " + std::to_string(status);
  }
}

void copy_response(const serve::Response& from, httplib::Response& to) {
  to.status = from.status;
  for (const auto& [name, value] : from.headers) to.set_header(name.c_str(), value);
  to.set_content(from.body, from.content_type.c_str());
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  const std::string lower = lowercase(host);
  return lower == "localhost" || lower == "::1" || lower.starts_with("127.");
}

void add_web_page(serve::Service& service) {
  for (const web_assets::Asset& asset : web_assets::kAssets) {
    service.add_file(asset.path, {asset.content_type,
                                  std::string(reinterpret_cast<const char*>(asset.data), asset.size)});
  }
}

struct HttpServer::Impl {
  Impl(const serve::Service& service, HttpServerOptions options)
      : service(service), options(std::move(options)), loopback(is_loopback_host(this->options.host)) {}

  void configure();
  void register_routes();
  void set_error_handlers();
  void handle(const httplib::Request& request, httplib::Response& response) const;
  // The transport's own checks (see the header); false when `response` already says why not.
  bool admit(const httplib::Request& request, httplib::Response& response) const;
  void log(const httplib::Request& request, const httplib::Response& response) const;

  const serve::Service& service;
  HttpServerOptions options;
  bool loopback;
  httplib::Server server;
  std::atomic<bool> stop_requested{false};
  std::atomic<bool> running{false};
  std::atomic<bool> ran{false};
  std::atomic<int> listening_socket{-1};  // closed by httplib once it has run, else by us
};

void HttpServer::Impl::configure() {
  const int workers = std::max(1, options.worker_threads);
  server.new_task_queue = [workers] {
    return new httplib::ThreadPool(static_cast<std::size_t>(workers));
  };
  server.set_payload_max_length(options.max_body_bytes);
  // httplib's default sets SO_REUSEPORT, which lets a second server bind a port already in
  // use and the kernel share the connections between the two: a busy port should be an
  // error instead. SO_REUSEADDR alone still allows a restart while old connections linger.
  server.set_socket_options([this](int socket) {
    const int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listening_socket = socket;
  });
  server.set_read_timeout(options.read_timeout_seconds, 0);
  server.set_write_timeout(options.write_timeout_seconds, 0);
  register_routes();
  set_error_handlers();
  if (options.log) {
    server.set_logger([this](const httplib::Request& request, const httplib::Response& response) {
      log(request, response);
    });
  }
}

// Every path the service answers, for every method, so that the service says 405 itself.
void HttpServer::Impl::register_routes() {
  const httplib::Server::Handler handler = [this](const httplib::Request& request,
                                                  httplib::Response& response) {
    handle(request, response);
  };
  for (const std::string& path : service.paths()) {
    const std::string pattern = literal_pattern(path);
    server.Get(pattern, handler);
    server.Post(pattern, handler);
    server.Put(pattern, handler);
    server.Patch(pattern, handler);
    server.Delete(pattern, handler);
    server.Options(pattern, handler);
  }
}

void HttpServer::Impl::set_error_handlers() {
  // httplib's own answers (413, 404 for an unknown path, 400) come with an empty body.
  const std::size_t max_body = options.max_body_bytes;
  const httplib::Server::HandlerWithResponse fill_error = [max_body](const httplib::Request&,
                                                                     httplib::Response& response) {
    if (!response.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    set_json_error(response, response.status, transport_error_message(response.status, max_body));
    return httplib::Server::HandlerResponse::Handled;
  };
  server.set_error_handler(fill_error);
  server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& response, std::exception_ptr) {
        set_json_error(response, 500, "internal error");
      });
}

bool HttpServer::Impl::admit(const httplib::Request& request, httplib::Response& response) const {
  if (loopback && request.has_header("Host") &&
      !is_loopback_host(host_name_of(request.get_header_value("Host")))) {
    set_json_error(response, 403,
                   "this server answers only requests addressed to localhost, got Host " +
                       request.get_header_value("Host").substr(0, 100));
    return false;
  }
  if (request.method == "POST" &&
      media_type_of(request.get_header_value("Content-Type")) != "application/json") {
    set_json_error(response, 415, "POST bodies must be sent as Content-Type: application/json");
    return false;
  }
  return true;
}

void HttpServer::Impl::handle(const httplib::Request& request, httplib::Response& response) const {
  const auto start = std::chrono::steady_clock::now();
  if (!admit(request, response)) return;
  copy_response(service.handle(request.method, request.path, request.body), response);
  const std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start;
  char timing[48];
  std::snprintf(timing, sizeof timing, "app;dur=%.1f", elapsed.count());
  response.set_header("Server-Timing", timing);
}

void HttpServer::Impl::log(const httplib::Request& request, const httplib::Response& response) const {
  // "POST /api/translate 200 75590 bytes 54.0 ms"
  std::ostringstream line;
  line << request.method << ' ' << request.path.substr(0, 200) << ' ' << response.status << ' '
       << response.body.size() << " bytes";
  const std::string timing = response.get_header_value("Server-Timing");
  if (timing.starts_with("app;dur=")) line << ' ' << timing.substr(8) << " ms";
  options.log(line.str());
}

HttpServer::HttpServer(const serve::Service& service, HttpServerOptions options)
    : impl_(std::make_unique<Impl>(service, std::move(options))) {
  impl_->configure();
}

HttpServer::~HttpServer() {
  stop();
  // httplib closes its socket when its loop ends, and only then.
  if (!impl_->ran && impl_->listening_socket >= 0) ::close(impl_->listening_socket);
}

int HttpServer::bind() {
  const HttpServerOptions& options = impl_->options;
  ATTN_CHECK(options.port >= 0 && options.port <= 65535, "serve: expected a port from 0 to 65535, got ",
             options.port);
  int port = options.port;
  if (port == 0) {
    port = impl_->server.bind_to_any_port(options.host);
    ATTN_CHECK(port > 0, "serve: cannot listen on ", options.host, " (is it an address of this machine?)");
  } else {
    ATTN_CHECK(impl_->server.bind_to_port(options.host, port), "serve: cannot listen on ",
               options.host, ":", port, " (in use, or not an address of this machine?)");
  }
  // httplib listens with a backlog of 5 connections. A burst of clients that each open a
  // connection per request (most clients without keep-alive) overflows it, and Linux then
  // drops handshakes, some of which end in a reset after the client sent its request: lost
  // requests (the load test in tests/serve saw them). Listening again on a listening socket
  // sets its backlog; the kernel caps it at net.core.somaxconn.
  ::listen(impl_->listening_socket, SOMAXCONN);
  return port;
}

void HttpServer::run() {
  // stop() and run() each announce themselves before looking at the other, so whichever
  // comes second sees the first: a stop() that comes before the loop starts is not lost.
  impl_->running = true;
  if (!impl_->stop_requested) {
    impl_->ran = true;
    impl_->server.listen_after_bind();
  }
  impl_->running = false;
}

void HttpServer::stop() {
  impl_->stop_requested = true;
  // httplib's stop() has no effect until its loop is under way, so ask until run() returns.
  while (impl_->running) {
    impl_->server.stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace attn::cli
