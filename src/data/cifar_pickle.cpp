// read_cifar_pickle_batch (crest/data/cifar_pickle.h): a strict reader for the pickles of the
// CIFAR python layout. The opcodes are those of Python 2's cPickle at protocol 2
// (https://github.com/python/cpython/blob/main/Lib/pickletools.py documents each one).
#include "crest/data/cifar_pickle.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <utility>

#include "crest/data/cifar.h"
#include "crest/io/file.h"
#include "crest/util/error.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

constexpr int kMaxDepth = 8;  // tuples in tuples: the dtype's state is the deepest, at 3

struct Value;
// A tuple's, list's or dict's items (a dict's keys and values alternate), shared by the stack
// and the memo as in Python; `depth` bounds the nesting a crafted file could build.
struct Items {
  std::vector<Value> values;
  int depth = 1;
};

struct Value {
  enum class Kind { kNone, kBool, kInt, kBytes, kTuple, kList, kDict, kGlobal, kArray, kDtype };
  Kind kind = Kind::kNone;
  std::int64_t number = 0;            // kBool, kInt
  std::shared_ptr<std::string> text;  // kBytes (text too); kGlobal: "module.name"; kArray: data
  std::shared_ptr<Items> items;       // kTuple, kList, kDict
  std::vector<std::int64_t> shape;    // kArray, once built
  int depth() const { return items ? items->depth : 0; }
};

Value make_value(Value::Kind kind, std::int64_t number = 0) {
  Value v;
  v.kind = kind;
  v.number = number;
  return v;
}

class Reader {
 public:
  Reader(std::string data, fs::path file) : data_(std::move(data)), file_(std::move(file)) {}

  Value run() {
    if (data_.size() < 2 || static_cast<unsigned char>(data_[0]) != 0x80 || data_[1] != 2) {
      fail("it does not start as a protocol-2 pickle (torchvision's cifar files do)");
    }
    pos_ = 2;
    while (true) {
      const auto op = static_cast<unsigned char>(read(1)[0]);
      if (op == '.') break;  // STOP
      if (!scalar(op) && !container(op) && !memo(op) && !call(op)) {
        pos_ -= 1;
        fail("opcode 0x" + hex(op) + " is not one the CIFAR files use");
      }
    }
    if (stack_.size() != 1 || !marks_.empty())
      fail("it stops with " + std::to_string(stack_.size()) + " values on the stack");
    if (pos_ != data_.size()) fail("bytes follow its end");
    return stack_.back();
  }

  [[noreturn]] void fail(const std::string& why) const {
    throw DataError(file_.string() + ": not a CIFAR python batch (damaged pickle at byte " +
                    std::to_string(pos_) + ": " + why + ")");
  }

 private:
  static std::string hex(unsigned char op) {
    const char* digits = "0123456789abcdef";
    return {digits[op >> 4], digits[op & 15]};
  }

