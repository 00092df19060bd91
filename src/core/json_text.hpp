#pragma once
// JSON values quoted in error messages, shared by the readers of JSON (safetensors and model
// files, architecture and energy descriptions). Internal to src/.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace ebm::detail {

// v as JSON text for a message, at most 40 characters, looking one level deep only: dump()
// recurses, and a hostile header nested a million levels deep would overflow the stack.
inline std::string json_preview(const nlohmann::json& v) {
  std::string s;
  if (v.is_structured()) {
    s = v.is_array() ? "[" : "{";
    for (auto it = v.begin(); it != v.end() && s.size() <= 40; ++it) {
      if (it != v.begin()) s += ",";
      if (v.is_object()) s += nlohmann::json(it.key()).dump() + ":";
      s += it->is_primitive() ? it->dump() : it->is_array() ? "[...]" : "{...}";
    }
    s += v.is_array() ? "]" : "}";
  } else {
    s = v.dump();
  }
  return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

/// "a, b, c".
inline std::string join(const std::vector<std::string>& items) {
  std::string s;
  for (const auto& item : items) s += (s.empty() ? "" : ", ") + item;
  return s;
}

}  // namespace ebm::detail
