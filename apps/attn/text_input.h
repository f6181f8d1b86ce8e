// Where the text commands (translate, classify, generate) read their input and write their
// output: sentences given as arguments, a file (one per line), or standard input ("-", or
// when nothing else is given); standard output or a file, replaced atomically.
#pragma once

#include <string>
#include <vector>

namespace attn::cli {

std::vector<std::string> read_inputs(const std::vector<std::string>& arguments,
                                     const std::string& input_path);

void write_outputs(const std::vector<std::string>& lines, const std::string& output_path);

}  // namespace attn::cli
