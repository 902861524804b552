#include "crest/config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <type_traits>
#include <variant>

#include "crest/config/embedded.h"
#include "crest/util/error.h"

namespace crest {

namespace {

using Value = std::variant<bool, std::int64_t, double, std::string>;

enum class Kind { kBool, kInt, kFloat, kString };

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::kBool:
      return "true or false";
    case Kind::kInt:
      return "an integer";
    case Kind::kFloat:
      return "a number";
    case Kind::kString:
      return "a string";
  }
  return "";
}

// What a key accepts beyond its type.
struct Rule {
  std::optional<double> lo, hi;
  bool lo_open = false;
  bool hi_open = false;
  std::vector<std::string> choices;  // filled from the enum for choice keys
  // Extra check for strings: returns a problem ("must be ...") or "".
  std::function<std::string(const std::string&)> check;
};

Rule any() { return {}; }
Rule at_least(double lo) {
  Rule r;
  r.lo = lo;
  return r;
}
Rule above(double lo) {
  Rule r;
  r.lo = lo;
  r.lo_open = true;
  return r;
}
Rule between(double lo, double hi) {
  Rule r;
  r.lo = lo;
  r.hi = hi;
  return r;
}
// A choice key: one of its enum's names (make_field fills them in from choices.h).
Rule choice() { return {}; }

struct Field {
  std::string path;
  std::string doc;
  Kind kind;
  Rule rule;
  std::function<void(Config&, const Value&)> assign;
  std::function<Value(const Config&)> read;
};

template <typename Accessor>
Field make_field(std::string path, Accessor accessor, std::string doc, Rule rule) {
  using T = std::remove_reference_t<decltype(accessor(std::declval<Config&>()))>;
  Field field;
  field.path = std::move(path);
  field.doc = std::move(doc);
  field.rule = std::move(rule);
  if constexpr (std::is_same_v<T, bool>) {
    field.kind = Kind::kBool;
  } else if constexpr (std::is_integral_v<T>) {
    field.kind = Kind::kInt;
    // Integers never leave the range of their C++ type.
    const double lo = static_cast<double>(std::numeric_limits<T>::min());
    const double hi = static_cast<double>(std::numeric_limits<T>::max());
    if (!field.rule.lo || *field.rule.lo < lo) field.rule.lo = lo;
    if (!field.rule.hi || *field.rule.hi > hi) field.rule.hi = hi;
  } else if constexpr (std::is_floating_point_v<T>) {
    field.kind = Kind::kFloat;
  } else if constexpr (std::is_enum_v<T>) {
    // A choice key: a string in YAML, one of the enum's names.
    field.kind = Kind::kString;
    field.rule.choices = choice_names<T>();
  } else {
    static_assert(std::is_same_v<T, std::string>,
                  "config fields are bool, integer, double, string or a choice enum");
    field.kind = Kind::kString;
  }
  field.assign = [accessor, path = field.path](Config& config, const Value& value) {
    if constexpr (std::is_same_v<T, bool>) {
      accessor(config) = std::get<bool>(value);
    } else if constexpr (std::is_integral_v<T>) {
      accessor(config) = static_cast<T>(std::get<std::int64_t>(value));
    } else if constexpr (std::is_floating_point_v<T>) {
      accessor(config) = std::get<double>(value);
    } else if constexpr (std::is_enum_v<T>) {
      accessor(config) = parse_choice<T>(std::get<std::string>(value), path);
    } else {
      accessor(config) = std::get<std::string>(value);
    }
  };
  field.read = [accessor](const Config& config) -> Value {
    const T& v = accessor(const_cast<Config&>(config));
    if constexpr (std::is_same_v<T, bool>) {
      return v;
    } else if constexpr (std::is_integral_v<T>) {
      return static_cast<std::int64_t>(v);
    } else if constexpr (std::is_floating_point_v<T>) {
      return static_cast<double>(v);
    } else if constexpr (std::is_enum_v<T>) {
      return to_string(v);
    } else {
      return v;
    }
  };
  return field;
}

