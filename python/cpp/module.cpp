// attn._core: the compiled half of the Python package. It only converts arguments and calls
// attn's public C++ API; the Python modules in python/attn/ give it its Python face.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <exception>

#include "attention.h"
#include "attn/core/error.h"
#include "attn/core/parallel.h"
#include "attn/kernels/simd_target.h"
#include "kernels.h"
#include "models.h"
#include "pretrained.h"
#include "tokenizers.h"
#include "training.h"

namespace nb = nanobind;

NB_MODULE(_core, module) {
  module.doc() = "attn's C++ library, reached from Python (use the attn package, not this).";
  // attn::Error carries a message that names what was wrong (a shape, a value, a file): a
  // ValueError in Python's terms.
  nb::register_exception_translator([](const std::exception_ptr& error, void*) {
    try {
      std::rethrow_exception(error);
    } catch (const attn::Error& attn_error) {
      PyErr_SetString(PyExc_ValueError, attn_error.what());
    }
  });
  module.def("set_num_threads", &attn::set_num_threads, nb::arg("threads"),
             "Sets the OpenMP threads attn's kernels use (>= 1).");
  module.def("get_num_threads", &attn::get_num_threads, "The threads attn's kernels use.");
  module.def("simd_target", &attn::kernels::simd_target,
             "The SIMD instruction set attn's kernels run with on this CPU.");
  module.def("available_simd_targets", &attn::kernels::available_simd_targets,
             "The SIMD instruction sets this CPU can run, best first.");
  attn::python::bind_attention(module);
  attn::python::bind_kernels(module);
  attn::python::bind_tokenizers(module);
  attn::python::bind_pretrained(module);
  attn::python::bind_training(module);
  attn::python::bind_models(module);
}
