// Builds against an installed attn and checks what a tensor made through the public API
// holds, so that a broken package fails loudly instead of just printing.
#include <cstdlib>
#include <iostream>
#include <numeric>
#include <vector>

#include "attn/core/tensor.h"

int main() {
  attn::Tensor ones = attn::Tensor::ones({2, 3});
  std::vector<float> values = ones.to_vector<float>();
  float sum = std::accumulate(values.begin(), values.end(), 0.0f);
  std::cout << "attn::Tensor::ones({2, 3}): numel " << ones.numel() << ", " << ones.describe()
            << ", sum " << sum << "\n";
  if (ones.numel() != 6 || sum != 6.0f) {
    std::cerr << "attn_consumer: expected 6 elements summing to 6\n";
    return EXIT_FAILURE;
  }
  return EXIT_SUCCESS;
}
