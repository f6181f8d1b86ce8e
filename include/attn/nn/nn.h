// All neural-network modules.
//
// Conventions shared by every module here:
// - Parameter names and shapes are PyTorch's, so a PyTorch state_dict loads 1:1 with
//   Module::load_state_dict.
// - The parameter dtype is the last constructor argument (RNNOptions::dtype for the
//   recurrent layers): float32 by default, float64 for finite-difference checks. Inputs must
//   have the parameters' dtype; a mismatch is an attn::Error.
// - Initial values come from the default generator (attn::manual_seed makes them repeatable).
#pragma once

#include "attn/nn/attention.h"
#include "attn/nn/dropout.h"
#include "attn/nn/embedding.h"
#include "attn/nn/feed_forward.h"
#include "attn/nn/gru.h"
#include "attn/nn/init.h"
#include "attn/nn/layer_norm.h"
#include "attn/nn/linear.h"
#include "attn/nn/lstm.h"
#include "attn/nn/module.h"
#include "attn/nn/multihead_attention.h"
#include "attn/nn/positional.h"
#include "attn/nn/rnn.h"
