// The twin of nanobind_module.cpp, written with pybind11.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <vector>

namespace py = pybind11;
using Array = py::array_t<double, py::array::c_style>;

PYBIND11_MODULE(choice_pybind11, module) {
  module.def(
      "call",
      [](Array q, Array k, Array v, double scale, bool causal) {
        auto* out = new std::vector<double>(q.size());
        const double* q_data = q.data();
        for (py::ssize_t i = 0; i < q.size(); ++i) (*out)[i] = scale * q_data[i] + k.data()[0] + v.data()[0] + causal;
        py::capsule owner(out, [](void* p) { delete static_cast<std::vector<double>*>(p); });
        return py::array_t<double>({q.shape(0), q.shape(1)}, out->data(), owner);
      },
      py::arg("q"), py::arg("k"), py::arg("v"), py::arg("scale") = 1.0, py::arg("causal") = false);
  // Arrays in, a number out: the cost of taking the arrays alone.
  module.def(
      "read", [](Array q, Array k, Array v, double scale) { return scale * q.data()[0] + k.data()[0] + v.data()[0]; },
      py::arg("q"), py::arg("k"), py::arg("v"), py::arg("scale") = 1.0);
}
