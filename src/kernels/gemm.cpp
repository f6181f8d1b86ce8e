// GEMM through oneDNN (float) and OpenBLAS (double, and float for comparison).
//
// Both libraries are handed row-major problems directly: dnnl_sgemm is row-major by
// definition, and cblas takes CblasRowMajor. Batching and the thread policy live here;
// the measurements behind the policy are in docs/PERFORMANCE.md ("GEMM"). That page also
// explains why two threads collapse on a machine shared with other busy processes unless
// the environment sets GOMP_SPINCOUNT or OMP_WAIT_POLICY, which libgomp reads only when it
// loads.
#include "attn/kernels/gemm.h"

#include <cblas.h>
#include <dnnl.h>
#include <omp.h>

#include <algorithm>
#include <climits>
#include <cstdint>

#include "attn/core/error.h"

namespace attn::kernels {
namespace {

using Index = std::int64_t;

// ---- validation ---------------------------------------------------------------------

// Row-major storage: the leading dimension is the distance between stored rows, so it must
// cover a stored row (and be at least 1, as in BLAS, even for empty matrices).
void check_leading_dimension(const char* name, const char* description, Index leading_dimension,
                             Index stored_rows, Index stored_cols) {
  const Index minimum = std::max<Index>(1, stored_cols);
  ATTN_CHECK(leading_dimension >= minimum, "gemm: expected ld", name, " >= ", minimum, " for ",
             description, " stored as [", stored_rows, ", ", stored_cols, "], got ld", name, "=",
             leading_dimension);
}

template <typename T>
void check_sizes_and_strides(const GemmArgs<T>& args) {
  ATTN_CHECK(args.batch >= 0 && args.m >= 0 && args.n >= 0 && args.k >= 0,
             "gemm: expected non-negative sizes, got batch=", args.batch, ", m=", args.m,
             ", n=", args.n, ", k=", args.k);
  ATTN_CHECK(args.stride_a >= 0 && args.stride_b >= 0 && args.stride_c >= 0,
             "gemm: expected non-negative batch strides, got stride_a=", args.stride_a,
             ", stride_b=", args.stride_b, ", stride_c=", args.stride_c);
  const bool c_is_empty = args.m == 0 || args.n == 0;
  if (args.batch > 1 && !c_is_empty) {
    // Entries of C are written concurrently, so they must not share elements.
    const Index c_extent = (args.m - 1) * args.ldc + args.n;
    ATTN_CHECK(args.stride_c >= c_extent, "gemm: expected stride_c >= ", c_extent, " so that the ",
               args.batch, " batch entries of C (m=", args.m, ", n=", args.n, ", ldc=", args.ldc,
               ") do not overlap, got stride_c=", args.stride_c);
  }
}

template <typename T>
void check_pointers(const GemmArgs<T>& args) {
  const bool c_is_empty = args.batch == 0 || args.m == 0 || args.n == 0;
  if (c_is_empty) return;
  ATTN_CHECK(args.c != nullptr, "gemm: C is null for a non-empty [", args.m, ", ", args.n,
             "] result");
  if (args.k == 0) return;
  ATTN_CHECK(args.a != nullptr && args.b != nullptr, "gemm: A or B is null for m=", args.m,
             ", n=", args.n, ", k=", args.k);
}

template <typename T>
void check_args(const GemmArgs<T>& args) {
  check_sizes_and_strides(args);
  // Stored shapes: A is [m, k] or, transposed, [k, m]; B is [k, n] or [n, k]; C is [m, n].
  check_leading_dimension("a", args.transpose_a ? "a transposed A" : "A", args.lda,
                          args.transpose_a ? args.k : args.m, args.transpose_a ? args.m : args.k);
  check_leading_dimension("b", args.transpose_b ? "a transposed B" : "B", args.ldb,
                          args.transpose_b ? args.n : args.k, args.transpose_b ? args.k : args.n);
  check_leading_dimension("c", "C", args.ldc, args.m, args.n);
  check_pointers(args);
}

// ---- views: one batch entry, a block of rows or of columns ---------------------------

template <typename T>
GemmArgs<T> batch_entry(const GemmArgs<T>& args, Index index) {
  GemmArgs<T> entry = args;
  entry.batch = 1;
  entry.a += index * args.stride_a;
  entry.b += index * args.stride_b;
  entry.c += index * args.stride_c;
  return entry;
}

// Rows [begin, end) of C need rows [begin, end) of op(A), which are columns of a stored Aᵀ.
template <typename T>
GemmArgs<T> row_block(const GemmArgs<T>& entry, Index begin, Index end) {
  GemmArgs<T> block = entry;
  block.m = end - begin;
  block.a += entry.transpose_a ? begin : begin * entry.lda;
  block.c += begin * entry.ldc;
  return block;
}

// Columns [begin, end) of C need columns [begin, end) of op(B), which are rows of a stored Bᵀ.
template <typename T>
GemmArgs<T> column_block(const GemmArgs<T>& entry, Index begin, Index end) {
  GemmArgs<T> block = entry;
  block.n = end - begin;
  block.b += entry.transpose_b ? begin * entry.ldb : begin;
  block.c += begin;
  return block;
}

// ---- degenerate products --------------------------------------------------------------

// C = beta * C, for k == 0 or alpha == 0. beta == 0 writes zeros without reading C.
template <typename T>
void scale_c(const GemmArgs<T>& args) {
  for (Index index = 0; index < args.batch; ++index) {
    T* c = args.c + index * args.stride_c;
    for (Index row = 0; row < args.m; ++row) {
      T* c_row = c + row * args.ldc;
      for (Index col = 0; col < args.n; ++col) {
        c_row[col] = args.beta == T(0) ? T(0) : args.beta * c_row[col];
      }
    }
  }
}

template <typename T>
bool is_empty(const GemmArgs<T>& args) {
  return args.batch == 0 || args.m == 0 || args.n == 0;
}

template <typename T>
bool is_scaling_only(const GemmArgs<T>& args) {
  return args.k == 0 || args.alpha == T(0);
}

// ---- the libraries --------------------------------------------------------------------

template <typename T>
void check_fits_int(const GemmArgs<T>& args) {
  // Debian's OpenBLAS is built with 32-bit integers.
  const Index largest = std::max({args.m, args.n, args.k, args.lda, args.ldb, args.ldc});
  ATTN_CHECK(largest <= INT_MAX, "gemm: OpenBLAS takes sizes and leading dimensions up to ",
             INT_MAX, ", got ", largest);
}

CBLAS_TRANSPOSE cblas_transpose(bool transposed) { return transposed ? CblasTrans : CblasNoTrans; }

void call_onednn(const GemmArgs<float>& entry) {
  const dnnl_status_t status = dnnl_sgemm(
      entry.transpose_a ? 'T' : 'N', entry.transpose_b ? 'T' : 'N', entry.m, entry.n, entry.k,
      entry.alpha, entry.a, entry.lda, entry.b, entry.ldb, entry.beta, entry.c, entry.ldc);
  ATTN_ASSERT(status == dnnl_success, "dnnl_sgemm returned status ", static_cast<int>(status));
}

void call_openblas(const GemmArgs<float>& entry) {
  cblas_sgemm(CblasRowMajor, cblas_transpose(entry.transpose_a), cblas_transpose(entry.transpose_b),
              int(entry.m), int(entry.n), int(entry.k), entry.alpha, entry.a, int(entry.lda),
              entry.b, int(entry.ldb), entry.beta, entry.c, int(entry.ldc));
}

void call_openblas(const GemmArgs<double>& entry) {
  cblas_dgemm(CblasRowMajor, cblas_transpose(entry.transpose_a), cblas_transpose(entry.transpose_b),
              int(entry.m), int(entry.n), int(entry.k), entry.alpha, entry.a, int(entry.lda),
              entry.b, int(entry.ldb), entry.beta, entry.c, int(entry.ldc));
}

void call_library(GemmLibrary library, const GemmArgs<float>& entry) {
  if (library == GemmLibrary::onednn) {
    call_onednn(entry);
  } else {
    call_openblas(entry);
  }
}

// OpenBLAS (pthread build) keeps its own pool, sized once per process, not per call.
// Setting it from inside a parallel region would race with other callers, so only the
// outermost caller sets it.
void set_openblas_threads(int threads) {
  if (omp_in_parallel()) return;
  if (openblas_get_num_threads() != threads) openblas_set_num_threads(threads);
}

// ---- threading ------------------------------------------------------------------------

// Inside a parallel region the caller already owns the threads: run on this one.
int available_threads() { return omp_in_parallel() ? 1 : omp_get_max_threads(); }

double flops_per_entry(const GemmArgs<float>& args) {
  return 2.0 * double(args.m) * double(args.n) * double(args.k);
}

// Below this much work per thread, starting a parallel region costs more than it saves
// (a region costs microseconds; 2 MFLOP is about 10 µs of one core).
constexpr double kMinFlopsPerThread = 2e6;

// Blocks per thread when one entry is shared out on demand: more blocks let a thread that
// shares its core with another process take fewer of them; fewer blocks pack B less often
// (on 1024-4096-row problems, 1 or 2 blocks per thread measured within 2%, 4 blocks 3-5%
// slower).
constexpr Index kBlocksPerThread = 2;

int useful_threads(const GemmArgs<float>& args, int threads) {
  const double total = flops_per_entry(args) * double(args.batch);
  const double limit = std::max(1.0, total / kMinFlopsPerThread);
  return int(std::min<double>(threads, limit));
}

// Round a block length up to a multiple of `quantum` (the kernels' register tile).
Index block_length(Index length, Index blocks, Index quantum) {
  const Index raw = (length + blocks - 1) / blocks;
  return std::min(length, (raw + quantum - 1) / quantum * quantum);
}

// Whole entries shared out to threads on demand, each entry computed by one thread.
void run_batch_split(GemmLibrary library, const GemmArgs<float>& args, int threads) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (Index index = 0; index < args.batch; ++index) {
    call_library(library, batch_entry(args, index));
  }
}

// Each entry cut into blocks of rows of C, or of columns when C is wide, and all blocks
// shared out on demand in one parallel region. Columns are cut in multiples of 48 and rows
// in multiples of 16, the register tiles of the AVX-512 kernels, so that every block but
// the last runs full tiles.
void run_block_split(GemmLibrary library, const GemmArgs<float>& args, int threads) {
  const bool split_rows = args.m >= args.n;
  const Index length = split_rows ? args.m : args.n;
  const Index block = block_length(length, threads * kBlocksPerThread, split_rows ? 16 : 48);
  const Index blocks_per_entry = (length + block - 1) / block;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (Index item = 0; item < args.batch * blocks_per_entry; ++item) {
    const GemmArgs<float> entry = batch_entry(args, item / blocks_per_entry);
    const Index begin = item % blocks_per_entry * block;
    const Index end = std::min(length, begin + block);
    call_library(library,
                 split_rows ? row_block(entry, begin, end) : column_block(entry, begin, end));
  }
}

// One parallel region per call: with fewer entries than threads, blocks within entries.
void run_split(GemmLibrary library, const GemmArgs<float>& args, int threads) {
  if (args.batch >= threads) {
    run_batch_split(library, args, threads);
  } else {
    run_block_split(library, args, threads);
  }
}

void run_per_entry(GemmLibrary library, const GemmArgs<float>& args) {
  for (Index index = 0; index < args.batch; ++index) {
    call_library(library, batch_entry(args, index));
  }
}

// Makes oneDNN (which reads omp_get_max_threads on the calling thread) and OpenBLAS run on
// the calling thread alone until the scope ends.
class SingleThreadScope {
 public:
  explicit SingleThreadScope(GemmLibrary library) : previous_(omp_get_max_threads()) {
    omp_set_num_threads(1);
    if (library == GemmLibrary::openblas) set_openblas_threads(1);
  }
  ~SingleThreadScope() { omp_set_num_threads(previous_); }
  SingleThreadScope(const SingleThreadScope&) = delete;
  SingleThreadScope& operator=(const SingleThreadScope&) = delete;