#define CREST_KEY(path, member, doc, rule) \
  make_field(                              \
      path, [](Config & c) -> auto& { return c.member; }, doc, rule)

std::string check_device(const std::string& device) {
  static const std::regex kDevice("auto|cpu|cuda|cuda:[0-9]+");
  if (std::regex_match(device, kDevice)) return "";
  return "must be auto, cpu, cuda or cuda:N";
}

// The schema: one row per key, in documentation order (keys of a section stay together).
const std::vector<Field>& fields() {
  static const std::vector<Field> kFields = {
      CREST_KEY("data.dataset", data.dataset,
                "Source dataset: cifar10 | cifar100 | folder (ROOT/train/<class>/*, "
                "ROOT/test/<class>/*) | synthetic (generated in memory, no files).",
                choice()),
      CREST_KEY("data.root", data.root,
                "Folder holding the dataset (CIFAR binary files or image folders); relative "
                "paths are taken from the working directory. Unused for synthetic.",
                any()),
      CREST_KEY("data.protocol", data.protocol,
                "How the long-tailed labeled/unlabeled split is built: crest (CReST/Cui et al.: "
                "N_c = int(N_max * gamma^(-c/(L-1))), ceil(N_c * beta) labeled) | darp (DARP/"
                "DASO/USB: N_1 labeled and M_1 unlabeled head images, gamma_l and gamma_u).",
                choice()),
      CREST_KEY("data.imbalance_ratio", data.imbalance_ratio,
                "gamma = N_1 / N_L, the imbalance ratio of the training set (crest protocol).",
                at_least(1)),
      CREST_KEY("data.label_fraction", data.label_fraction,
                "beta, the fraction of each class that is labeled (crest protocol).",
                [] {
                  Rule r = between(0, 1);
                  r.lo_open = true;
                  return r;
                }()),
      CREST_KEY("data.fold", data.fold,
                "Split seed: the labeled/unlabeled split of fold k shuffles each class with "
                "NumPy's legacy RandomState(k), as the reference does; the paper averages "
                "folds 1-5.",
                between(0, 4294967295.0)),
      CREST_KEY("data.lt_seed", data.lt_seed,
                "Seed of the draw that picks which images of each class the long-tailed set "
                "keeps (RandomState(lt_seed), classes in order; 0 matches the common PyTorch "
                "IMBALANCECIFAR10 construction).",
                between(0, 4294967295.0)),
      CREST_KEY("data.max_per_class", data.max_per_class,
                "N_max, the size of the head class (crest protocol); 0 = the size of the "
                "smallest class of the source (5000 for CIFAR-10, 500 for CIFAR-100).",
                at_least(0)),
      CREST_KEY("data.num_labeled_head", data.num_labeled_head,
                "N_1, labeled images of the head class (darp protocol).", at_least(1)),
      CREST_KEY("data.num_unlabeled_head", data.num_unlabeled_head,
                "M_1, unlabeled images of the head class (darp protocol; of the tail class when "
                "imbalance_ratio_unlabeled is negative).",
                at_least(0)),
      CREST_KEY("data.imbalance_ratio_labeled", data.imbalance_ratio_labeled,
                "gamma_l, imbalance ratio of the labeled set (darp protocol).", at_least(1)),
      CREST_KEY("data.imbalance_ratio_unlabeled", data.imbalance_ratio_unlabeled,
                "gamma_u, imbalance ratio of the unlabeled set (darp protocol); negative "
                "reverses it (the tail class gets M_1 images), |gamma_u| >= 1.",
                any()),
      CREST_KEY("data.image_size", data.image_size,
                "Image side in pixels; image folders must hold images of exactly this size "
                "(CIFAR is 32).",
                between(8, 1024)),
      CREST_KEY("data.synthetic.classes", data.synthetic.classes,
                "Synthetic data: number of classes.", between(2, 1000)),
      CREST_KEY("data.synthetic.train_per_class", data.synthetic.train_per_class,
                "Synthetic data: training images per class before the long-tailed cut.",
                between(1, 100000)),
      CREST_KEY("data.synthetic.test_per_class", data.synthetic.test_per_class,
                "Synthetic data: test images per class.", between(1, 100000)),
      CREST_KEY("data.synthetic.seed", data.synthetic.seed,
                "Synthetic data: generator seed (the same seed gives the same images).",
                at_least(0)),

      CREST_KEY("model.depth", model.depth,
                "Wide ResNet depth; (depth - 4) must be a multiple of 6 (28 = 4 blocks per "
                "stage).",
                between(10, 1000)),
      CREST_KEY("model.width", model.width, "Wide ResNet widening factor (WRN-28-2: 2).",
                between(1, 64)),
      CREST_KEY("model.bn_momentum", model.bn_momentum,
                "BatchNorm running-statistics momentum in PyTorch terms (the reference's Keras "
                "0.999 is 0.001). Schedules of a few hundred steps need more (e.g. 0.01), or "
                "evaluation sees statistics that have barely moved from their initial values.",
                [] {
                  Rule r = between(0, 1);
                  r.lo_open = true;
                  return r;
                }()),

      CREST_KEY("train.batch_size", train.batch_size, "Labeled images per step (B).",
                between(1, 1 << 20)),
      CREST_KEY("train.unlabeled_ratio", train.unlabeled_ratio,
                "Unlabeled images per step as a multiple of batch_size (mu = 7: 448).",
                between(0, 1024)),
      CREST_KEY("train.steps_per_epoch", train.steps_per_epoch,
                "Steps per epoch; the test set is evaluated once an epoch.", at_least(1)),
      CREST_KEY("train.epochs", train.epochs,
                "Epochs per generation (64 x 1024 = 65,536 steps as in the paper).", at_least(1)),
      CREST_KEY("train.threshold", train.threshold,
                "Confidence threshold for FixMatch pseudo-labels (max probability >= tau).",
                between(0, 1)),
      CREST_KEY("train.lambda_u", train.lambda_u, "Weight of the unlabeled loss.", at_least(0)),
      CREST_KEY("train.lr", train.lr, "Initial SGD learning rate.", above(0)),
      CREST_KEY("train.momentum", train.momentum, "SGD momentum.",
                [] {
                  Rule r = between(0, 1);
                  r.hi_open = true;
                  return r;
                }()),
      CREST_KEY("train.nesterov", train.nesterov, "Nesterov momentum.", any()),
      CREST_KEY("train.weight_decay", train.weight_decay,
                "Coupled L2 weight decay on all weights but BatchNorm's.", at_least(0)),
      CREST_KEY("train.lr_level", train.lr_level,
                "halfcos schedule: lr_k = lr * cos(pi * k/K * lr_level/16); 1 as the CReST "
                "reference runs, 7 as FixMatch, 0 keeps lr constant.",
                between(0, 8)),
      CREST_KEY("train.ema_decay", train.ema_decay,
                "Decay of the exponential moving average of the weights (0 = EMA off).",
                [] {
                  Rule r = between(0, 1);
                  r.hi_open = true;
                  return r;
                }()),
      CREST_KEY("train.amp", train.amp,
                "Mixed precision: auto (bf16 autocast on CUDA, off on CPU) | bf16 | off.",
                choice()),
      CREST_KEY("train.eval_batch_size", train.eval_batch_size,
                "Images per batch when evaluating and pseudo-labelling.", between(1, 1 << 20)),
      CREST_KEY("train.channels_last", train.channels_last,
                "NHWC memory layout for the model and its inputs: auto (on for CUDA, off on "
                "CPU) | on | off.",
                choice()),
      CREST_KEY("train.cudnn_benchmark", train.cudnn_benchmark,
                "Let cuDNN time its convolution algorithms once per shape and keep the "
                "fastest (CUDA only).",
                any()),
      CREST_KEY("train.sgd", train.sgd,
                "SGD kernels: auto (fused on CUDA with LibTorch >= 2.3, else foreach) | foreach "
                "(multi-tensor) | fused (one CUDA kernel per group) | loop (per parameter, "
                "as torch.optim.SGD without foreach). Same update rule in every case.",
                choice()),
      CREST_KEY("train.cuda_graph", train.cuda_graph,
                "Capture forward, loss, backward, SGD and EMA as one CUDA graph after a few "
                "eager steps and replay it: auto (on for CUDA builds that support it) | on | "
                "off.",
                choice()),

      CREST_KEY("crest.mode", crest.mode,
                "fixmatch (no self-training) | crest (class-rebalancing selection each "
                "generation) | crest+ (crest plus progressive distribution alignment).",
                choice()),
      CREST_KEY("crest.generations", crest.generations,
                "Generations G; generation 0 is plain FixMatch on the labeled set.",
                between(1, 1000)),
      CREST_KEY("crest.alpha", crest.alpha,
                "Exponent of the selection rate mu_l = (N_{L+1-l} / N_1)^alpha (the paper's "
                "alpha = 1/3; the reference flag alpha=3 means this 1/3).",
                at_least(0)),
      CREST_KEY("crest.rate_profile", crest.rate_profile,
                "Class profile N behind mu_l: ideal (from gamma, as the reference) | labeled "
                "(the labeled counts, for datasets not built from gamma).",
                choice()),
      CREST_KEY("crest.t_min", crest.t_min,
                "CReST+: final alignment temperature; target = normalise(p_data^t_g).",
                [] {
                  Rule r = between(0, 1);
                  r.lo_open = true;
                  return r;
                }()),
      CREST_KEY("crest.t_schedule", crest.t_schedule,
                "CReST+: linear (t_g from 1 to t_min over the generations) | constant "
                "(t_g = t_min in every generation).",
                choice()),
      CREST_KEY("crest.p_model", crest.p_model,
                "CReST+: estimate of the model's class distribution: buffer (mean of the last "
                "p_model_buffer batch means, as the reference) | ema (USB).",
                choice()),
      CREST_KEY("crest.p_model_buffer", crest.p_model_buffer,
                "CReST+: batch means kept by the buffer estimate.", between(1, 1 << 20)),
      CREST_KEY("crest.p_model_momentum", crest.p_model_momentum,
                "CReST+: momentum of the ema estimate.",
                [] {
                  Rule r = between(0, 1);
                  r.hi_open = true;
                  return r;
                }()),
      CREST_KEY("crest.select_on", crest.select_on,
                "How the best generation is chosen, never from the test set: last (the final "
                "generation, as the paper reports) | val (highest mean per-class recall on a "
                "validation slice held out of the labeled set in every generation).",
                choice()),
      CREST_KEY("crest.val_fraction", crest.val_fraction,
                "select_on val: share of each class's labeled images held out, floor(share * "
                "n_c) but at least 1 for classes with 2 or more labeled images (drawn with "
                "RandomState(fold + 1000)).",
                [] {
                  Rule r = between(0, 0.5);
                  r.lo_open = true;
                  return r;
                }()),

      CREST_KEY("run.seed", run.seed, "Seed of model initialisation, sampling and augmentation.",
                at_least(0)),
      CREST_KEY("run.out_dir", run.out_dir,
                "Run folder for outputs (config, split manifest, logs, metrics, checkpoints).",
                [] {
                  Rule r;
                  r.check = [](const std::string& s) {
                    return s.empty() ? std::string("must not be empty") : std::string();
                  };
                  return r;
                }()),
      CREST_KEY("run.device", run.device,
                "auto (the first CUDA device if there is one, else cpu) | cpu | cuda | cuda:N.",
                [] {
                  Rule r;
                  r.check = check_device;
                  return r;
                }()),
      CREST_KEY("run.checkpoint_every", run.checkpoint_every,
                "Steps between checkpoints (0 = only at the end of a generation).", at_least(0)),
      CREST_KEY("run.threads", run.threads,
                "CPU threads for tensor operations (0 = every core). Results are bit-identical "
                "only for the same thread count.",
                between(0, 1024)),
  };
  return kFields;
}

