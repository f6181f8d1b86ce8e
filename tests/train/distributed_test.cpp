// Data-parallel training over MPI, end to end: `mpirun -np P attn train` is compared bit for
// bit with one process that accumulates the same P micro-batches per update
// (train.accumulate_steps = P), for each kind of model attn trains. Every run is wrapped in
// a timeout, with one thread per process; three processes oversubscribe two cores.
// Skipped with a message where mpirun or the MPI build is missing; CI has both.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "attn/data/text_files.h"
#include "attn/dist/communicator.h"
#include "attn/io/safetensors.h"
#include "attn/train/data_parallel.h"
#include "support/attn_program.h"

namespace attn::train {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kWords = {"the",  "cat",  "dog", "sat", "ran", "on",  "mat",
                                         "park", "bird", "tree", "big", "small", "red", "a"};

std::string random_sentence(std::mt19937& engine, int shortest, int longest) {
  std::string sentence;
  const int length = shortest + static_cast<int>(engine() % static_cast<unsigned>(longest - shortest + 1));
  for (int i = 0; i < length; ++i) sentence += (i ? " " : "") + kWords[engine() % kWords.size()];
  return sentence;
}

std::string reversed_words(const std::string& sentence) {
  std::vector<std::string> words;
  std::istringstream stream(sentence);
  for (std::string word; stream >> word;) words.push_back(word);
  std::string text;
  for (auto it = words.rbegin(); it != words.rend(); ++it) text += (text.empty() ? "" : " ") + *it;
  return text;
}

// Translation corpus (reverse the words) in data.dir/{train,valid,test}.{es,en}.
void write_translation_corpus(const fs::path& folder, int train_pairs) {
  fs::create_directories(folder);
  std::mt19937 engine(7);
  for (const auto& [split, count] : {std::pair{"train", train_pairs}, std::pair{"valid", 6}, std::pair{"test", 6}}) {
    std::vector<std::string> sources, targets;
    for (int i = 0; i < count; ++i) {
      sources.push_back(random_sentence(engine, 2, 9));
      targets.push_back(reversed_words(sources.back()));
    }
    data::write_lines((folder / (std::string(split) + ".es")).string(), sources);
    data::write_lines((folder / (std::string(split) + ".en")).string(), targets);
  }
}

// "Which colour word is in the text", as tsv files.
void write_classification_corpus(const fs::path& folder, int train_examples) {
  fs::create_directories(folder);
  const std::vector<std::string> colours = {"red", "green", "blue"};
  std::mt19937 engine(3);
  for (const auto& [split, count] : {std::pair{"train", train_examples}, std::pair{"valid", 9}}) {
    std::vector<data::LabeledText> texts;
    for (int i = 0; i < count; ++i) {
      const auto label = static_cast<std::int64_t>(engine() % 3);
      texts.push_back({label, random_sentence(engine, 1, 6) + " " + colours[label] + " " +
                                  random_sentence(engine, 0, 5)});
    }
    data::write_labeled_tsv((folder / (std::string(split) + ".tsv")).string(), texts);
  }
  data::write_lines((folder / "labels.txt").string(), colours);
}

void write_text_corpus(const fs::path& folder) {
  fs::create_directories(folder);
  std::mt19937 engine(5);
  std::vector<std::string> train, valid;
  for (int i = 0; i < 40; ++i) train.push_back(random_sentence(engine, 3, 10) + ".");
  for (int i = 0; i < 6; ++i) valid.push_back(random_sentence(engine, 3, 10) + ".");
  data::write_lines((folder / "train.txt").string(), train);
  data::write_lines((folder / "valid.txt").string(), valid);
}

// Every tensor of a safetensors file, by name, as raw bytes.
std::map<std::string, std::string> tensor_bytes(const fs::path& file) {
  io::SafetensorsData data = io::load_safetensors(file.string());
  std::map<std::string, std::string> bytes;
  for (const auto& [name, tensor] : data.tensors) {
    const Tensor dense = tensor.contiguous();
    const auto* begin = static_cast<const char*>(dense.raw_data());
    bytes[name] = dense.describe() + ":" +
                  std::string(begin, static_cast<std::size_t>(dense.numel()) * dtype_size(dense.dtype()));
  }
  return bytes;
}

fs::path state_file_of(const fs::path& run) {
  for (const auto& entry : fs::directory_iterator(run / "checkpoints")) {
    if (entry.path().filename().string().starts_with("state-")) return entry.path();
  }
  return {};
}

// The trainer state without the clock.
nlohmann::json trainer_state_of(const fs::path& state_file) {
  io::SafetensorsData data = io::load_safetensors(state_file.string());
  nlohmann::json state = nlohmann::json::parse(data.metadata.at("trainer_state"));
  state.erase("elapsed_seconds");
  return state;
}

class DistributedTraining : public testing::AttnProgramTest {
 protected:
  void SetUp() override {
    AttnProgramTest::SetUp();
    if (IsSkipped()) return;
    if (!dist::mpi_available()) GTEST_SKIP() << "attn was built without MPI (ATTN_WITH_MPI=OFF)";
    if (std::system("command -v mpirun > /dev/null 2>&1") != 0) {
      GTEST_SKIP() << "mpirun is not installed (scripts/setup.sh installs openmpi-bin)";
    }
  }

