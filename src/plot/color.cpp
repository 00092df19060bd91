#include <ebm/core/error.hpp>
#include <ebm/plot/color.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

namespace ebm::plot {
namespace {

struct Rgb8 {
  unsigned char r, g, b;
};

// viridis at t = k / 15 (the published 256-entry table sampled at 16 evenly spaced points,
// the same points as R's viridisLite::viridis(16)). Linear interpolation between them stays
// within about 1/255 of the full table.
constexpr std::array<Rgb8, 16> kViridis = {{
    {0x44, 0x01, 0x54}, {0x48, 0x1A, 0x6C}, {0x47, 0x2F, 0x7D}, {0x41, 0x44, 0x87},
    {0x39, 0x56, 0x8C}, {0x31, 0x68, 0x8E}, {0x2A, 0x78, 0x8E}, {0x23, 0x88, 0x8E},
    {0x1F, 0x98, 0x8B}, {0x22, 0xA8, 0x84}, {0x35, 0xB7, 0x79}, {0x54, 0xC5, 0x68},
    {0x7A, 0xD1, 0x51}, {0xA5, 0xDB, 0x36}, {0xD2, 0xE2, 0x1B}, {0xFD, 0xE7, 0x25},
}};

// Moreland (2009), "Diverging Color Maps for Scientific Visualization": the smooth cool-warm
// map at t = k / 32, blue through light gray to red.
constexpr std::array<Rgb8, 33> kCoolWarm = {{
    {59, 76, 192},   {68, 90, 204},   {77, 104, 215},  {87, 117, 225},  {98, 130, 234},
    {108, 142, 241}, {119, 154, 247}, {130, 165, 251}, {141, 176, 254}, {152, 185, 255},
    {163, 194, 255}, {174, 201, 253}, {184, 208, 249}, {194, 213, 244}, {204, 217, 238},
    {213, 219, 230}, {221, 221, 221}, {229, 216, 209}, {236, 211, 197}, {241, 204, 185},
    {245, 196, 173}, {247, 187, 160}, {247, 177, 148}, {247, 166, 135}, {244, 154, 123},
    {241, 141, 111}, {236, 127, 99},  {229, 112, 88},  {222, 96, 77},   {213, 80, 66},
    {203, 62, 56},   {192, 40, 47},   {180, 4, 38},
}};

// Okabe & Ito (2008), "Color Universal Design", without black (kept for text and frames).
constexpr std::array<Rgb8, 7> kPalette = {{
    {0, 114, 178},    // blue
    {213, 94, 0},     // vermillion
    {0, 158, 115},    // bluish green
    {230, 159, 0},    // orange
    {204, 121, 167},  // reddish purple
    {86, 180, 233},   // sky blue
    {240, 228, 66},   // yellow
}};

template <std::size_t N>
Color interpolate(const std::array<Rgb8, N>& table, double t) {
  const double s = std::clamp(t, 0.0, 1.0) * static_cast<double>(N - 1);
  const std::size_t k = std::min(static_cast<std::size_t>(s), N - 2);
  const double f = s - static_cast<double>(k);
  const Rgb8 a = table[k], b = table[k + 1];
  auto mix = [f](unsigned char u, unsigned char v) { return ((1 - f) * u + f * v) / 255.0; };
  return {mix(a.r, b.r), mix(a.g, b.g), mix(a.b, b.b), 1.0};
}

}  // namespace

Color Color::rgb8(int r, int g, int b, double a) {
  for (int v : {r, g, b}) {
    if (v < 0 || v > 255) throw InvalidArgument("Color::rgb8: component " + std::to_string(v) + " outside [0, 255]");
  }
  return {r / 255.0, g / 255.0, b / 255.0, a};
}

void Color::validate(std::string_view where) const {
  for (double v : {r, g, b, a}) {
    if (!(v >= 0 && v <= 1)) {
      throw InvalidArgument(std::string(where) + ": colour component " + std::to_string(v) + " outside [0, 1]");
    }
  }
}

Color palette(std::size_t i) {
  const Rgb8 c = kPalette[i % kPalette.size()];
  return Color::rgb8(c.r, c.g, c.b);
}

std::string_view colormap_name(Colormap map) {
  switch (map) {
    case Colormap::Viridis: return "viridis";
    case Colormap::CoolWarm: return "coolwarm";
    case Colormap::Gray: return "gray";
  }
  return "?";
}

Colormap parse_colormap(std::string_view name) {
  for (Colormap m : {Colormap::Viridis, Colormap::CoolWarm, Colormap::Gray}) {
    if (name == colormap_name(m)) return m;
  }
  throw InvalidArgument("parse_colormap: unknown colour map '" + std::string(name) +
                        "' (expected viridis, coolwarm or gray)");
}

Color colormap(Colormap map, double t) {
  if (std::isnan(t)) return {0, 0, 0, 0};
  switch (map) {
    case Colormap::Viridis: return interpolate(kViridis, t);
    case Colormap::CoolWarm: return interpolate(kCoolWarm, t);
    case Colormap::Gray: {
      const double v = std::clamp(t, 0.0, 1.0);
      return {v, v, v, 1.0};
    }
  }
  return {0, 0, 0, 0};
}

}  // namespace ebm::plot