#undef CREST_KEY

const std::map<std::string, std::string>& section_docs() {
  static const std::map<std::string, std::string> kDocs = {
      {"data", "Dataset, long-tailed construction and labeled/unlabeled split."},
      {"data.synthetic", "Procedurally generated images (data.dataset: synthetic)."},
      {"model", "Wide ResNet (pre-activation, leaky ReLU 0.1, BatchNorm)."},
      {"train", "FixMatch inside one generation."},
      {"crest", "The CReST generation loop and CReST+ alignment."},
      {"run", "Seeds, outputs and device."},
  };
  return kDocs;
}

const Field* find_field(const std::string& path) {
  for (const Field& field : fields()) {
    if (field.path == path) return &field;
  }
  return nullptr;
}

bool is_section(const std::string& path) {
  const std::string prefix = path + ".";
  return std::any_of(fields().begin(), fields().end(),
                     [&](const Field& f) { return f.path.compare(0, prefix.size(), prefix) == 0; });
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string unknown_key_message(const std::string& path) {
  std::string best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (const Field& field : fields()) {
    // A key that is the start of a real key ("data.imbalance") counts as a near miss.
    const bool prefix = field.path.compare(0, path.size(), path) == 0;
    const std::size_t d = prefix ? 1 : edit_distance(path, field.path);
    if (d < best_distance) {
      best_distance = d;
      best = field.path;
    }
  }
  std::string message = "unknown key '" + path + "'";
  if (best_distance <= std::max<std::size_t>(3, path.size() / 4)) {
    message += " (did you mean '" + best + "'?)";
  }
  return message + "; configs/defaults.yaml lists every key";
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Shortest decimal text that reads back as the same double, always recognisable as a float.
std::string format_double(double value) {
  char buffer[64];
  if (std::floor(value) == value && std::fabs(value) < 1e15) {
    std::snprintf(buffer, sizeof(buffer), "%.1f", value);
    return buffer;
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  std::string text = buffer;
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
  return text;
}

std::string format_number(double value) {
  if (std::floor(value) == value && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<long long>(value));
  }
  return format_double(value);
}

std::string format_value(const Value& value) {
  if (const auto* b = std::get_if<bool>(&value)) return *b ? "true" : "false";
  if (const auto* i = std::get_if<std::int64_t>(&value)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&value)) return format_double(*d);
  return std::get<std::string>(value);
}

// A string as a YAML scalar, quoted when a plain scalar would read back differently.
std::string yaml_string(const std::string& s) {
  static const std::set<std::string> kReserved = {"true", "false", "yes", "no", "on",
                                                  "off",  "null",  "~",   "y",  "n"};
  bool quote = s.empty() || kReserved.count(lower(s)) > 0 ||
               s.find_first_of(":#{}[],&*!|>'\"%@`\\\t\n") != std::string::npos ||
               std::isspace(static_cast<unsigned char>(s.front())) ||
               std::isspace(static_cast<unsigned char>(s.back())) || s.front() == '-' ||
               s.front() == '?';
  if (!quote) {
    char* end = nullptr;
    errno = 0;
    std::strtod(s.c_str(), &end);
    quote = end != s.c_str() && *end == '\0';  // looks like a number
  }
  if (!quote) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string yaml_value(const Field& field, const Value& value) {
  if (field.kind == Kind::kString) return yaml_string(std::get<std::string>(value));
  return format_value(value);
}

// Converts the scalar text of a key to the field's type, then checks its rule. Returns the
// problem ("must be ...") in `problem` when it fails.
std::optional<Value> convert(const Field& field, const std::string& text, std::string& problem) {
  Value value;
  switch (field.kind) {
    case Kind::kBool: {
      const std::string t = lower(text);
      if (t == "true" || t == "yes" || t == "on") {
        value = true;
      } else if (t == "false" || t == "no" || t == "off") {
        value = false;
      } else {
        problem = "must be true or false";
        return std::nullopt;
      }
      break;
    }
    case Kind::kInt: {
      char* end = nullptr;
      errno = 0;
      const long long parsed = std::strtoll(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || std::isspace(static_cast<unsigned char>(text[0]))) {
        problem = "must be an integer";
        return std::nullopt;
      }
      if (errno == ERANGE) {
        problem = "is out of range";
        return std::nullopt;
      }
      value = static_cast<std::int64_t>(parsed);
      break;
    }
    case Kind::kFloat: {
      char* end = nullptr;
      const double parsed = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || std::isspace(static_cast<unsigned char>(text[0]))) {
        problem = "must be a number";
        return std::nullopt;
      }
      if (!std::isfinite(parsed)) {
        problem = "must be a finite number";
        return std::nullopt;
      }
      value = parsed;
      break;
    }
    case Kind::kString:
      value = text;
      break;
  }

  const Rule& rule = field.rule;
  if (field.kind == Kind::kInt || field.kind == Kind::kFloat) {
    const double v = field.kind == Kind::kInt ? static_cast<double>(std::get<std::int64_t>(value))
                                              : std::get<double>(value);
    const bool low = rule.lo && (rule.lo_open ? v <= *rule.lo : v < *rule.lo);
    const bool high = rule.hi && (rule.hi_open ? v >= *rule.hi : v > *rule.hi);
    if (low || high) {
      if (rule.lo && rule.hi) {
        problem = std::string("must be in ") + (rule.lo_open ? "(" : "[") +
                  format_number(*rule.lo) + ", " + format_number(*rule.hi) +
                  (rule.hi_open ? ")" : "]");
      } else if (rule.lo) {
        problem = std::string("must be ") + (rule.lo_open ? "> " : ">= ") + format_number(*rule.lo);
      } else {
        problem = std::string("must be ") + (rule.hi_open ? "< " : "<= ") + format_number(*rule.hi);
      }
      return std::nullopt;
    }
  }
  if (field.kind == Kind::kString) {
    const std::string& s = std::get<std::string>(value);
    if (!rule.choices.empty() &&
        std::find(rule.choices.begin(), rule.choices.end(), s) == rule.choices.end()) {
      problem = one_of_problem(rule.choices);
      return std::nullopt;
    }
    if (rule.check) {
      problem = rule.check(s);
      if (!problem.empty()) return std::nullopt;
    }
  }
  return value;
}

std::string quoted_got(const std::string& text) { return "got '" + text + "'"; }

void set_field(Config& config, const Field& field, const std::string& text,
               const std::string& where) {
  std::string problem;
  const std::optional<Value> value = convert(field, text, problem);
  if (!value) {
    throw ConfigError(where + field.path + " " + problem + ", " + quoted_got(text));
  }
  field.assign(config, *value);
}

std::string node_kind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
      return "nothing";
    default:
      return "a scalar";
  }
}

