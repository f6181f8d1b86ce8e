// One binding of the shape of attn._core's calls (three arrays in, keyword options, one
// array out over C++ memory), written with nanobind; pybind11_module.cpp is its twin.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstddef>
#include <vector>

namespace nb = nanobind;
using Array = nb::ndarray<nb::ro, double, nb::c_contig, nb::device::cpu>;

NB_MODULE(choice_nanobind, module) {
  module.def(
      "call",
      [](Array q, Array k, Array v, double scale, bool causal) {
        auto* out = new std::vector<double>(q.size());
        const double* q_data = q.data();
        for (std::size_t i = 0; i < q.size(); ++i) (*out)[i] = scale * q_data[i] + k.data()[0] + v.data()[0] + causal;
        nb::capsule owner(out, [](void* p) noexcept { delete static_cast<std::vector<double>*>(p); });
        return nb::ndarray<nb::numpy, double>(out->data(), {q.shape(0), q.shape(1)}, owner);
      },
      nb::arg("q"), nb::arg("k"), nb::arg("v"), nb::arg("scale") = 1.0, nb::arg("causal") = false);
  // Arrays in, a number out: the cost of taking the arrays alone.
  module.def(
      "read", [](Array q, Array k, Array v, double scale) { return scale * q.data()[0] + k.data()[0] + v.data()[0]; },
      nb::arg("q"), nb::arg("k"), nb::arg("v"), nb::arg("scale") = 1.0);
}
