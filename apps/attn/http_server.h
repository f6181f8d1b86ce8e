// `attn serve`'s HTTP server: cpp-httplib's sockets and worker threads around
// serve::Service, which does all the routing and answering (attn/serve/service.h). What
// this layer adds is what only the transport knows:
//   - the body limit is enforced while reading (httplib answers 413 before a large body is
//     read into memory), and httplib's own error responses get a JSON body too;
//   - POST bodies must be declared application/json (415 otherwise): a web page on another
//     site can send a cross-site "simple" POST only as text/plain or a form, so this keeps
//     other sites' pages from driving the models through the visitor's browser;
//   - bound to a loopback address, requests must name a loopback Host (403 otherwise),
//     which defeats DNS rebinding (a hostile name resolved to 127.0.0.1);
//   - one log line per request: method, path, status, bytes and time taken.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "attn/serve/service.h"

namespace attn::cli {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                        // 0: any free port (bind() says which)
  int worker_threads = 6;                 // connections served at once
  std::size_t max_body_bytes = 64 * 1024; // read limit; keep it equal to the service's
  int read_timeout_seconds = 10;
  int write_timeout_seconds = 30;
  std::function<void(const std::string&)> log;  // one line per request; none when empty
};

// 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(std::string_view host);

// Adds the page compiled into the program (web/: index.html as "/", app.js, style.css).
void add_web_page(serve::Service& service);

class HttpServer {
 public:
  HttpServer(const serve::Service& service, HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the listening socket and returns its port. Throws attn::Error when the address
  // cannot be bound (in use, not local, no permission).
  int bind();
  // Serves until stop(); call after bind(), typically on its own thread.
  void run();
  // Stops run() from any thread; safe to call more than once, and before run() starts.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace attn::cli