std::string location(const std::string& source, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return source + ": ";
  return source + ":" + std::to_string(mark.line + 1) + ": ";
}

void apply_node(Config& config, const YAML::Node& map, const std::string& prefix,
                const std::string& source) {
  std::set<std::string> seen;
  for (const auto& item : map) {
    const YAML::Node& key_node = item.first;
    const YAML::Node& value = item.second;
    const std::string where = location(source, key_node);
    if (!key_node.IsScalar()) throw ConfigError(where + "keys must be plain names");
    const std::string key = key_node.Scalar();
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    if (!seen.insert(key).second) throw ConfigError(where + "key '" + path + "' is given twice");

    if (const Field* field = find_field(path)) {
      if (value.IsNull()) {
        throw ConfigError(where + path + " has no value; give " + kind_name(field->kind) +
                          " or remove the line to keep the default");
      }
      if (!value.IsScalar()) {
        throw ConfigError(where + path + " must be " + kind_name(field->kind) + ", got " +
                          node_kind(value));
      }
      set_field(config, *field, value.Scalar(), where);
    } else if (is_section(path)) {
      if (value.IsNull()) continue;  // an empty section keeps its defaults
      if (!value.IsMap()) {
        throw ConfigError(where + "'" + path + "' is a section and must hold keys, got " +
                          node_kind(value));
      }
      apply_node(config, value, path, source);
    } else {
      throw ConfigError(where + unknown_key_message(path));
    }
  }
}

