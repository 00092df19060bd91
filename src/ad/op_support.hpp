#pragma once
// What every op file needs to check its arguments (internal to src/ad).
#include <ebm/ad/tape.hpp>
#include <ebm/core/error.hpp>

#include <string>

namespace ebm::ad::detail {

/// a's tape, after checking a is a live Var of it; InvalidArgument naming `where` otherwise.
template <class T>
Tape<T>& tape_of(const Var<T>& a, const char* where) {
  if (!a.valid()) throw InvalidArgument(std::string(where) + ": argument is an empty Var");
  a.tape()->check_var(a, where, "argument");
  return *a.tape();
}

}  // namespace ebm::ad::detail
