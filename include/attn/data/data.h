// The data layer: corpora (Bible, Austen, IMDB), their splits and files, and batching.
#pragma once

#include "attn/data/austen.h"
#include "attn/data/batching.h"
#include "attn/data/bible.h"
#include "attn/data/imdb.h"
#include "attn/data/osis.h"
#include "attn/data/split.h"
#include "attn/data/text_files.h"
