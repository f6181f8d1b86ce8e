// The evaluation metrics: BLEU, chrF / chrF++ (matching sacreBLEU), accuracy, perplexity.
// docs/EVALUATION.md describes them and the `attn eval` command.
#pragma once

#include "attn/metrics/accuracy.h"
#include "attn/metrics/bleu.h"
#include "attn/metrics/chrf.h"
#include "attn/metrics/corpus.h"
#include "attn/metrics/perplexity.h"
#include "attn/metrics/tokenizer_13a.h"
#include "attn/metrics/unicode.h"
