// `attn serve --model DIR [--model NAME=DIR ...] [--host 127.0.0.1] [--port 8080]`: a local
// HTTP server with a JSON API (translate, classify, generate, each optionally with the
// attention maps) and a web page to try the models and explore their attention. The API is
// serve::Service (attn/serve/service.h); the sockets are HttpServer (http_server.h); this file
// loads the models, prints where to point a browser, and stops cleanly on Ctrl-C or SIGTERM.
// docs/SERVE.md describes the API, the limits and the page.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "attn/core/error.h"
#include "attn/core/parallel.h"
#include "attn/serve/service.h"
#include "commands.h"
#include "http_server.h"

namespace attn::cli {
namespace {

struct ServeOptions {
  std::vector<std::string> models;
  std::string host = "127.0.0.1";
  int port = 8080;
  serve::Limits limits;
  int threads = 2;
  int workers = 0;  // 0: enough for every queued and running request, and 4 more
  bool quiet = false;
};

serve::Models load_models(const std::vector<std::string>& arguments) {
  serve::Models models;
  for (const std::string& argument : arguments) {
    const serve::ModelSpec spec = serve::parse_model_argument(argument);
    models.load(spec);
    const serve::ServedModel& model = *models.find(spec.name);
    std::fprintf(stderr, "loaded %s: %s %s model from %s\n", spec.name.c_str(),
                 model.arch().c_str(), std::string(serve::model_kind_name(model.kind())).c_str(),
                 spec.path.string().c_str());
  }
  return models;
}

// Ctrl-C and SIGTERM stop the server cleanly (in-flight requests finish). The signal may
// arrive on any thread, some of them started by libraries before main, so the handler only
// writes a byte to a pipe (async-signal-safe); a waiting thread reads it and stops the
// server. A signal the shell told us to ignore (SIGINT in a background job) stays ignored.
int stop_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int) {
  const char byte = 1;
  [[maybe_unused]] const ssize_t written = write(stop_pipe[1], &byte, 1);
}

constexpr int kStopSignals[] = {SIGINT, SIGTERM};
struct sigaction previous_actions[2];

void install_stop_handlers() {
  ATTN_CHECK(pipe(stop_pipe) == 0, "serve: cannot create a pipe for signals");
  for (int i = 0; i < 2; ++i) {
    sigaction(kStopSignals[i], nullptr, &previous_actions[i]);
    if (previous_actions[i].sa_handler == SIG_IGN) continue;
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(kStopSignals[i], &action, nullptr);
  }
}

void remove_stop_handlers() {
  for (int i = 0; i < 2; ++i) sigaction(kStopSignals[i], &previous_actions[i], nullptr);
  close(stop_pipe[0]);
  close(stop_pipe[1]);
}

void serve_until_signalled(HttpServer& server) {
  install_stop_handlers();
  std::thread waiter([&server] {
    char byte = 0;
    while (read(stop_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    server.stop();
  });
  server.run();
  on_stop_signal(0);  // run() returns only after stop(); should it ever end alone, wake the waiter
  waiter.join();
  remove_stop_handlers();
}

// A connection holds a worker while its request waits or runs, so by default there are
// enough for every model's full queue and running batch, plus four for the page, the model
// list and quick 503 answers.
int default_workers(const serve::Limits& limits, const serve::Service& service) {
  const auto models = static_cast<std::int64_t>(service.models().all().size());
  return static_cast<int>(std::min<std::int64_t>(
      models * (limits.queue_size + limits.max_batch) + 4, 1024));
}

void run_serve(const ServeOptions& options) {
  set_num_threads(options.threads);
  serve::check_limits(options.limits);
  serve::Service service(load_models(options.models), options.limits);
  add_web_page(service);

  HttpServerOptions http;
  http.host = options.host;
  http.port = options.port;
  http.worker_threads = options.workers > 0 ? options.workers : default_workers(options.limits, service);
  http.max_body_bytes = options.limits.max_body_bytes;
  if (!options.quiet) http.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  HttpServer server(service, http);
  const int port = server.bind();
  if (!is_loopback_host(options.host)) {
    std::fprintf(stderr,
                 "warning: listening on %s, not on a loopback address: anyone who can reach this "
                 "machine can use the models (the API has no authentication)\n",
                 options.host.c_str());
  }
  const bool ipv6 = options.host.find(':') != std::string::npos;
  std::printf("attn serve: listening on http://%s%s%s:%d/\n", ipv6 ? "[" : "", options.host.c_str(),
              ipv6 ? "]" : "", port);
  std::fflush(stdout);
  serve_until_signalled(server);
  std::fprintf(stderr, "attn serve: stopped\n");
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto options = std::make_shared<ServeOptions>();
  CLI::App* serve = app.add_subcommand(
      "serve", "serve trained models over HTTP: a JSON API and a page to explore their attention");
  serve->add_option("--model,-m", options->models,
                    "a run directory, checkpoint or Hugging Face model folder to serve, as DIR or "
                    "NAME=DIR (repeatable); the kind (translation, classification, language model) "
                    "comes from the checkpoint, and a model folder serves sentence embeddings")
      ->required();
  serve->add_option("--host", options->host,
                    "address to listen on (default 127.0.0.1; anything else is reachable from "
                    "other machines)");
  serve->add_option("--port,-p", options->port, "port to listen on (0: any free port)")
      ->check(CLI::Range(0, 65535));
  serve->add_option("--max-body-bytes", options->limits.max_body_bytes, "largest request body (413 beyond)")
      ->check(CLI::PositiveNumber);
  serve->add_option("--max-input-tokens", options->limits.max_input_tokens,
                    "longest input text in tokens (400 beyond)")
      ->check(CLI::PositiveNumber);
  serve->add_option("--max-output-tokens", options->limits.max_output_tokens,
                    "largest max_length a request may ask for")
      ->check(CLI::PositiveNumber);
  serve->add_option("--max-beam-size", options->limits.max_beam_size, "largest beam_size a request may ask for")
      ->check(CLI::PositiveNumber);
  serve->add_option("--max-concurrent", options->limits.max_concurrent,
                    "model runs (batches) at once over all models")
      ->check(CLI::PositiveNumber);
  serve->add_option("--max-batch", options->limits.max_batch,
                    "requests of one model decoded together (default 32)")
      ->check(CLI::PositiveNumber);
  serve->add_option("--queue-size", options->limits.queue_size,
                    "requests that may wait for each model (default 64; 503 beyond)")
      ->check(CLI::PositiveNumber);
  serve->add_option("--queue-wait-ms", options->limits.queue_wait_ms,
                    "longest wait in the queue, in milliseconds (default 10000; 504 beyond)")
      ->check(CLI::PositiveNumber);
  serve->add_option("--threads", options->threads, "CPU threads of each model run")->check(CLI::PositiveNumber);
  serve->add_option("--workers", options->workers,
                    "connections served at once (default: every model's --queue-size + "
                    "--max-batch, + 4)")
      ->check(CLI::PositiveNumber);
  serve->add_flag("--quiet,-q", options->quiet, "do not log each request");
  serve->callback([options] {
    int status = run_guarded([&] { run_serve(*options); });
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace attn::cli
