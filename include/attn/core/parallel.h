// Thread count for every parallel kernel (OpenMP, and the GEMM library's own pool).
#pragma once

namespace attn {

void set_num_threads(int num_threads);  // >= 1
int get_num_threads();

}  // namespace attn