  // Open MPI refuses to start as root without the first two; CI runs as root.
  static std::string environment() {
    return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=passive ";
  }
  // Under AddressSanitizer, leak checking is off for processes of MPI jobs: Open MPI unloads
  // its plug-ins before exit, so their leftovers show as leaks of unknown modules that no
  // suppression can name. The one-process runs here (accumulate_steps) run the same
  // training code leak-checked.
  static std::string mpi_environment() {
    return environment() + "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 ";
  }

  std::string mpirun(int processes) const {
    return mpi_environment() + "timeout 300 mpirun --oversubscribe --bind-to none -np " +
           std::to_string(processes) + " ";
  }

  // attn with `arguments` on `processes` ranks (1: without mpirun at all).
  Outcome launch(int processes, const std::string& arguments) const {
    const std::string launcher = processes == 1 ? environment() + "timeout 300 " : mpirun(processes);
    return run_shell(launcher + program_.string() + " " + arguments);
  }

  Outcome train(int processes, const std::string& config, const fs::path& run,
                const std::string& overrides = "") const {
    return launch(processes, "train --config " + config + " --run-dir " + run.string() + " " + overrides);
  }

  Outcome resume(int processes, const fs::path& run, const std::string& overrides) const {
    return launch(processes, "train --resume " + run.string() + " " + overrides);
  }

  // Model, optimizer state and trainer state (but the clock) are the same bits.
  static void expect_same_bits(const fs::path& run_a, const fs::path& run_b) {
    const fs::path last_a = run_a / "checkpoints" / "last.safetensors";
    const fs::path last_b = run_b / "checkpoints" / "last.safetensors";
    ASSERT_TRUE(fs::exists(last_a) && fs::exists(last_b)) << run_a << " " << run_b;
    EXPECT_TRUE(tensor_bytes(last_a) == tensor_bytes(last_b))
        << "the models of " << run_a << " and " << run_b << " differ";
    const fs::path state_a = state_file_of(run_a), state_b = state_file_of(run_b);
    EXPECT_TRUE(tensor_bytes(state_a) == tensor_bytes(state_b))
        << "the optimizer states of " << run_a << " and " << run_b << " differ";
    EXPECT_EQ(trainer_state_of(state_a), trainer_state_of(state_b));
  }

  // `d_model` 64 makes feed-forward weights of 16,384 elements, so that shards cut tensors.
  std::string translation_config(const std::string& arch, int d_model = 16) const {
    const fs::path data = directory_.path() / "translation";
    if (!fs::exists(data)) write_translation_corpus(data, 70);
    const std::string config = path(arch + std::to_string(d_model) + ".toml");
    std::ofstream file(config);
    file << "[task]\nkind = \"translation\"\n[data]\ndir = \"" << data.string()
         << "\"\nmax_tokens = 200\n[tokenizer]\nvocab_size = 36\n[model]\narch = \"" << arch
         << "\"\n";
    if (arch == "transformer") {
      file << "[model.transformer]\nd_model = " << d_model << "\nnum_heads = 2\nd_ff = "
           << 4 * d_model << "\nencoder_layers = 1\n"
           << "decoder_layers = 1\ndropout = 0.1\n";
    } else {
      file << "[model.rnn]\nembedding_size = 12\nhidden_size = 16\nattention_size = 8\n"
           << "dropout = 0.1\n";
    }
    file << train_section();
    return config;
  }

