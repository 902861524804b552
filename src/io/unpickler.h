// Private to the io readers: a restricted unpickler for the pickle inside a torch.save file
// (io/torch_pickle.h). It builds only None, booleans, integers, floats, strings, tuples, lists,
// dicts, tensor storages and tensors, and calls only the globals of the allow-list; it mirrors
// torch/_weights_only_unpickler.py (torch.load(weights_only=True)).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "crest/util/error.h"

namespace crest::io_detail {

// DataError "FILE: not a .pt file of named tensors (WHY); give ...".
DataError pt_error(const std::filesystem::path& file, const std::string& why);

// The callables a file may name: the allow-list of crest/io/torch_pickle.h.
enum class Callable {
  kOrderedDict,
  kRebuildTensorV2,
  kRebuildTensor,
  kRebuildParameter,
  kRestoreTypeTag,
  kStorage
};

// One value of the unpickler. Tuples, lists and dicts live in the unpickler's arena and are
// referred to by index: a memo entry and the stack see the same dict (as in Python), and neither
// deep nesting nor a cycle in a crafted file can exhaust the C++ stack when values are freed.
struct Value {
  enum class Kind {
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kTuple,
    kList,
    kDict,
    kGlobal,
    kStorage,
    kTensor
  };
  Kind kind = Kind::kNone;
  std::int64_t number = 0;                      // kBool, kInt
  double real = 0;                              // kFloat
  std::shared_ptr<const std::string> text_ptr;  // kString; kGlobal: "module.name"
  Callable callable = Callable::kOrderedDict;   // kGlobal
  at::ScalarType dtype = at::kFloat;            // kGlobal kStorage
  std::size_t items = 0;                        // kTuple, kList, kDict (key, value, key, ...)
  at::Tensor tensor;                            // kTensor; kStorage: its elements, flat

  // A string is shared by its copies: a memo entry recalled a million times costs no more.
  const std::string& text() const {
    static const std::string kEmpty;
    return text_ptr ? *text_ptr : kEmpty;
  }
};

// "None", "int", "dict", ... for messages.
const char* kind_name(Value::Kind kind);

// Reads the storage KEY of `numel` elements of `dtype` from the archive (flat, CPU).
using StorageLoader =
    std::function<at::Tensor(const std::string& key, at::ScalarType dtype, std::int64_t numel)>;

class Unpickler {
 public:
  Unpickler(const std::string& pickle, const std::filesystem::path& file, StorageLoader load)
      : data_(pickle), file_(file), load_(std::move(load)) {}

  // Runs the pickle to its STOP and returns the value it leaves: DataError naming the file for a
  // global outside the allow-list (never called) and for a damaged pickle.
  Value run();
  // The items of a tuple or list, or a dict's keys and values alternating.
  const std::vector<Value>& items(const Value& v) const { return arena_[v.items]; }

 private:
  bool scalar(unsigned char op);
  bool container(unsigned char op);
  bool memo(unsigned char op);
  bool call(unsigned char op);
  Value global(const std::string& module, const std::string& name) const;
  Value reduce(const Value& func, const Value& args);
  Value storage(const Value& pid);
  Value rebuild_tensor(const std::vector<Value>& args) const;

  [[noreturn]] void fail(const std::string& why) const {
    throw pt_error(file_, "damaged pickle at byte " + std::to_string(pos_) + ": " + why);
  }
  void push(Value v) { stack_.push_back(std::move(v)); }
  Value pop() {
    if (stack_.empty()) fail("it takes a value from an empty stack");
    Value v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  std::vector<Value> pop_mark() {
    if (marks_.empty()) fail("it ends a MARK it never began");
    std::vector<Value> items = std::move(stack_);
    stack_ = std::move(marks_.back());
    marks_.pop_back();
    return items;
  }
  Value make(Value::Kind kind, std::vector<Value> items = {}) {
    Value v;
    v.kind = kind;
    v.items = arena_.size();
    arena_.push_back(std::move(items));
    return v;
  }
  std::vector<Value>& items_of(Value::Kind kind) {
    if (stack_.empty() || stack_.back().kind != kind) {
      fail(std::string("it adds items to a value that is not a ") + kind_name(kind));
    }
    return arena_[stack_.back().items];
  }
  std::uint64_t read_uint(std::size_t bytes) {
    if (data_.size() - pos_ < bytes) fail("it ends in the middle of an opcode (truncated)");
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < bytes; ++i) {
      value |= static_cast<std::uint64_t>(static_cast<unsigned char>(data_[pos_ + i])) << (8 * i);
    }
    pos_ += bytes;
    return value;
  }
  std::string read_text(std::size_t bytes) {
    if (data_.size() - pos_ < bytes) fail("a string runs past its end (truncated)");
    pos_ += bytes;
    return data_.substr(pos_ - bytes, bytes);
  }
  std::string read_line() {
    const std::size_t end = data_.find('\n', pos_);
    if (end == std::string::npos) fail("a GLOBAL's name has no end (truncated)");
    std::string line = read_text(end - pos_ + 1);
    line.pop_back();
    return line;
  }

  const std::string& data_;
  std::filesystem::path file_;
  StorageLoader load_;
  std::size_t pos_ = 0;
  std::vector<Value> stack_;
  std::vector<std::vector<Value>> marks_;
  std::unordered_map<std::uint64_t, Value> memo_;
  std::deque<std::vector<Value>> arena_;
};

}  // namespace crest::io_detail
