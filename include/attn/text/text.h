// Everything in attn::text: the Tokenizer interface and its three kinds.
#pragma once

#include "attn/text/char_vocabulary.h"
#include "attn/text/sentencepiece.h"
#include "attn/text/tokenizer.h"
#include "attn/text/utf8.h"
#include "attn/text/vocabulary.h"
#include "attn/text/word_vocabulary.h"
