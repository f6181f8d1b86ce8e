// Crash-safe training: `attn train` is killed with SIGKILL over and over and resumed each time
// with `attn train --resume`. A tiny Transformer language model saves its last checkpoint at
// every step. The kills come at random (seeded) moments measured from the run's own progress
// (inotify reports each checkpoint write beginning and committing): while the program starts,
// between writes, and inside writes. After every kill each checkpoint file in the run
// directory must read back, and last.safetensors must name a readable state file of its own
// step. At the end the resumed run must hold the same weights, bit for bit, and the same
// training log as a run that was never interrupted (same thread count).
//
// The program is a separate target; without it these tests are skipped.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <poll.h>
#include <stdlib.h>
#include <spawn.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "attn/data/text_files.h"
#include "attn/io/checkpoint.h"
#include "attn/io/safetensors.h"

extern char** environ;

namespace attn {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Enough steps that the run is still going after every kill, the extra ones included.
constexpr int kMaxSteps = 56;
constexpr int kKills = 12;
constexpr int kExtraKills = 16;  // at most, only while no kill has landed inside a write

std::vector<std::string> paragraphs(std::uint32_t seed, int count) {
  const std::vector<std::string> words = {"the", "cat", "sat", "on", "a", "mat", "dog",
                                          "ran", "to", "park", "bird", "tree", "and"};
  std::mt19937 engine(seed);
  std::vector<std::string> result;
  for (int i = 0; i < count; ++i) {
    std::string paragraph;
    for (int w = 0, n = 6 + static_cast<int>(engine() % 10); w < n; ++w) {
      paragraph += (w ? " " : "") + words[engine() % words.size()];
    }
    result.push_back(paragraph + ".");
  }
  return result;
}

// A scratch folder in /dev/shm when there is one, else in the temporary directory. SIGKILL
// safety rests on rename being atomic, which a memory file system gives as a disk does; there
// the test's few hundred MB of fsynced checkpoint writes do not wait on a disk that other
// programs use.
class ScratchFolder {
 public:
  explicit ScratchFolder(const std::string& prefix) {
    for (const fs::path& parent : {fs::path("/dev/shm"), fs::temp_directory_path()}) {
      std::string pattern = (parent / (prefix + "_XXXXXX")).string();
      if (::mkdtemp(pattern.data()) != nullptr) {
        path_ = pattern;
        return;
      }
    }
    ADD_FAILURE() << "cannot create a scratch folder";
  }
  ~ScratchFolder() {
    std::error_code ignored;
    if (!path_.empty()) fs::remove_all(path_, ignored);
  }
  ScratchFolder(const ScratchFolder&) = delete;
  ScratchFolder& operator=(const ScratchFolder&) = delete;

  const fs::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

class CrashSafeTraining : public ::testing::Test {
 protected:
  void SetUp() override {
    program_ = fs::path(ATTN_BINARY_DIR) / "apps" / "attn";
    if (!fs::exists(program_)) GTEST_SKIP() << "the attn program is not built: " << program_;
    const fs::path data = directory_.path() / "text";
    fs::create_directories(data);
    data::write_lines((data / "train.txt").string(), paragraphs(1, 80));
    data::write_lines((data / "valid.txt").string(), paragraphs(2, 8));
    // Checkpoints at every step (model and Adam moments: about 3 MB a step, so that a write
    // lasts a while even in memory), dropout so that the random generator
    // must be restored, two threads.
    std::ofstream(config_path()) << "[task]\nkind = \"language_model\"\n"
                                 << "[data]\nsource = \"text\"\ndir = \"" << data.string() << "\"\n"
                                 << "context_length = 24\nbatch_size = 4\n"
                                 << "[tokenizer]\nkind = \"char\"\nvocab_size = 0\n"
                                 << "[model.transformer]\nd_model = 128\nnum_heads = 2\n"
                                 << "d_ff = 256\nnum_layers = 2\ndropout = 0.1\n"
                                 << "[train]\nprogress = \"none\"\noptimizer = \"adamw\"\n"
                                 << "learning_rate = 0.003\nsave_every = 1\nvalidate_every = 8\n"
                                 << "log_every = 1\nthreads = 2\nseed = 3\n"
                                 << "max_steps = " << kMaxSteps << "\n";
  }