 private:
  int previous_;
};

void run_single_threaded(GemmLibrary library, const GemmArgs<float>& args) {
  const SingleThreadScope scope(library);
  run_per_entry(library, args);
}

// One call per entry, each threaded by the library itself with every available thread.
void run_library_threaded(GemmLibrary library, const GemmArgs<float>& args) {
  if (library == GemmLibrary::openblas) set_openblas_threads(available_threads());
  run_per_entry(library, args);
}

void run_float(const GemmArgs<float>& args, const GemmPlan& plan) {
  if (plan.threading == GemmThreading::library) {
    run_library_threaded(plan.library, args);
    return;
  }
  // automatic and split: the split measured as fast or faster (docs/PERFORMANCE.md).
  const int threads = useful_threads(args, available_threads());
  if (threads == 1) {
    run_single_threaded(plan.library, args);
    return;
  }
  if (plan.library == GemmLibrary::openblas) set_openblas_threads(1);
  run_split(plan.library, args, threads);
}

// ---- reference ------------------------------------------------------------------------

template <typename T>
T element(const T* matrix, Index leading_dimension, bool transposed, Index row, Index col) {
  return transposed ? matrix[col * leading_dimension + row] : matrix[row * leading_dimension + col];
}

template <typename T>
void reference_entry(const GemmArgs<T>& entry) {
  for (Index row = 0; row < entry.m; ++row) {
    for (Index col = 0; col < entry.n; ++col) {
      T sum = 0;
      for (Index inner = 0; inner < entry.k; ++inner) {
        sum += element(entry.a, entry.lda, entry.transpose_a, row, inner) *
               element(entry.b, entry.ldb, entry.transpose_b, inner, col);
      }
      T& out = entry.c[row * entry.ldc + col];
      out = entry.beta == T(0) ? entry.alpha * sum : entry.alpha * sum + entry.beta * out;
    }
  }
}

template <typename T>
void reference(const GemmArgs<T>& args) {
  check_args(args);
  if (is_empty(args)) return;
  for (Index index = 0; index < args.batch; ++index) reference_entry(batch_entry(args, index));
}

}  // namespace

void gemm(const GemmArgs<float>& args, const GemmPlan& plan) {
  check_args(args);
  if (is_empty(args)) return;
  if (is_scaling_only(args)) {
    scale_c(args);
    return;
  }
  if (plan.library == GemmLibrary::openblas) check_fits_int(args);
  run_float(args, plan);
}

void gemm(const GemmArgs<float>& args) { gemm(args, GemmPlan{}); }

void gemm(const GemmArgs<double>& args) {
  check_args(args);
  if (is_empty(args)) return;
  if (is_scaling_only(args)) {
    scale_c(args);
    return;
  }
  check_fits_int(args);
  set_openblas_threads(available_threads());
  for (Index index = 0; index < args.batch; ++index) call_openblas(batch_entry(args, index));
}

void gemm_reference(const GemmArgs<float>& args) { reference(args); }
void gemm_reference(const GemmArgs<double>& args) { reference(args); }

std::string gemm_library_description() {
  const dnnl_version_t* version = dnnl_version();
  return detail::concat("oneDNN ", version->major, ".", version->minor, ".", version->patch, " (",
                        version->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other",
                        " runtime); ", openblas_get_config(), " using ", openblas_get_corename(),
                        " kernels");
}

}  // namespace attn::kernels
