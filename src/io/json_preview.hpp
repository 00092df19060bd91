#pragma once
// JSON values quoted in error messages, shared by the safetensors and model-file readers.
#include <nlohmann/json.hpp>

#include <string>

namespace ebm::io::detail {

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

}  // namespace ebm::io::detail