  // 50 examples in batches of 16: the last batch has 2, fewer than three ranks.
  std::string classification_config() const {
    const fs::path data = directory_.path() / "colours";
    if (!fs::exists(data)) write_classification_corpus(data, 50);
    const std::string config = path("classifier.toml");
    std::ofstream(config) << "[task]\nkind = \"classification\"\n[data]\nsource = \"tsv\"\ndir = \""
                          << data.string() << "\"\nmax_length = 16\nbatch_size = 16\n"
                          << "[tokenizer]\nkind = \"word\"\nvocab_size = 0\n"
                          << "[model.bigru]\nembedding_size = 8\nhidden_size = 8\n"
                          << "attention_size = 4\ndropout = 0.1\n"
                          << train_section();
    return config;
  }

  std::string language_model_config() const {
    const fs::path data = directory_.path() / "text";
    if (!fs::exists(data)) write_text_corpus(data);
    const std::string config = path("lm.toml");
    std::ofstream(config) << "[task]\nkind = \"language_model\"\n[data]\nsource = \"text\"\ndir = \""
                          << data.string() << "\"\ncontext_length = 16\nbatch_size = 5\n"
                          << "[tokenizer]\nkind = \"char\"\nvocab_size = 0\n"
                          << "[model.transformer]\nd_model = 16\nnum_heads = 2\nd_ff = 32\n"
                          << "num_layers = 1\ndropout = 0.1\n"
                          << train_section();
    return config;
  }

  static std::string train_section() {
    return "[train]\nprogress = \"none\"\nlearning_rate = 0.01\nclip_grad_norm = 0.5\n"
           "threads = 1\nmax_steps = 5\nvalidate_every = 0\nlog_every = 1\n";
  }

  fs::path run_path(const std::string& name) const { return directory_.path() / name; }