std::string emit(const Config& config, bool with_comments) {
  std::ostringstream out;
  std::vector<std::string> open;  // the sections currently open, outermost first
  const auto& docs = section_docs();
  for (const Field& field : fields()) {
    std::vector<std::string> parts;
    std::stringstream split(field.path);
    for (std::string part; std::getline(split, part, '.');) parts.push_back(part);
    const std::vector<std::string> sections(parts.begin(), parts.end() - 1);

    std::size_t common = 0;
    while (common < open.size() && common < sections.size() && open[common] == sections[common]) {
      ++common;
    }
    open.resize(common);
    for (std::size_t depth = common; depth < sections.size(); ++depth) {
      std::string section_path;
      for (std::size_t k = 0; k <= depth; ++k) section_path += (k ? "." : "") + sections[k];
      const std::string indent(2 * depth, ' ');
      if (with_comments) {
        if (depth == 0 && out.tellp() > 0) out << "\n";
        const auto doc = docs.find(section_path);
        if (doc != docs.end()) out << indent << "# " << doc->second << "\n";
      }
      out << indent << sections[depth] << ":\n";
      open.push_back(sections[depth]);
    }
    const std::string indent(2 * sections.size(), ' ');
    if (with_comments) {
      // Wrap the documentation at about 96 columns.
      std::istringstream words(field.doc);
      std::string line;
      for (std::string word; words >> word;) {
        if (!line.empty() && indent.size() + 2 + line.size() + 1 + word.size() > 96) {
          out << indent << "# " << line << "\n";
          line.clear();
        }
        line += (line.empty() ? "" : " ") + word;
      }
      if (!line.empty()) out << indent << "# " << line << "\n";
    }
    out << indent << parts.back() << ": " << yaml_value(field, field.read(config)) << "\n";
  }
  return out.str();
}

}  // namespace