  std::string config_path() const { return directory_.file("lm.toml"); }

  // Starts `attn ARGUMENTS...` with its output in `log`; returns the process id.
  pid_t start(const std::vector<std::string>& arguments, const fs::path& log) const {
    std::vector<std::string> words{program_.string()};
    words.insert(words.end(), arguments.begin(), arguments.end());
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid = -1;
    int error = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    EXPECT_EQ(error, 0) << "cannot start " << program_;
    return pid;
  }

  // The exit status, or -signal for a killed process.
  static int wait_for(pid_t pid) {
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }

  // Runs to the end without interruption.
  int run(const std::vector<std::string>& arguments) const {
    return wait_for(start(arguments, directory_.path() / "log.txt"));
  }

  std::vector<std::string> fresh_arguments(const fs::path& run_dir) const {
    return {"train", "--config", config_path(), "--run-dir", run_dir.string()};
  }

  std::string log_text() const {
    std::ifstream in(directory_.path() / "log.txt");
    return {std::istreambuf_iterator<char>(in), {}};
  }

  fs::path program_;
  ScratchFolder directory_{"attn_crash"};
};

// The temporary files (".NAME.tmp-...") that a kill inside a write leaves behind.
std::set<std::string> abandoned_writes(const fs::path& folder) {
  std::set<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    std::string name = entry.path().filename().string();
    if (name.starts_with(".")) names.insert(name);
  }
  return names;
}

// Every checkpoint file must read back; last.safetensors must name a state file of its step.
void expect_readable_checkpoints(const fs::path& run_dir, const std::string& when) {
  const fs::path folder = run_dir / "checkpoints";
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(".") || !name.ends_with(".safetensors")) continue;
    EXPECT_NO_THROW(io::load_safetensors(entry.path().string())) << name << " " << when;
  }
  if (!fs::exists(folder / "last.safetensors")) return;
  io::Checkpoint last;
  ASSERT_NO_THROW(last = io::load_checkpoint((folder / "last.safetensors").string())) << when;
  const fs::path state = folder / last.extra.at("training_state");
  ASSERT_TRUE(fs::exists(state)) << state << " " << when;
  EXPECT_EQ(io::load_safetensors(state.string()).metadata.at("step"), last.extra.at("step"))
      << when;
}

// Watches the checkpoint folder for io::AtomicFileWriter's two moments: a write begins (its
// temporary file ".NAME.tmp-..." is created) and a write is committed (renamed to NAME).
// Set up before the writer starts, so no event is missed.
class WriteWatch {
 public:
  enum class Moment { Begins, Committed };

  explicit WriteWatch(const fs::path& folder) : descriptor_(inotify_init1(IN_CLOEXEC)) {
    EXPECT_GE(descriptor_, 0);
    EXPECT_GE(inotify_add_watch(descriptor_, folder.c_str(), IN_CREATE | IN_MOVED_TO), 0)
        << folder;
  }
  ~WriteWatch() { ::close(descriptor_); }
  WriteWatch(const WriteWatch&) = delete;
  WriteWatch& operator=(const WriteWatch&) = delete;

  // Forgets the events that already happened, so that the next wait is for a fresh one.
  void discard_pending() {
    pending_.clear();
    pollfd ready{descriptor_, POLLIN, 0};
    while (::poll(&ready, 1, 0) > 0) {
      alignas(inotify_event) char buffer[4096];
      if (::read(descriptor_, buffer, sizeof buffer) <= 0) break;
    }
  }