  // P ranks against one process accumulating P micro-batches.
  void expect_ranks_match_accumulation(const std::string& config, int processes) {
    const fs::path distributed = run_path("ranks"), accumulated = run_path("accumulated");
    const Outcome ranks = train(processes, config, distributed, "train.check_replicas_every=1");
    ASSERT_EQ(ranks.status, 0) << ranks.out << ranks.err;
    const Outcome one = train(1, config, accumulated,
                              "train.accumulate_steps=" + std::to_string(processes));
    ASSERT_EQ(one.status, 0) << one.out << one.err;
    expect_same_bits(distributed, accumulated);
  }
};

TEST_F(DistributedTraining, TwoRanksGiveTheBitsOfOneProcessAccumulatingTwoTransformer) {
  expect_ranks_match_accumulation(translation_config("transformer"), 2);
}

TEST_F(DistributedTraining, TwoRanksGiveTheBitsOfOneProcessAccumulatingTwoRnnSeq2seq) {
  expect_ranks_match_accumulation(translation_config("rnn"), 2);
}

TEST_F(DistributedTraining, TwoRanksGiveTheBitsOfOneProcessAccumulatingTwoClassifier) {
  expect_ranks_match_accumulation(classification_config(), 2);
}

TEST_F(DistributedTraining, TwoRanksGiveTheBitsOfOneProcessAccumulatingTwoLanguageModel) {
  expect_ranks_match_accumulation(language_model_config(), 2);
}

// Many small buckets (a kilobyte each) exchanged during backward, against no overlap at all.
TEST_F(DistributedTraining, OverlappedBucketsGiveTheBitsOfTheExchangeAfterBackward) {
  const std::string config = translation_config("transformer", 64);
  ASSERT_EQ(train(2, config, run_path("buckets"), "train.bucket_megabytes=0.001").status, 0);
  ASSERT_EQ(train(2, config, run_path("after"), "train.overlap_communication=false").status, 0);
  expect_same_bits(run_path("buckets"), run_path("after"));
  ASSERT_EQ(train(1, config, run_path("one"), "train.accumulate_steps=2").status, 0);
  expect_same_bits(run_path("after"), run_path("one"));
}

// Uneven slices, and a batch of two examples where one of three ranks gets none.
TEST_F(DistributedTraining, ThreeRanksWithAnUnevenBatchGiveTheBitsOfAccumulatingThree) {
  const std::string config = classification_config();
  const fs::path distributed = run_path("ranks"), accumulated = run_path("accumulated");
  // Four updates: the epoch's batches of 16, 16, 16 and 2 examples.
  ASSERT_EQ(train(3, config, distributed, "train.max_steps=4").status, 0);
  ASSERT_EQ(train(1, config, accumulated, "train.max_steps=4 train.accumulate_steps=3").status, 0);
  expect_same_bits(distributed, accumulated);
}

TEST_F(DistributedTraining, SlicingChangesTheBitsSoTheComparisonsCanFail) {
  const std::string config = translation_config("transformer");
  ASSERT_EQ(train(1, config, run_path("whole")).status, 0);
  ASSERT_EQ(train(1, config, run_path("sliced"), "train.accumulate_steps=2").status, 0);
  EXPECT_FALSE(tensor_bytes(run_path("whole") / "checkpoints" / "last.safetensors") ==
               tensor_bytes(run_path("sliced") / "checkpoints" / "last.safetensors"));
}

TEST_F(DistributedTraining, TwoIdenticalRunsGiveIdenticalBits) {
  const std::string config = translation_config("transformer");
  ASSERT_EQ(train(2, config, run_path("first")).status, 0);
  ASSERT_EQ(train(2, config, run_path("second")).status, 0);
  expect_same_bits(run_path("first"), run_path("second"));
}

TEST_F(DistributedTraining, OnlyRankZeroWritesTheLogWhichRecordsTheWorldSize) {
  const std::string config = translation_config("transformer");
  const Outcome outcome = train(2, config, run_path("run"));
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  std::ifstream log(run_path("run") / "metrics.jsonl");
  std::vector<nlohmann::json> records;
  for (std::string line; std::getline(log, line);) records.push_back(nlohmann::json::parse(line));
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.front().at("world_size"), "2");
  std::int64_t starts = 0;
  for (const auto& record : records) starts += record.value("type", "") == "start";
  EXPECT_EQ(starts, 1) << "one log, written by one rank";
  // Throughput counts the whole batch: 5 updates of the same batches as one process.
  ASSERT_EQ(train(1, config, run_path("alone")).status, 0);
  EXPECT_EQ(trainer_state_of(state_file_of(run_path("run"))).at("tokens"),
            trainer_state_of(state_file_of(run_path("alone"))).at("tokens"));
}

// Shards are even in elements, cut inside tensors where needed, so the optimizer state of
// the largest of three ranks is a third of one process's, give or take a grain; shards of
// whole tensors would be off by up to half a feed-forward weight (8,192 elements).
TEST_F(DistributedTraining, OptimizerStatePerRankFallsAsOneOverTheRanks) {
  const std::string config = translation_config("transformer", 64);
  // The log records the largest rank's state (one process: with accumulate_steps > 1).
  auto largest_state = [&](int processes, const std::string& name) {
    const Outcome outcome = train(processes, config, run_path(name),
                                  "train.max_steps=2 train.accumulate_steps=" + std::to_string(4 - processes));
    EXPECT_EQ(outcome.status, 0) << outcome.err;
    std::ifstream log(run_path(name) / "metrics.jsonl");
    double bytes = 0.0;
    for (std::string line; std::getline(log, line);) {
      const nlohmann::json record = nlohmann::json::parse(line);
      if (record.contains("optimizer_state_bytes")) bytes = record.at("optimizer_state_bytes").get<double>();
    }
    return bytes;
  };
  const double one = largest_state(1, "one"), three = largest_state(3, "three");
  ASSERT_GT(one, 8.0 * 100000) << "two float32 moments of over 100,000 parameters";
  EXPECT_LE(three, one / 3.0 + 8.0 * static_cast<double>(kShardGrain) + 1024.0);
  EXPECT_GE(three, one / 3.0);
}