Config parse_config(const std::string& yaml_text, const std::string& source) {
  YAML::Node root;
  try {
    const std::vector<YAML::Node> documents = YAML::LoadAll(yaml_text);
    if (documents.size() > 1) {  // "---" between two documents: which one is meant is a guess
      throw ConfigError(location(source, documents[1]) + "the file holds " +
                        std::to_string(documents.size()) +
                        " YAML documents (separated by '---'); a config is one document: merge "
                        "them into one mapping or keep one");
    }
    if (!documents.empty()) root = documents.front();
  } catch (const YAML::Exception& e) {
    throw ConfigError(source + ":" + std::to_string(e.mark.line + 1) + ":" +
                      std::to_string(e.mark.column + 1) + ": YAML syntax error: " + e.msg);
  }
  Config config;
  if (root.IsNull()) return config;  // an empty file keeps every default
  if (!root.IsMap()) {
    throw ConfigError(location(source, root) +
                      "a config must be a mapping of sections (data, model, train, crest, run), "
                      "got " +
                      node_kind(root));
  }
  apply_node(config, root, "", source);
  return config;
}

Config load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError("cannot read config file '" + path + "': " + std::strerror(errno) +
                      " (the presets live in configs/; run `crest print-config` with no "
                      "--config to see the embedded quickstart)");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path);
}

