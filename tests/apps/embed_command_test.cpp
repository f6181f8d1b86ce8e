// `attn embed` and `attn similarity` end to end on the real all-MiniLM-L6-v2, and the
// embedding files they write (npy, safetensors, JSON lines) read back exactly.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "attn/io/npy.h"
#include "attn/io/safetensors.h"
#include "attn/models/pretrained.h"
#include "attn/tasks/embedding.h"
#include "support/attn_program.h"
#include "support/compare.h"
#include "support/pretrained_model.h"
#include "support/temporary_directory.h"

namespace attn {
namespace {

namespace fs = std::filesystem;
using attn::testing::all_close;

using attn::testing::minilm_directory;

class EmbedCommand : public attn::testing::AttnProgramTest {};

TEST_F(EmbedCommand, WritesTheLibrarysEmbeddingsInEveryFormat) {
  const std::string model = minilm_directory();
  std::ofstream(path("texts.txt")) << "A man is eating food.\nA man is riding a horse.\n\u00bfQu\u00e9 tal?\n";
  auto encoder = models::load_pretrained(model);
  const Tensor expected = encoder->embed({"A man is eating food.", "A man is riding a horse.", "\u00bfQu\u00e9 tal?"});
  for (const std::string& name : {std::string("out.npy"), std::string("out.safetensors"), std::string("out.jsonl")}) {
    Outcome outcome = run("embed --model " + model + " --input " + path("texts.txt") + " -o " + path(name));
    ASSERT_EQ(outcome.status, 0) << outcome.err;
    Tensor got;
    if (name == "out.npy") got = io::load_npy(path(name));
    if (name == "out.safetensors") got = io::load_safetensors(path(name)).tensors.at("embeddings");
    if (name == "out.jsonl") {
      EXPECT_EQ(read(path(name)), tasks::embeddings_as_json_lines(expected));
      continue;
    }
    EXPECT_TRUE(all_close(got, expected, 0, 0)) << name;
  }
}

TEST_F(EmbedCommand, SimilarityRanksTheParaphraseAboveTheUnrelatedSentence) {
  Outcome outcome = run("similarity --model " + minilm_directory() +
                        " 'A man is eating food.' 'A man is eating a piece of bread.'"
                        " 'The girl is carrying a baby.'");
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  std::istringstream lines(outcome.out);
  double paraphrase = 0, unrelated = 0;
  std::string rest;
  lines >> paraphrase;
  std::getline(lines, rest);
  lines >> unrelated;
  EXPECT_GT(paraphrase, 0.6) << outcome.out;
  EXPECT_LT(unrelated, 0.2) << outcome.out;
}

TEST_F(EmbedCommand, ErrorsNameWhatIsWrong) {
  Outcome missing = run("embed --model " + path("no_such_model") + " hello");
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("no_such_model"), std::string::npos) << missing.err;
  Outcome format = run("embed --model " + minilm_directory() + " hello -o " + path("out.csv"));
  EXPECT_EQ(format.status, 1);
  EXPECT_NE(format.err.find("out.csv"), std::string::npos) << format.err;
  EXPECT_FALSE(fs::exists(path("out.csv")));
  Outcome one = run("similarity --model " + minilm_directory() + " alone");
  EXPECT_EQ(one.status, 1);
  EXPECT_NE(one.err.find("at least two texts"), std::string::npos) << one.err;
}

TEST(Npy, RoundTripsExactlyAndRejectsWhatItCannotRead) {
  attn::testing::TemporaryDirectory directory("attn_npy");
  for (const Tensor& tensor : {Tensor::from_list({2, 3}, {1, -2.5, 3e-8, 4, 5, 6}),
                               Tensor::from_list({4}, {1, 2, 3, 4}, DType::Float64),
                               Tensor::from_list({}, {7}, DType::Int64)}) {
    io::save_npy(directory.file("a.npy"), tensor);
    Tensor back = io::load_npy(directory.file("a.npy"));
    EXPECT_EQ(back.dtype(), tensor.dtype());
    EXPECT_TRUE(all_close(back, tensor, 0, 0));
  }
  // numpy.save's bytes for np.zeros((1, 2), '<f4'): the header as numpy writes it.
  std::string bytes = io::serialize_npy(Tensor::zeros({1, 2}));
  EXPECT_EQ(bytes.size() % 64, 8u);  // 64-byte header, then 8 bytes of data
  EXPECT_NE(bytes.find("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }"), std::string::npos);
  std::string big_endian = bytes;
  big_endian.replace(big_endian.find("<f4"), 3, ">f4");
  EXPECT_THROW(io::parse_npy(big_endian, "be.npy"), Error);
  EXPECT_THROW(io::parse_npy(bytes.substr(0, bytes.size() - 1), "short.npy"), Error);
  EXPECT_THROW(io::parse_npy("not npy at all", "text.npy"), Error);
  // Found by fuzzing: an empty array whose other extents' product overflows the strides.
  std::string huge = bytes;
  huge.replace(huge.find("(1, 2)"), 6, "(0, 4294967296, 4294967296)");
  huge.replace(8, 2, std::string{char((huge.size() - 10 - 8) & 0xFF), char((huge.size() - 10 - 8) >> 8)});
  huge.resize(huge.size() - 8);  // no data: the array would be empty
  EXPECT_THROW(io::parse_npy(huge, "huge.npy"), Error);
}

}  // namespace
}  // namespace attn