// Saved by two ranks; resumed by one process accumulating two, it is the uninterrupted
// two-rank run; resumed by three ranks, it is one process that switched to three slices.
TEST_F(DistributedTraining, SaveOnTwoRanksResumeOnOneOrThree) {
  const std::string config = translation_config("transformer", 64);  // shards cut tensors
  ASSERT_EQ(train(2, config, run_path("uninterrupted"), "train.max_steps=8").status, 0);
  ASSERT_EQ(train(2, config, run_path("saved"), "train.max_steps=4").status, 0);
  fs::copy(run_path("saved"), run_path("resumed_on_one"), fs::copy_options::recursive);
  fs::copy(run_path("saved"), run_path("resumed_on_three"), fs::copy_options::recursive);

  const Outcome one = resume(1, run_path("resumed_on_one"), "train.max_steps=8 train.accumulate_steps=2");
  ASSERT_EQ(one.status, 0) << one.err;
  expect_same_bits(run_path("uninterrupted"), run_path("resumed_on_one"));

  const Outcome three = resume(3, run_path("resumed_on_three"), "train.max_steps=8");
  ASSERT_EQ(three.status, 0) << three.err;
  ASSERT_EQ(train(1, config, run_path("reference"), "train.max_steps=4 train.accumulate_steps=2").status, 0);
  ASSERT_EQ(resume(1, run_path("reference"), "train.max_steps=8 train.accumulate_steps=3").status, 0);
  expect_same_bits(run_path("reference"), run_path("resumed_on_three"));
}

TEST_F(DistributedTraining, RanksWithAnotherConfigurationAreRefused) {
  const std::string config = translation_config("transformer");
  const std::string command = mpirun(1) + program_.string() + " train --config " + config +
                              " --run-dir " + run_path("run").string() + " : -np 1 " +
                              program_.string() + " train --config " + config + " --run-dir " +
                              run_path("run").string() + " train.learning_rate=0.02";
  const Outcome outcome = run_shell(command);
  EXPECT_NE(outcome.status, 0);
  EXPECT_NE(outcome.err.find("rank 1 of 2 does not run the same job as rank 0: its resolved "
                             "configuration differ"),
            std::string::npos)
      << outcome.err;
}

// The same configuration read in two working folders whose corpora differ by one line.
TEST_F(DistributedTraining, RanksWithOtherDataAreRefused) {
  write_translation_corpus(run_path("a") / "corpus", 40);
  write_translation_corpus(run_path("b") / "corpus", 41);
  const std::string config = path("relative.toml");
  std::ofstream(config) << "[task]\nkind = \"translation\"\n[data]\ndir = \"corpus\"\n"
                        << "max_tokens = 200\n[tokenizer]\nvocab_size = 36\n"
                        << "[model.transformer]\nd_model = 16\nnum_heads = 2\nd_ff = 32\n"
                        << "encoder_layers = 1\ndecoder_layers = 1\n"
                        << train_section() << "run_dir = \"run\"\n";
  const std::string rank = program_.string() + " train --config " + config;
  const Outcome outcome = run_shell(mpirun(1) + "-wdir " + run_path("a").string() + " " + rank +
                                    " : -np 1 -wdir " + run_path("b").string() + " " + rank);
  EXPECT_NE(outcome.status, 0);
  EXPECT_NE(outcome.err.find("its training data differ"), std::string::npos) << outcome.err;
}

TEST_F(DistributedTraining, RanksRunningAnotherProgramAreRefused) {
  const std::string config = translation_config("transformer");
  const fs::path copy = run_path("attn_copy");
  fs::copy_file(program_, copy);
  std::ofstream(copy, std::ios::app | std::ios::binary) << '\0';  // same code, other bytes
  fs::permissions(copy, fs::perms::owner_exec, fs::perm_options::add);
  const std::string arguments = " train --config " + config + " --run-dir " + run_path("run").string();
  const Outcome outcome =
      run_shell(mpirun(1) + program_.string() + arguments + " : -np 1 " + copy.string() + arguments);
  EXPECT_NE(outcome.status, 0);
  EXPECT_NE(outcome.err.find("its program (attn executable) differ"), std::string::npos) << outcome.err;
}