void apply_override(Config& config, const std::string& assignment) {
  const std::string where = "--set " + assignment + ": ";
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError(where + "expected KEY=VALUE, e.g. --set data.fold=2");
  }
  const std::string path = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  const Field* field = find_field(path);
  if (field == nullptr) {
    if (is_section(path)) {
      throw ConfigError(where + "'" + path + "' is a section; set one of its keys, e.g. " + [&] {
        for (const Field& f : fields()) {
          if (f.path.compare(0, path.size() + 1, path + ".") == 0) return f.path;
        }
        return std::string();
      }());
    }
    throw ConfigError(where + unknown_key_message(path));
  }
  // The value is read as YAML so that quoting works as in a file ("--set run.out_dir='a b'").
  YAML::Node node;
  try {
    node = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(where + "the value is not valid YAML: " + e.msg);
  }
  if (node.IsNull() && field->kind != Kind::kString) {
    throw ConfigError(where + path + " has no value; give " + kind_name(field->kind));
  }
  if (!node.IsNull() && !node.IsScalar()) {
    throw ConfigError(where + path + " must be " + kind_name(field->kind) + ", got " +
                      node_kind(node));
  }
  set_field(config, *field, node.IsNull() ? std::string() : node.Scalar(), where);
}

void validate_config(const Config& config) {
  const DataConfig& data = config.data;
  switch (data.dataset) {
    case DatasetKind::kCifar10:
    case DatasetKind::kCifar100:
      if (data.image_size != 32) {
        throw ConfigError("data.image_size must be 32 for " + to_string(data.dataset) + ", got " +
                          std::to_string(data.image_size));
      }
      break;
    case DatasetKind::kFolder:
    case DatasetKind::kSynthetic:
      break;
  }
  if (reads_files(data.dataset) && data.root.empty()) {
    throw ConfigError("data.root must name the folder holding the " + to_string(data.dataset) +
                      " data, got ''");
  }
  if (std::fabs(data.imbalance_ratio_unlabeled) < 1.0) {
    throw ConfigError(
        "data.imbalance_ratio_unlabeled must be >= 1 or <= -1 (negative reverses "
        "the unlabeled distribution), got " +
        format_double(data.imbalance_ratio_unlabeled));
  }
  if (config.train.nesterov && config.train.momentum <= 0.0) {
    throw ConfigError("train.nesterov needs train.momentum > 0, got " +
                      format_double(config.train.momentum) + " (set train.nesterov=false)");
  }
  if ((config.model.depth - 4) % 6 != 0) {
    throw ConfigError("model.depth must be 6n + 4 (10, 16, 22, 28, ...), got " +
                      std::to_string(config.model.depth));
  }
}

