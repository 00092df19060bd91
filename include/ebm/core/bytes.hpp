#pragma once
// Values and matrices to bytes and back, for messages between the processes of a run
// (core/communicator.hpp). The processes run the same build on the same kind of machine, so
// values travel in their in-memory form; a short or malformed message is an ebm::Error.
#include <ebm/core/error.hpp>
#include <ebm/core/types.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace ebm {

class ByteWriter {
 public:
  template <class V>
    requires std::is_trivially_copyable_v<V>
  void value(const V& v) {
    out_.append(reinterpret_cast<const char*>(&v), sizeof(V));
  }
  template <class V>
  void values(const std::vector<V>& v) {
    value(static_cast<std::int64_t>(v.size()));
    out_.append(reinterpret_cast<const char*>(v.data()), sizeof(V) * v.size());
  }
  template <class T>
  void matrix(const Mat<T>& m) {
    value(static_cast<std::int64_t>(m.rows()));
    value(static_cast<std::int64_t>(m.cols()));
    out_.append(reinterpret_cast<const char*>(m.data()), sizeof(T) * static_cast<std::size_t>(m.size()));
  }
  void text(const std::string& s) {
    value(static_cast<std::int64_t>(s.size()));
    out_ += s;
  }
  void raw(const std::string& s) { out_ += s; }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  template <class V>
    requires std::is_trivially_copyable_v<V>
  V value() {
    V v;
    std::memcpy(&v, need(sizeof(V)), sizeof(V));
    return v;
  }
  template <class V>
  std::vector<V> values() {
    const std::size_t n = count(sizeof(V));
    std::vector<V> v(n);
    if (n > 0) std::memcpy(v.data(), need(sizeof(V) * n), sizeof(V) * n);
    return v;
  }
  template <class T>
  Mat<T> matrix() {
    const auto rows = value<std::int64_t>(), cols = value<std::int64_t>();
    if (rows < 0 || cols < 0 || (cols > 0 && rows > std::int64_t(left() / sizeof(T)) / cols))
      throw Error("a message between processes is malformed (matrix " + std::to_string(rows) + "x" + std::to_string(cols) + ")");
    Mat<T> m(rows, cols);
    if (m.size() > 0) std::memcpy(m.data(), need(sizeof(T) * static_cast<std::size_t>(m.size())), sizeof(T) * static_cast<std::size_t>(m.size()));
    return m;
  }
  std::string text() {
    const std::size_t n = count(1);
    return std::string(need(n), n);
  }
  std::string rest() {
    std::string r(in_.substr(at_));
    at_ = in_.size();
    return r;
  }
  std::size_t left() const { return in_.size() - at_; }

 private:
  const char* need(std::size_t n) {
    if (n > left()) throw Error("a message between processes is truncated");
    const char* p = in_.data() + at_;
    at_ += n;
    return p;
  }
  std::size_t count(std::size_t element) {
    const auto n = value<std::int64_t>();
    if (n < 0 || static_cast<std::size_t>(n) > left() / element) throw Error("a message between processes is malformed (count " + std::to_string(n) + ")");
    return static_cast<std::size_t>(n);
  }
  std::string_view in_;
  std::size_t at_ = 0;
};

}  // namespace ebm