// Two machines: one rank in each of two network namespaces joined by a veth pair, talking
// TCP only (no shared memory), against one process accumulating two micro-batches.
TEST_F(DistributedTraining, TwoMachinesOverTcpGiveTheBitsOfOneProcess) {
  if (::geteuid() != 0) GTEST_SKIP() << "network namespaces need root (CI runs as root)";
  if (std::system("command -v ip > /dev/null 2>&1") != 0) GTEST_SKIP() << "iproute2 is not installed";
  const std::string config = translation_config("transformer");
  const fs::path support = fs::path(ATTN_SOURCE_DIR) / "tests" / "support";
  const std::string name = "at" + std::to_string(::getpid() % 100000);
  const std::string job =
      mpi_environment() + "timeout 300 " + (support / "two_namespaces.sh").string() + " " + name +
      " mpirun --host 10.231.0.1,10.231.0.2 -np 2 --map-by node --bind-to none" +
      " --mca plm_rsh_agent " + (support / "netns_agent.sh").string() +
      " --mca btl tcp,self --mca btl_tcp_if_include 10.231.0.0/24" +
      " --mca oob_tcp_if_include 10.231.0.0/24 " + program_.string() + " train --config " + config +
      " --run-dir " + run_path("machines").string();
  const Outcome machines = run_shell(job);
  if (machines.err.find("Cannot create namespace") != std::string::npos ||
      machines.err.find("Operation not permitted") != std::string::npos) {
    GTEST_SKIP() << "this machine does not allow network namespaces: " << machines.err;
  }
  ASSERT_EQ(machines.status, 0) << machines.out << machines.err;
  EXPECT_NE(machines.out.find("2 processes: node-a (1), node-b (1)"), std::string::npos) << machines.out;
  ASSERT_EQ(train(1, config, run_path("one"), "train.accumulate_steps=2").status, 0);
  expect_same_bits(run_path("machines"), run_path("one"));
}

// SIGKILL of one rank mid-run: the job ends non-zero within 60 seconds, naming the rank,
// and the last checkpoint resumes.
TEST_F(DistributedTraining, KillingOneRankEndsTheJobAndTheRunResumes) {
  const std::string config = translation_config("transformer");
  const fs::path run = run_path("run");
  const fs::path killed_at = run_path("killed_at");
  // The marker finds this job's rank 1 in /proc; save_every=1 keeps a checkpoint fresh.
  const std::string marker = "ATTN_TEST_MARKER=kill-" + std::to_string(::getpid());
  const std::string job = mpirun(2) + "-x " + marker + " " + program_.string() + " train --config " +
                          config + " --run-dir " + run.string() +
                          " train.max_steps=1000000 train.save_every=1";
  const std::string killer =
      "( for i in $(seq 1 1200); do [ -f " + (run / "checkpoints" / "last.safetensors").string() +
      " ] && break; sleep 0.1; done; sleep 1; "
      "victim=$(grep -l -a 'OMPI_COMM_WORLD_RANK=1' $(grep -l -a '" + marker +
      "' /proc/[0-9]*/environ 2>/dev/null) 2>/dev/null | head -1 | cut -d/ -f3); "
      "kill -9 $victim; date +%s.%N > " + killed_at.string() + " ) & ";
  const Outcome outcome = run_shell(killer + job);
  const double ended = std::chrono::duration<double>(
                           std::chrono::system_clock::now().time_since_epoch()).count();
  ASSERT_TRUE(fs::exists(killed_at)) << "no rank was killed: " << outcome.err;
  const double killed = std::stod(read(killed_at));
  EXPECT_NE(outcome.status, 0);
  EXPECT_LT(ended - killed, 60.0) << "the job went on after a rank was killed";
  EXPECT_NE((outcome.out + outcome.err).find("rank 1"), std::string::npos) << outcome.err;

  // The checkpoint is whole, and the run goes on from it.
  const std::int64_t saved = trainer_state_of(state_file_of(run)).at("step").get<std::int64_t>();
  ASSERT_GE(saved, 1);
  const Outcome resumed = resume(2, run, "train.max_steps=" + std::to_string(saved + 2));
  ASSERT_EQ(resumed.status, 0) << resumed.err;
  EXPECT_EQ(trainer_state_of(state_file_of(run)).at("step").get<std::int64_t>(), saved + 2);
}

}  // namespace
}  // namespace attn::train
