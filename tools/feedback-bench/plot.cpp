// SPDX-License-Identifier: Apache-2.0
// SVG output for feedback-bench: plain horizontal bar charts, no scripts, no external styles.
#include "plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace aftk::tools::feedback_bench {
namespace {

const char* const kOrder[] = {"aftk",       "aftk-channel", "two-deque-spin", "mutex-deque",
                              "moodycamel", "boost-queue",  "boost-spsc"};
const char* const kColors[] = {"#4c72b0", "#dd8452", "#55a868", "#c44e52",
                               "#8172b3", "#937860", "#da8bc3", "#8c8c8c"};

std::string esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

const Figure* find(const std::vector<Figure>& fs, const std::string& impl,
                   const std::string& metric, unsigned p, unsigned bytes) {
  for (auto& f : fs) {
    if (f.impl == impl && f.metric == metric && (p == 0 || f.producers == p) &&
        (bytes == 0 || f.payload_bytes == bytes)) {
      return &f;
    }
  }
  return nullptr;
}

constexpr double kLeft = 150, kWidth = 1000, kBarArea = 700, kBar = 14, kGap = 4;

}  // namespace

std::string render_svg(const std::vector<Figure>& fs, const std::string& title,
                       unsigned payload_bytes) {
  std::string body;
  double y = 50;

  // Throughput panel.
  std::set<unsigned> ps;
  double top = 0;
  for (auto& f : fs) {
    if (f.metric == "throughput" && f.payload_bytes == payload_bytes) {
      ps.insert(f.producers);
      top = std::max(top, f.max);
    }
  }
  if (!ps.empty() && top > 0) {
    body += fmt::format(
        "<text x=\"10\" y=\"{}\" font-size=\"15\" font-weight=\"bold\">Throughput, million items/s "
        "({}-byte items; longer is better; whiskers: min..max)</text>\n",
        y, payload_bytes);
    y += 12;
    std::size_t ci = 0;
    double lx = kLeft;
    for (unsigned p : ps) {
      body += fmt::format(
          "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{}\" "
          "font-size=\"12\">{} producer{}</text>\n",
          lx, y, kColors[ci++ % 8], lx + 16, y + 10, p, p == 1 ? "" : "s");
      lx += 110;
    }
    y += 22;
    for (const char* impl : kOrder) {
      bool any = false;
      for (unsigned p : ps) any = any || find(fs, impl, "throughput", p, payload_bytes);
      if (!any) continue;
      double group_top = y;
      ci = 0;
      for (unsigned p : ps) {
        const Figure* f = find(fs, impl, "throughput", p, payload_bytes);
        const char* color = kColors[ci++ % 8];
        if (f != nullptr) {
          double w = f->median / top * kBarArea;
          body += fmt::format(
              "<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\"/>\n"
              "<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{}\" y2=\"{}\" stroke=\"#333\"/>\n"
              "<text x=\"{:.1f}\" y=\"{}\" font-size=\"11\">{:.1f}</text>\n",
              kLeft, y, w, kBar, color, kLeft + f->min / top * kBarArea,
              kLeft + f->max / top * kBarArea, y + kBar / 2, y + kBar / 2,
              kLeft + f->max / top * kBarArea + 4, y + 11, f->median / 1e6);
        }
        y += kBar + 2;
      }
      body +=
          fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"13\" text-anchor=\"end\">{}</text>\n",
                      kLeft - 8, (group_top + y) / 2 + 4, esc(impl));
      y += kGap + 6;
    }
    y += 30;
  }

  // Latency panel, log scale.
  const char* const kMetrics[] = {"rtt_spin_p50", "rtt_spin_p99", "rtt_park_p50", "rtt_park_p99"};
  double lo = 1e18, hi = 0;
  for (auto& f : fs) {
    if (f.unit == "ns" && f.median > 0) {
      lo = std::min(lo, f.median);
      hi = std::max(hi, f.median);
    }
  }
  if (hi > 0) {
    double lmin = std::floor(std::log10(lo)), lmax = std::ceil(std::log10(hi) + 0.05);
    auto xof = [&](double v) { return kLeft + (std::log10(v) - lmin) / (lmax - lmin) * kBarArea; };
    body += fmt::format(
        "<text x=\"10\" y=\"{}\" font-size=\"15\" font-weight=\"bold\">Round trip of one item, ns "
        "(log scale; shorter is better; dashed: floors)</text>\n",
        y);
    y += 12;
    double lx = kLeft;
    for (std::size_t i = 0; i < 4; ++i) {
      body += fmt::format(
          "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{}\" "
          "font-size=\"12\">{}</text>\n",
          lx, y, kColors[i], lx + 16, y + 10, kMetrics[i]);
      lx += 130;
    }
    y += 22;
    double panel_top = y;
    for (const char* impl : kOrder) {
      bool any = false;
      for (const char* m : kMetrics) any = any || find(fs, impl, m, 0, 0);
      if (!any) continue;
      double group_top = y;
      for (std::size_t i = 0; i < 4; ++i) {
        const Figure* f = find(fs, impl, kMetrics[i], 0, 0);
        if (f == nullptr) continue;
        body += fmt::format(
            "<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\"/>\n"
            "<text x=\"{:.1f}\" y=\"{}\" font-size=\"11\">{:.0f}</text>\n",
            kLeft, y, std::max(1.0, xof(f->median) - kLeft), kBar, kColors[i], xof(f->median) + 4,
            y + 11, f->median);
        y += kBar + 2;
      }
      body +=
          fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"13\" text-anchor=\"end\">{}</text>\n",
                      kLeft - 8, (group_top + y) / 2 + 4, esc(impl));
      y += kGap + 6;
    }
    for (int d = static_cast<int>(lmin); d <= static_cast<int>(lmax); ++d) {
      double x = xof(std::pow(10.0, d));
      body += fmt::format(
          "<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{}\" y2=\"{}\" stroke=\"#ccc\"/>\n<text "
          "x=\"{:.1f}\" "
          "y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>\n",
          x, x, panel_top - 4, y, x, y + 14,
          d < 3 ? fmt::format("{} ns", std::pow(10, d))
                : fmt::format("{} us", std::pow(10, d - 3)));
    }
    for (const char* floor : {"cacheline_rtt", "futex_rtt"}) {
      const Figure* f = find(fs, "floor", floor, 0, 0);
      if (f == nullptr) continue;
      double x = xof(f->median);
      body += fmt::format(
          "<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{}\" y2=\"{}\" stroke=\"#000\" "
          "stroke-dasharray=\"5,4\"/>\n<text x=\"{:.1f}\" y=\"{}\" font-size=\"11\" "
          "text-anchor=\"middle\">{} {:.0f} ns</text>\n",
          x, x, panel_top - 4, y, x, y + 28, floor, f->median);
    }
    y += 40;
  }
  if (body.empty()) {
    body = fmt::format("<text x=\"10\" y=\"{}\" font-size=\"14\">no figures to draw</text>\n", y);
    y += 30;
  }
  return fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{:.0f}\" "
      "font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"10\" y=\"24\" font-size=\"16\">{}</text>\n{}</svg>\n",
      kWidth, y + 10, esc(title), body);
}

}  // namespace aftk::tools::feedback_bench
