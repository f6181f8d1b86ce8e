// Parameter initialisers, as torch.nn.init. Each fills a tensor in place, outside autograd
// (no history is recorded), and draws from the counter-based generator: element i of a fill
// depends only on (seed, offset + i), so the values do not depend on the thread count.
//
// Every function accepts any floating dtype and any layout; the handle is const because a
// Tensor is a shared reference to its data, which is what gets overwritten.
#pragma once

#include "attn/core/random.h"
#include "attn/core/tensor.h"

namespace attn::nn::init {

// While one is alive on a thread, the initialisers below check their arguments and leave the
// tensor as it is, drawing nothing from the generator: for modules built only to have their
// parameters loaded (a pretrained checkpoint), where drawing weights to throw away took most
// of the load time. Parameters then hold whatever memory they were given until loaded.
class SkipInitialisation {
 public:
  SkipInitialisation();
  ~SkipInitialisation();
  SkipInitialisation(const SkipInitialisation&) = delete;
  SkipInitialisation& operator=(const SkipInitialisation&) = delete;
};

// Uniform over [low, high); rounding to float32 can make the upper bound itself appear.
void uniform_(const Tensor& tensor, double low, double high,
              Generator& generator = default_generator());
// Normal with the given mean and standard deviation (Box-Muller over pairs of uniforms).
void normal_(const Tensor& tensor, double mean, double std,
             Generator& generator = default_generator());
void zeros_(const Tensor& tensor);
void ones_(const Tensor& tensor);
void constant_(const Tensor& tensor, double value);
// Glorot: uniform in ±gain * sqrt(6 / (fan_in + fan_out)), fans as in PyTorch for a
// weight [fan_out, fan_in, receptive...].
void xavier_uniform_(const Tensor& tensor, double gain = 1.0,
                     Generator& generator = default_generator());

}  // namespace attn::nn::init
