// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// extraction_ledger: ledger.hpp and rules.hpp for extract_worker.py, so that both workers read
// tables with one implementation (the Python worker brings PyMuPDF's words and render).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "ledger.hpp"
#include "rules.hpp"

namespace py = pybind11;

namespace {

/// (text, x0, y0, x1, y1, font_size, space_after), as extract_worker.py's Word holds them.
using WordTuple = std::tuple<std::string, double, double, double, double, double, bool>;

std::vector<extraction::Word> words_of(const std::vector<WordTuple> &in) {
  std::vector<extraction::Word> out;
  out.reserve(in.size());
  for (const auto &[text, x0, y0, x1, y1, size, space] : in)
    out.push_back({text, x0, y0, x1, y1, size, space});
  return out;
}

} // namespace

PYBIND11_MODULE(extraction_ledger, m) {
  m.doc() = "Ledger rows from word boxes and page rules (examples/extraction/ledger.hpp)";
  py::class_<extraction::Rules>(m, "Rules")
      .def(py::init<>())
      .def_property_readonly("horizontal",
                             [](const extraction::Rules &r) {
                               std::vector<std::tuple<double, double, double>> out;
                               for (const auto &s : r.horizontal)
                                 out.emplace_back(s.pos, s.from, s.to);
                               return out;
                             })
      .def_property_readonly("vertical", [](const extraction::Rules &r) {
        std::vector<std::tuple<double, double, double>> out;
        for (const auto &s : r.vertical)
          out.emplace_back(s.pos, s.from, s.to);
        return out;
      });
  m.def(
      "find_rules",
      [](const py::buffer &pixels, int width, int height, std::size_t stride, int channels,
         double dpi) {
        const py::buffer_info info = pixels.request();
        if (info.ndim < 1 || info.itemsize != 1)
          throw py::value_error("find_rules: pixels must be a buffer of bytes");
        const auto bytes = static_cast<std::size_t>(info.size);
        py::gil_scoped_release unlocked;
        return extraction::find_rules(static_cast<const std::uint8_t *>(info.ptr), bytes, width,
                                      height, stride, channels, dpi);
      },
      py::arg("pixels"), py::arg("width"), py::arg("height"), py::arg("stride"),
      py::arg("channels"), py::arg("dpi"),
      "The ruling lines of a rendered page (rules.hpp): empty when the sizes do not fit.");
  py::class_<extraction::LedgerReader>(m, "LedgerReader")
      .def(py::init<>())
      .def("may_hold_rows",
           [](const extraction::LedgerReader &r, const std::vector<WordTuple> &words) {
             return r.may_hold_rows(words_of(words));
           })
      .def(
          "read_page",
          [](extraction::LedgerReader &r, std::uint32_t page, const std::vector<WordTuple> &words,
             const extraction::Rules &rules) {
            py::list out;
            for (const extraction::Row &row : r.read_page(page, words_of(words), rules))
              out.append(py::make_tuple(row.stt, row.code, row.name, row.unit, row.quantity,
                                        row.unit_price, row.amount, row.adds_up, row.x0, row.y0,
                                        row.x1, row.y1, py::tuple(py::cast(row.parts))));
            return out;
          },
          py::arg("page"), py::arg("words"), py::arg("rules") = extraction::Rules{},
          "Rows as (stt, code, name, unit, quantity, unit_price, amount, adds_up, x0, y0, x1, "
          "y1, parts)")
      .def_property_readonly("has_layout", &extraction::LedgerReader::has_layout)
      .def("save_layout",
           [](const extraction::LedgerReader &r) {
             const std::vector<std::uint8_t> bytes = r.save_layout();
             return py::bytes(reinterpret_cast<const char *>(bytes.data()), bytes.size());
           })
      .def("restore_layout", [](extraction::LedgerReader &r, const py::bytes &bytes) {
        const std::string s = bytes;
        return r.restore_layout(
            std::span(reinterpret_cast<const std::uint8_t *>(s.data()), s.size()));
      });
}
