#pragma once
// Colours for figures: a colour-blind-safe cycle for series (Okabe & Ito 2008) and colour maps
// interpolated linearly in sRGB between anchor tables: viridis (van der Walt & Smith, the
// matplotlib default; 16 anchors at t = k/15), Moreland's smooth cool-warm diverging map
// (33 anchors) for signed quantities such as log-density differences, and gray.
#include <cstddef>
#include <string_view>

namespace ebm::plot {

/// Components in [0, 1], not premultiplied.
struct Color {
  double r = 0, g = 0, b = 0, a = 1;
  /// From 8-bit components, e.g. Color::rgb8(0, 114, 178).
  static Color rgb8(int r, int g, int b, double a = 1);
  Color with_alpha(double alpha) const { return {r, g, b, alpha}; }
  /// Throws InvalidArgument naming `where` unless every component is finite and in [0, 1].
  void validate(std::string_view where) const;
};

namespace colors {
inline constexpr Color black{0, 0, 0, 1};
inline constexpr Color white{1, 1, 1, 1};
}  // namespace colors

/// The i-th colour of the series cycle (Okabe-Ito without black: blue, vermillion, bluish
/// green, orange, reddish purple, sky blue, yellow), repeating.
Color palette(std::size_t i);

enum class Colormap { Viridis, CoolWarm, Gray };

std::string_view colormap_name(Colormap map);
/// Parses "viridis", "coolwarm" or "gray"; throws InvalidArgument otherwise.
Colormap parse_colormap(std::string_view name);
/// The map's colour at t, clamped to [0, 1] (low values at t = 0). NaN gives transparent.
Color colormap(Colormap map, double t);

}  // namespace ebm::plot