Config resolve_config(const std::string& path, const std::vector<std::string>& overrides) {
  Config config = path.empty() ? parse_config(embedded_quickstart_yaml(), "<embedded quickstart>")
                               : load_config_file(path);
  for (const std::string& assignment : overrides) apply_override(config, assignment);
  validate_config(config);
  return config;
}

std::string literal_override(const std::string& key, const std::string& value) {
  std::string quoted = "\"";  // a YAML double-quoted scalar reads back as exactly `value`
  for (const char c : value) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", static_cast<unsigned char>(c));
      quoted += escaped;
    } else {
      quoted += c;
    }
  }
  return key + "=" + quoted + "\"";
}

std::string config_to_yaml(const Config& config) { return emit(config, false); }

std::string documented_defaults_yaml() {
  return "# crest: every config key with its default value and what it accepts.\n"
         "# Generated by `crest print-config --defaults`; a test keeps this file in step with\n"
         "# the code. A config file only needs the keys it changes; unknown keys are errors.\n"
         "# Override any key on the command line with --set KEY=VALUE.\n\n" +
         emit(Config{}, true);
}

std::vector<std::string> config_differences(const Config& a, const Config& b) {
  std::vector<std::string> keys;
  for (const Field& field : fields()) {
    if (field.read(a) != field.read(b)) keys.push_back(field.path);
  }
  return keys;
}

std::string config_value(const Config& config, const std::string& key) {
  const Field* field = find_field(key);
  if (field == nullptr) throw ConfigError(unknown_key_message(key));
  return yaml_value(*field, field->read(config));
}

std::vector<std::string> config_keys() {
  std::vector<std::string> keys;
  for (const Field& field : fields()) keys.push_back(field.path);
  return keys;
}

}  // namespace crest
