// All differentiable operations.
#pragma once

#include "attn/ops/elementwise.h"
#include "attn/ops/functional.h"
#include "attn/ops/linalg.h"
#include "attn/ops/reduce.h"
#include "attn/ops/views.h"