  // True once a write reaches `moment`; false after `timeout` without one.
  bool wait_for(Moment moment, std::chrono::milliseconds timeout) {
    const Clock::time_point deadline = Clock::now() + timeout;
    while (pending_.empty() && Clock::now() < deadline) read_events(deadline);
    while (!pending_.empty()) {
      Moment next = pending_.front();
      pending_.erase(pending_.begin());
      if (next == moment) return true;
    }
    return false;
  }

 private:
  void read_events(Clock::time_point deadline) {
    pollfd ready{descriptor_, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (::poll(&ready, 1, static_cast<int>(left.count()) + 1) <= 0) return;
    alignas(inotify_event) char buffer[4096];
    const ssize_t length = ::read(descriptor_, buffer, sizeof buffer);
    for (ssize_t at = 0; at < length;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
      if (event->len > 0) {
        const bool temporary = event->name[0] == '.';
        if ((event->mask & IN_CREATE) && temporary) pending_.push_back(Moment::Begins);
        if ((event->mask & IN_MOVED_TO) && !temporary) pending_.push_back(Moment::Committed);
      }
      at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
    }
  }

  int descriptor_;
  std::vector<Moment> pending_;
};

io::TensorMap final_weights(const fs::path& run_dir) {
  return io::load_checkpoint((run_dir / "checkpoints" / "last.safetensors").string()).tensors;
}

std::vector<std::uint8_t> bytes_of(const Tensor& tensor) {
  const auto* begin = static_cast<const std::uint8_t*>(tensor.raw_data());
  return {begin, begin + tensor.numel() * dtype_size(tensor.dtype())};
}

// The "train" records of the metrics log without their wall-time fields.
std::vector<nlohmann::json> training_records(const fs::path& run_dir) {
  std::ifstream in(run_dir / "metrics.jsonl");
  std::vector<nlohmann::json> records;
  for (std::string line; std::getline(in, line);) {
    nlohmann::json record = nlohmann::json::parse(line);
    if (record["type"] != "train") continue;
    record.erase("elapsed_seconds");
    record.erase("tokens_per_second");
    records.push_back(record);
  }
  return records;
}

TEST_F(CrashSafeTraining, KilledAndResumedRunEqualsAnUninterruptedOne) {
  const fs::path whole = directory_.path() / "whole";
  Clock::time_point started = Clock::now();
  ASSERT_EQ(run(fresh_arguments(whole)), 0) << log_text();
  const double whole_seconds = std::chrono::duration<double>(Clock::now() - started).count();

  // Kills follow the run's own progress, not the clock, so that a slow or busy machine
  // changes nothing. Of every four sessions, one dies while starting (0 to 300 ms after it
  // was launched, or at its first commit if that comes sooner); the others let one to six
  // checkpoint writes commit (about half a step each: the state file, then last.safetensors)
  // and then one dies 0 to 5 ms later (anywhere in the next step) and two die 0 to 0.3 ms
  // after the next write begins (inside the write: writing and syncing a checkpoint takes
  // about that long or longer). No session gets more than about three steps further,
  // so the run is still going at the last kill; one last session then runs to the end.
  const fs::path killed = directory_.path() / "killed";
  fs::create_directories(killed / "checkpoints");  // for the watch; training creates it too
  std::mt19937 engine(20240617);
  std::uniform_int_distribution<int> startup_ms(0, 300);
  std::uniform_int_distribution<int> commits(1, 6);
  std::uniform_int_distribution<int> after_commit_us(0, 5000);
  std::uniform_int_distribution<int> inside_write_us(0, 300);
  const auto timeout = std::chrono::milliseconds(static_cast<int>(20000 * whole_seconds) + 10000);
  int kills = 0, mid_write = 0, sessions = 0;
  std::set<std::string> seen;  // temporary files already counted
  // Starts a session, lets `wait` follow its writes, then kills it and counts the kill.
  auto kill_session = [&](const std::function<void(WriteWatch&)>& wait) {
    sessions += 1;
    const bool can_resume = fs::exists(killed / "checkpoints" / "last.safetensors");
    WriteWatch watch(killed / "checkpoints");
    const pid_t pid = start(can_resume ? std::vector<std::string>{"train", "--resume", killed.string()}
                                       : fresh_arguments(killed),
                            directory_.path() / "log.txt");
    wait(watch);
    ::kill(pid, SIGKILL);
    const int status = wait_for(pid);
    if (status == -SIGKILL) {
      kills += 1;
      std::set<std::string> now = abandoned_writes(killed / "checkpoints");
      bool new_one = std::any_of(now.begin(), now.end(),
                                 [&](const std::string& name) { return !seen.count(name); });
      mid_write += new_one;
      seen.insert(now.begin(), now.end());
    } else {
      ADD_FAILURE() << "session " << sessions << " ended (status " << status
                    << ") before it was killed:\n" << log_text();
    }
    expect_readable_checkpoints(killed, "after kill " + std::to_string(sessions));
  };
  auto kill_as_the_next_write_begins = [&](WriteWatch& watch, std::chrono::microseconds delay) {
    watch.discard_pending();  // a late-read event may belong to a write already done
    watch.wait_for(WriteWatch::Moment::Begins, timeout);
    std::this_thread::sleep_for(delay);
  };
  for (int attempt = 0; attempt < kKills; ++attempt) {
    kill_session([&](WriteWatch& watch) {
      if (attempt % 4 == 0) {
        watch.wait_for(WriteWatch::Moment::Committed, std::chrono::milliseconds(startup_ms(engine)));
        return;
      }
      for (int commit = 0, count = commits(engine); commit < count; ++commit) {
        if (!watch.wait_for(WriteWatch::Moment::Committed, timeout)) break;
      }
      if (attempt % 4 == 1) {
        std::this_thread::sleep_for(std::chrono::microseconds(after_commit_us(engine)));
      } else {
        kill_as_the_next_write_begins(watch, std::chrono::microseconds(inside_write_us(engine)));
      }
    });
    if (HasFatalFailure()) return;
  }
  // On a fast disk a write can end before the kill drawn for it arrives. Then more
  // sessions die the moment a write begins (each gets at most one step further), until one
  // is caught inside a write.
  for (int extra = 0; extra < kExtraKills && mid_write == 0; ++extra) {
    kill_session([&](WriteWatch& watch) {
      kill_as_the_next_write_begins(watch, std::chrono::microseconds(0));
    });
    if (HasFatalFailure()) return;
  }
  const bool can_resume = fs::exists(killed / "checkpoints" / "last.safetensors");
  ASSERT_EQ(run(can_resume ? std::vector<std::string>{"train", "--resume", killed.string()}
                           : fresh_arguments(killed)),
            0)
      << log_text();
  RecordProperty("kills", kills);
  RecordProperty("kills_with_a_write_in_progress", mid_write);
  std::cout << "[          ] " << kills << " kills, " << mid_write
            << " of them inside a checkpoint write (it left a temporary file)\n";
  EXPECT_EQ(kills, sessions);
  EXPECT_GE(mid_write, 1) << "no kill landed inside a checkpoint write";

  // The same weights, bit for bit, and the same losses, step by step.
  const io::TensorMap expected = final_weights(whole);
  const io::TensorMap actual = final_weights(killed);
  ASSERT_EQ(actual.size(), expected.size());
  for (const auto& [name, tensor] : expected) {
    ASSERT_TRUE(actual.count(name)) << name;
    EXPECT_EQ(bytes_of(actual.at(name)), bytes_of(tensor)) << name;
  }
  std::vector<nlohmann::json> records = training_records(killed);
  EXPECT_EQ(records.size(), static_cast<std::size_t>(kMaxSteps));
  EXPECT_EQ(records, training_records(whole));
  // The last session removed what the killed writes left behind.
  EXPECT_TRUE(abandoned_writes(killed / "checkpoints").empty());
  EXPECT_TRUE(abandoned_writes(killed).empty());
}

}  // namespace
}  // namespace attn
