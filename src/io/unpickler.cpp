#include "unpickler.h"

#include <cstdio>
#include <cstring>
#include <map>

namespace crest::io_detail {

namespace fs = std::filesystem;

namespace {

// The pickle opcodes (Python's Lib/pickletools.py) that torch.save of a state dict emits with
// its default protocol 2; torch.load(weights_only=True) reads the same set.
enum Op : unsigned char {
  kProto = 0x80,
  kStop = '.',
  kGlobal = 'c',
  kReduce = 'R',
  kBuild = 'b',
  kBinPersId = 'Q',
  kMark = '(',
  kTuple = 't',
  kTuple1 = 0x85,
  kTuple2 = 0x86,
  kTuple3 = 0x87,
  kEmptyTuple = ')',
  kEmptyList = ']',
  kAppend = 'a',
  kAppends = 'e',
  kEmptyDict = '}',
  kSetItem = 's',
  kSetItems = 'u',
  kNone = 'N',
  kNewTrue = 0x88,
  kNewFalse = 0x89,
  kBinInt = 'J',
  kBinInt1 = 'K',
  kBinInt2 = 'M',
  kLong1 = 0x8a,
  kBinFloat = 'G',
  kBinUnicode = 'X',
  kBinGet = 'h',
  kLongBinGet = 'j',
  kBinPut = 'q',
  kLongBinPut = 'r'
};

constexpr at::ScalarType kStorageTypes[] = {at::kFloat, at::kDouble, at::kHalf,  at::kBFloat16,
                                            at::kLong,  at::kInt,    at::kShort, at::kChar,
                                            at::kByte,  at::kBool};

}  // namespace

DataError pt_error(const fs::path& file, const std::string& why) {
  return DataError(file.string() + ": not a .pt file of named tensors (" + why +
                   "); give a state dict saved with torch.save, crest export or crest pretrain");
}

const char* kind_name(Value::Kind kind) {
  static const char* kNames[] = {"None", "bool", "int",    "float",   "str",   "tuple",
                                 "list", "dict", "global", "storage", "tensor"};
  return kNames[static_cast<int>(kind)];
}

Value Unpickler::run() {
  while (pos_ < data_.size()) {
    const auto op = static_cast<unsigned char>(data_[pos_++]);
    if (op == kStop) return pop();
    if (!(scalar(op) || container(op) || memo(op) || call(op))) {
      --pos_;
      char hex[8];
      std::snprintf(hex, sizeof(hex), "0x%02x", static_cast<unsigned>(op));
      fail(std::string("opcode ") + hex +
           ", which torch.save's default pickle protocol 2 does not use for weights");
    }
  }
  fail("it ends before its STOP opcode (truncated)");
}

bool Unpickler::scalar(unsigned char op) {
  Value v;
  switch (op) {
    case kProto:
      read_uint(1);
      return true;
    case kNone:
      break;
    case kNewTrue:
    case kNewFalse:
      v.kind = Value::Kind::kBool;
      v.number = op == kNewTrue;
      break;
    case kBinInt:
      v.kind = Value::Kind::kInt;
      v.number = static_cast<std::int32_t>(static_cast<std::uint32_t>(read_uint(4)));
      break;
    case kBinInt1:
    case kBinInt2:
      v.kind = Value::Kind::kInt;
      v.number = static_cast<std::int64_t>(read_uint(op == kBinInt1 ? 1 : 2));
      break;
    case kLong1: {
      const std::size_t n = read_uint(1);
      if (n > 8) fail("an integer wider than 64 bits");
      std::uint64_t bits = read_uint(n);
      if (n > 0 && n < 8 && (bits >> (8 * n - 1)) & 1U) bits |= ~std::uint64_t{0} << (8 * n);
      v.kind = Value::Kind::kInt;
      std::memcpy(&v.number, &bits, sizeof(bits));
      break;
    }
    case kBinFloat: {  // big-endian IEEE 754 double
      std::uint64_t bits = 0;
      for (int i = 0; i < 8; ++i) bits = (bits << 8) | read_uint(1);
      v.kind = Value::Kind::kFloat;
      std::memcpy(&v.real, &bits, sizeof(bits));
      break;
    }
    case kBinUnicode:
      v.kind = Value::Kind::kString;
      v.text_ptr = std::make_shared<const std::string>(read_text(read_uint(4)));
      break;
    default:
      return false;
  }
  push(std::move(v));
  return true;
}

bool Unpickler::container(unsigned char op) {
  switch (op) {
    case kMark:
      marks_.push_back(std::move(stack_));
      stack_.clear();
      return true;
    case kTuple:
      push(make(Value::Kind::kTuple, pop_mark()));
      return true;
    case kTuple1:
    case kTuple2:
    case kTuple3: {
      const std::size_t n = op - kTuple1 + 1;
      if (stack_.size() < n) fail("a tuple of more values than the stack holds");
      std::vector<Value> items(std::make_move_iterator(stack_.end() - n),
                               std::make_move_iterator(stack_.end()));
      stack_.resize(stack_.size() - n);
      push(make(Value::Kind::kTuple, std::move(items)));
      return true;
    }
    case kEmptyTuple:
      push(make(Value::Kind::kTuple));
      return true;
    case kEmptyList:
      push(make(Value::Kind::kList));
      return true;
    case kEmptyDict:
      push(make(Value::Kind::kDict));
      return true;
    case kAppend:
    case kSetItem: {
      Value value = pop();
      if (op == kSetItem) {
        Value key = pop();
        items_of(Value::Kind::kDict).push_back(std::move(key));
      }
      items_of(op == kAppend ? Value::Kind::kList : Value::Kind::kDict).push_back(std::move(value));
      return true;
    }
    case kAppends:
    case kSetItems: {
      std::vector<Value> values = pop_mark();
      if (op == kSetItems && values.size() % 2 != 0) fail("SETITEMS with a key but no value");
      auto& items = items_of(op == kAppends ? Value::Kind::kList : Value::Kind::kDict);
      for (auto& v : values) items.push_back(std::move(v));
      return true;
    }
    default:
      return false;
  }
}

bool Unpickler::memo(unsigned char op) {
  switch (op) {
    case kBinPut:
    case kLongBinPut: {
      const std::uint64_t index = read_uint(op == kBinPut ? 1 : 4);
      if (stack_.empty()) fail("it memoizes a value from an empty stack");
      memo_[index] = stack_.back();
      return true;
    }
    case kBinGet:
    case kLongBinGet: {
      const std::uint64_t index = read_uint(op == kBinGet ? 1 : 4);
      const auto it = memo_.find(index);
      if (it == memo_.end()) fail("it recalls memo entry " + std::to_string(index) + ", never set");
      push(it->second);
      return true;
    }
    default:
      return false;
  }
}

bool Unpickler::call(unsigned char op) {
  switch (op) {
    case kGlobal: {
      const std::string module = read_line();
      push(global(module, read_line()));
      return true;
    }
    case kReduce: {
      const Value args = pop();
      const Value func = pop();
      push(reduce(func, args));
      return true;
    }
    case kBuild:  // state_dict()'s OrderedDict gets its _metadata attribute: not needed here
      pop();
      if (stack_.empty() || stack_.back().kind != Value::Kind::kDict) {
        fail("BUILD on something other than a dict");
      }
      return true;
    case kBinPersId:
      push(storage(pop()));
      return true;
    default:
      return false;
  }
}

Value Unpickler::global(const std::string& module, const std::string& name) const {
  static const std::map<std::string, Callable> kAllowed = {
      {"collections.OrderedDict", Callable::kOrderedDict},
      {"torch._utils._rebuild_tensor_v2", Callable::kRebuildTensorV2},
      {"torch._utils._rebuild_tensor", Callable::kRebuildTensor},
      {"torch._utils._rebuild_parameter", Callable::kRebuildParameter},
      {"torch.jit._pickle.restore_type_tag", Callable::kRestoreTypeTag}};
  Value v;
  v.kind = Value::Kind::kGlobal;
  v.text_ptr = std::make_shared<const std::string>(module + "." + name);
  const auto it = kAllowed.find(v.text());
  if (it != kAllowed.end()) {
    v.callable = it->second;
    return v;
  }
  for (const at::ScalarType type : kStorageTypes) {
    if (module == "torch" && name == std::string(c10::toString(type)) + "Storage") {
      v.callable = Callable::kStorage;
      v.dtype = type;
      return v;
    }
  }
  throw DataError(file_.string() + ": refused: its pickle names the Python global '" + v.text() +
                  "', which torch.load(weights_only=True) refuses too, since loading it could run "
                  "code; crest loads only dicts of tensors. In Python, save model.state_dict() "
                  "(not the model or other objects) with torch.save");
}

Value Unpickler::reduce(const Value& func, const Value& args) {
  if (func.kind != Value::Kind::kGlobal || args.kind != Value::Kind::kTuple) {
    fail(std::string("REDUCE of a ") + kind_name(func.kind) + " with a " + kind_name(args.kind));
  }
  const std::vector<Value>& a = arena_[args.items];  // a deque: stays valid as it grows
  auto expect = [&](std::size_t low, std::size_t high) {
    if (a.size() < low || a.size() > high) {
      fail(func.text() + " with " + std::to_string(a.size()) + " arguments");
    }
  };
  switch (func.callable) {
    case Callable::kOrderedDict:
      expect(0, 0);
      return make(Value::Kind::kDict);
    case Callable::kRebuildTensorV2:
      expect(6, 7);
      return rebuild_tensor(a);
    case Callable::kRebuildTensor:
      expect(4, 4);
      return rebuild_tensor(a);
    case Callable::kRebuildParameter:
      expect(3, 4);
      break;
    case Callable::kRestoreTypeTag:
      expect(2, 2);
      break;
    case Callable::kStorage:
      fail("it calls " + func.text());
  }
  if (func.callable == Callable::kRebuildParameter && a[0].kind != Value::Kind::kTensor) {
    fail(func.text() + " of a " + kind_name(a[0].kind));
  }
  return a[0];
}

// ('storage', torch.FloatStorage, KEY, LOCATION, NUMEL): the storage's elements.
Value Unpickler::storage(const Value& pid) {
  const std::vector<Value>* t = pid.kind == Value::Kind::kTuple ? &arena_[pid.items] : nullptr;
  if (t == nullptr || t->size() != 5 || (*t)[0].text() != "storage" ||
      (*t)[1].kind != Value::Kind::kGlobal || (*t)[1].callable != Callable::kStorage ||
      (*t)[2].kind != Value::Kind::kString || (*t)[4].kind != Value::Kind::kInt) {
    fail("a persistent id that is not ('storage', torch.<Type>Storage, key, location, numel)");
  }
  Value v;
  v.kind = Value::Kind::kStorage;
  v.tensor = load_((*t)[2].text(), (*t)[1].dtype, (*t)[4].number);
  return v;
}

// _rebuild_tensor(_v2)(storage, offset, size, stride, ...): that view of the storage, checked to
// lie inside it.
Value Unpickler::rebuild_tensor(const std::vector<Value>& args) const {
  const Value& storage = args[0];
  const bool shaped = args[2].kind == Value::Kind::kTuple && args[3].kind == Value::Kind::kTuple;
  if (storage.kind != Value::Kind::kStorage || args[1].kind != Value::Kind::kInt || !shaped) {
    fail("a tensor without a storage, offset, size and stride");
  }
  const auto& sizes = arena_[args[2].items];
  const auto& strides = arena_[args[3].items];
  if (sizes.size() != strides.size()) fail("a tensor with as many sizes as strides");
  std::vector<std::int64_t> size, stride;
  std::int64_t elements = 1, last = args[1].number;
  bool overflow = last < 0;
  for (std::size_t d = 0; d < sizes.size() && !overflow; ++d) {
    const std::int64_t n = sizes[d].number, s = strides[d].number;
    std::int64_t span = 0;
    overflow = sizes[d].kind != Value::Kind::kInt || strides[d].kind != Value::Kind::kInt ||
               n < 0 || s < 0 || __builtin_mul_overflow(elements, n, &elements) ||
               (n > 0 && (__builtin_mul_overflow(n - 1, s, &span) ||
                          __builtin_add_overflow(last, span, &last)));
    size.push_back(n);
    stride.push_back(s);
  }
  const std::int64_t numel = storage.tensor.numel();
  if (overflow || (elements > 0 && (last >= numel || elements > numel))) {
    fail("a tensor that does not fit in its storage of " + std::to_string(numel) + " elements");
  }
  Value v;
  v.kind = Value::Kind::kTensor;
  // A view, as torch.load gives: a file that rebuilds one storage a million times costs no copies.
  v.tensor = elements == 0 ? at::empty(size, storage.tensor.options())
                           : storage.tensor.as_strided(size, stride, args[1].number);
  return v;
}

}  // namespace crest::io_detail