  std::string_view read(std::size_t bytes) {
    if (data_.size() - pos_ < bytes) fail("it ends in the middle of a value (truncated)");
    pos_ += bytes;
    return std::string_view(data_).substr(pos_ - bytes, bytes);
  }
  std::uint64_t read_uint(std::size_t bytes) {
    const std::string_view raw = read(bytes);
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < bytes; ++i) {
      value |= static_cast<std::uint64_t>(static_cast<unsigned char>(raw[i])) << (8 * i);
    }
    return value;
  }
  Value bytes_value(std::size_t length) {
    Value v = make_value(Value::Kind::kBytes);
    v.text = std::make_shared<std::string>(read(length));
    return v;
  }

  bool scalar(unsigned char op) {
    Value v;
    switch (op) {
      case 'N':
        break;  // NONE
      case 0x88:
      case 0x89:
        v = make_value(Value::Kind::kBool, op == 0x88 ? 1 : 0);
        break;  // NEWTRUE, NEWFALSE
      case 'K':
        v = make_value(Value::Kind::kInt, static_cast<std::int64_t>(read_uint(1)));
        break;
      case 'M':
        v = make_value(Value::Kind::kInt, static_cast<std::int64_t>(read_uint(2)));
        break;
      case 'J':
        v = make_value(Value::Kind::kInt,
                       static_cast<std::int32_t>(static_cast<std::uint32_t>(read_uint(4))));
        break;
      case 'U':
        v = bytes_value(read_uint(1));
        break;  // SHORT_BINSTRING
      case 'T':
        v = bytes_value(read_uint(4));
        break;  // BINSTRING (the pixels)
      case 'X':
        v = bytes_value(read_uint(4));
        break;  // BINUNICODE (UTF-8 kept as bytes)
      default:
        return false;
    }
    push(std::move(v));
    return true;
  }

  Value make(Value::Kind kind, std::vector<Value> values) {
    Value v = make_value(kind);
    v.items = std::make_shared<Items>();
    for (const Value& item : values) v.items->depth = std::max(v.items->depth, item.depth() + 1);
    if (v.items->depth > kMaxDepth) fail("containers nest deeper than a CIFAR file's");
    v.items->values = std::move(values);
    return v;
  }
  void add_items(Value::Kind kind, std::vector<Value> values) {
    if (stack_.empty() || stack_.back().kind != kind) fail("it adds items to a wrong value");
    Items& target = *stack_.back().items;
    for (Value& item : values) {
      if (item.items == stack_.back().items) fail("a container holds itself");
      target.depth = std::max(target.depth, item.depth() + 1);
      if (target.depth > kMaxDepth) fail("containers nest deeper than a CIFAR file's");
      target.values.push_back(std::move(item));
    }
  }

  bool container(unsigned char op) {
    switch (op) {
      case '(':
        marks_.push_back(std::move(stack_));
        stack_.clear();
        return true;  // MARK
      case ')':
        push(make(Value::Kind::kTuple, {}));
        return true;
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        const std::size_t n = op - 0x84u;
        if (stack_.size() < n) fail("a tuple takes more values than the stack holds");
        std::vector<Value> values(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
        stack_.resize(stack_.size() - n);
        push(make(Value::Kind::kTuple, std::move(values)));
        return true;
      }
      case 't':
        push(make(Value::Kind::kTuple, pop_mark()));
        return true;
      case '}':
        push(make(Value::Kind::kDict, {}));
        return true;
      case ']':
        push(make(Value::Kind::kList, {}));
        return true;
      case 'a':
        add_items(Value::Kind::kList, {pop()});
        return true;  // APPEND
      case 'e':
        add_items(Value::Kind::kList, pop_mark());
        return true;  // APPENDS
      case 's': {     // SETITEM
        Value value = pop();
        Value key = pop();
        add_items(Value::Kind::kDict, {std::move(key), std::move(value)});
        return true;
      }
      case 'u': {  // SETITEMS
        std::vector<Value> pairs = pop_mark();
        if (pairs.size() % 2 != 0) fail("a dict gets a key without a value");
        add_items(Value::Kind::kDict, std::move(pairs));
        return true;
      }
      default:
        return false;
    }
  }

  bool memo(unsigned char op) {
    switch (op) {
      case 'q':
      case 'r':  // BINPUT, LONG_BINPUT
        if (stack_.empty()) fail("it memoises a value from an empty stack");
        memo_[read_uint(op == 'q' ? 1 : 4)] = stack_.back();
        return true;
      case 'h':
      case 'j': {  // BINGET, LONG_BINGET
        const auto it = memo_.find(read_uint(op == 'h' ? 1 : 4));
        if (it == memo_.end()) fail("it recalls a value it never memoised");
        push(it->second);
        return true;
      }
      default:
        return false;
    }
  }

  bool call(unsigned char op) {
    switch (op) {
      case 'c': {  // GLOBAL "module\nname\n": only named, never called
        std::string name = line() + ".";
        name += line();
        if (name != "numpy.core.multiarray._reconstruct" && name != "numpy.ndarray" &&
            name != "numpy.dtype") {
          fail("it names " + name + ", which a CIFAR file does not");
        }
        Value v = make_value(Value::Kind::kGlobal);
        v.text = std::make_shared<std::string>(std::move(name));
        push(std::move(v));
        return true;
      }
      case 'R': {  // REDUCE
        Value args = pop();
        Value func = pop();
        push(reduce(func, args));
        return true;
      }
      case 'b': {  // BUILD
        Value state = pop();
        if (stack_.empty()) fail("BUILD on an empty stack");
        build(stack_.back(), state);
        return true;
      }
      default:
        return false;
    }
  }

  std::string line() {
    const std::size_t end = data_.find('\n', pos_);
    if (end == std::string::npos || end - pos_ > 64) fail("a GLOBAL's name has no end");
    const std::size_t length = end - pos_;
    return std::string(read(length + 1).substr(0, length));
  }

  const std::vector<Value>& tuple(const Value& v, std::size_t n, const char* what) const {
    if (v.kind != Value::Kind::kTuple || v.items->values.size() != n) {
      fail(std::string(what) + " is not a tuple of " + std::to_string(n));
    }
    return v.items->values;
  }
  bool is_text(const Value& v, const char* text) const {
    return v.kind == Value::Kind::kBytes && *v.text == text;
  }

  // _reconstruct(ndarray, (0,), b'b') makes an empty array; dtype('u1', 0, 1) the byte type.
  Value reduce(const Value& func, const Value& args) {
    const std::string name = func.kind == Value::Kind::kGlobal ? *func.text : "";
    if (name == "numpy.core.multiarray._reconstruct") {
      const auto& a = tuple(args, 3, "_reconstruct's arguments");
      if (a[0].kind != Value::Kind::kGlobal || *a[0].text != "numpy.ndarray") {
        fail("_reconstruct builds something else than numpy.ndarray");
      }
      return make_value(Value::Kind::kArray);
    }
    if (name == "numpy.dtype") {
      const auto& a = tuple(args, 3, "dtype's arguments");
      if (!is_text(a[0], "u1")) fail("the array's dtype is not u1 (uint8)");
      return make_value(Value::Kind::kDtype);
    }
    fail("REDUCE calls something else than numpy's array or dtype");
  }

  // The dtype's state (3, '|', ...) and the array's (1, shape, dtype, is_fortran, bytes).
  void build(Value& target, const Value& state) {
    if (target.kind == Value::Kind::kDtype) {
      const auto& s = tuple(state, 8, "the dtype's state");
      if (!is_text(s[1], "|")) fail("the dtype's byte order is not '|'");
      return;
    }
    if (target.kind != Value::Kind::kArray || target.text) fail("BUILD on a wrong value");
    const auto& s = tuple(state, 5, "the array's state");
    if (s[2].kind != Value::Kind::kDtype) fail("the array's dtype is not u1");
    if (s[3].kind != Value::Kind::kBool || s[3].number != 0) fail("the array is not C-ordered");
    if (s[4].kind != Value::Kind::kBytes) fail("the array's data is not a byte string");
    std::int64_t elements = 1;
    for (const Value& d : tuple(s[1], 2, "the array's shape")) {
      if (d.kind != Value::Kind::kInt || d.number < 0) fail("the array's shape is not two sizes");
      target.shape.push_back(d.number);
      elements *= d.number;
    }
    if (static_cast<std::int64_t>(s[4].text->size()) != elements) {
      fail("the array's data holds " + std::to_string(s[4].text->size()) + " bytes, not " +
           std::to_string(elements));
    }
    target.text = s[4].text;
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
    std::vector<Value> values = std::move(stack_);
    stack_ = std::move(marks_.back());
    marks_.pop_back();
    return values;
  }

  std::string data_;
  fs::path file_;
  std::size_t pos_ = 0;
  std::vector<Value> stack_;
  std::vector<std::vector<Value>> marks_;
  std::unordered_map<std::uint64_t, Value> memo_;
};

