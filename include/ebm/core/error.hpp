#pragma once
// The error hierarchy. The library throws these and never aborts or exits; the command line
// turns them into one line on stderr and a non-zero exit code. Messages name the function,
// the argument (or file and field) and the bad value.
#include <stdexcept>
#include <string>

namespace ebm {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A caller passed a bad argument: wrong shape, out-of-range value, bad option.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

/// A file could not be opened, read or written.
class IoError : public Error {
 public:
  using Error::Error;
};

/// A file or text was readable but its content is malformed or inconsistent.
class FormatError : public Error {
 public:
  using Error::Error;
};

/// A computation produced or met a non-finite value, or failed to converge.
class NumericalError : public Error {
 public:
  using Error::Error;
};

}  // namespace ebm
