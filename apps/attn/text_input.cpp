#include "text_input.h"

#include <iostream>

#include "attn/core/error.h"
#include "attn/data/text_files.h"

namespace attn::cli {

std::vector<std::string> read_inputs(const std::vector<std::string>& arguments,
                                     const std::string& input_path) {
  ATTN_CHECK(arguments.empty() || input_path.empty(),
             "give the text either as arguments or with --input, not both");
  if (!arguments.empty()) return arguments;
  if (!input_path.empty() && input_path != "-") return data::read_lines(input_path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

void write_outputs(const std::vector<std::string>& lines, const std::string& output_path) {
  if (output_path.empty() || output_path == "-") {
    for (const std::string& line : lines) std::cout << line << "\n";
    std::cout.flush();
    return;
  }
  data::write_lines(output_path, lines);
}

}  // namespace attn::cli