// The value under `key` (b'key' or u'key') of the top-level dict.
const Value& entry(const Reader& reader, const Value& dict, const std::string& key) {
  if (dict.kind != Value::Kind::kDict) reader.fail("it does not hold a dict");
  const std::vector<Value>& kv = dict.items->values;
  for (std::size_t i = 0; i + 1 < kv.size(); i += 2) {
    if (kv[i].kind == Value::Kind::kBytes && *kv[i].text == key) return kv[i + 1];
  }
  reader.fail("its dict has no key '" + key + "'");
}

}  // namespace

Dataset read_cifar_pickle_batch(const fs::path& file, const std::string& label_key,
                                int num_classes) {
  Reader reader(read_file(file), file);
  const Value top = reader.run();
  const Value& data = entry(reader, top, "data");
  if (data.kind != Value::Kind::kArray || !data.text || data.shape[1] != kCifarImageBytes) {
    reader.fail("'data' is not a uint8 array of " + std::to_string(kCifarImageBytes) +
                "-byte rows");
  }
  const Value& labels = entry(reader, top, label_key);
  if (labels.kind != Value::Kind::kList) reader.fail("'" + label_key + "' is not a list");
  const std::int64_t count = data.shape[0];
  if (static_cast<std::int64_t>(labels.items->values.size()) != count) {
    reader.fail("'" + label_key + "' holds " + std::to_string(labels.items->values.size()) +
                " labels for " + std::to_string(count) + " images");
  }
  Dataset dataset;
  dataset.labels = at::empty({count}, at::kLong);
  auto* out = dataset.labels.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < count; ++i) {
    const Value& l = labels.items->values[static_cast<std::size_t>(i)];
    if (l.kind != Value::Kind::kInt || l.number < 0 || l.number >= num_classes) {
      reader.fail("label " + std::to_string(i) + " is not a class 0.." +
                  std::to_string(num_classes - 1));
    }
    out[i] = l.number;
  }
  dataset.images = at::empty({count, 3, 32, 32}, at::kByte);
  std::memcpy(dataset.images.data_ptr<std::uint8_t>(), data.text->data(), data.text->size());
  return dataset;
}

std::vector<std::string> read_cifar_pickle_names(const fs::path& file, const std::string& key) {
  Reader reader(read_file(file), file);
  const Value top = reader.run();
  const Value& list = entry(reader, top, key);
  if (list.kind != Value::Kind::kList) reader.fail("'" + key + "' is not a list");
  std::vector<std::string> names;
  for (const Value& name : list.items->values) {
    if (name.kind != Value::Kind::kBytes || name.text->empty()) {
      reader.fail("'" + key + "' holds something else than names");
    }
    names.push_back(*name.text);
  }
  return names;
}

}  // namespace crest
