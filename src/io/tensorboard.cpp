#include "crest/io/tensorboard.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <set>
#include <string>
#include <system_error>

#include "crest/io/generation_files.h"
#include "crest/io/selection_files.h"
#include "crest/io/training_files.h"
#include "crest/util/text_escape.h"

#if CREST_WITH_PROTOBUF
#include "tensorboard_event_codec.h"  // proto/: the only code that sees Protobuf
#endif

namespace crest {

namespace fs = std::filesystem;

namespace {

constexpr std::uint32_t kCastagnoli = 0x82F63B78u;  // CRC-32C, reflected
constexpr std::uint32_t kMaskDelta = 0xa282ead8u;   // TFRecord's CRC mask
#if CREST_WITH_PROTOBUF
constexpr char kFileVersion[] = "brain.Event:2";  // the first record of every event file
#endif

std::array<std::uint32_t, 256> crc32c_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) ? kCastagnoli : 0u);
    table[i] = crc;
  }
  return table;
}

void put_le(std::string& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFFu));
}

double unix_time_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace

bool tensorboard_supported() {
#if CREST_WITH_PROTOBUF
  return true;
#else
  return false;
#endif
}

std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t crc) {
  static const std::array<std::uint32_t, 256> kTable = crc32c_table();
  const auto* bytes = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (std::size_t i = 0; i < size; ++i) crc = kTable[(crc ^ bytes[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

std::uint32_t masked_crc32c(const void* data, std::size_t size) {
  const std::uint32_t crc = crc32c(data, size);
  return ((crc >> 15) | (crc << 17)) + kMaskDelta;
}

std::string tfrecord_frame(const std::string& data) {
  std::string length;
  put_le(length, data.size(), 8);
  std::string out = length;
  put_le(out, masked_crc32c(length.data(), length.size()), 4);
  out += data;
  put_le(out, masked_crc32c(data.data(), data.size()), 4);
  return out;
}

std::string event_file_name(std::int64_t unix_seconds, const std::string& hostname, int pid,
                            int n) {
  return "events.out.tfevents." + std::to_string(unix_seconds) + "." + hostname + "." +
         std::to_string(pid) + "." + std::to_string(n);
}

EventWriter::~EventWriter() {
  if (out_.is_open() && !failed_) out_.flush();
}

void EventWriter::fail(const std::string& what) {
  const int error = errno;  // what the stream's last system call left
  failed_ = true;
  spdlog::warn(
      "TensorBoard: {} {} failed ({}); no more TensorBoard events are written for this run "
      "(metrics.jsonl is the record; check the disk, or set run.tensorboard: false)",
      what, path_.string(),
      error != 0 ? std::error_code(error, std::generic_category()).message() : "write error");
}

bool EventWriter::open(const fs::path& dir) {
  if (!tensorboard_supported()) {
    spdlog::warn(
        "TensorBoard: this build of crest has no TensorBoard support (built without Protobuf); "
        "no event files are written. Install libprotobuf-dev and protobuf-compiler and rebuild, "
        "or set run.tensorboard: false");
    failed_ = true;
    return false;
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  const auto seconds = static_cast<std::int64_t>(unix_time_now());
  const std::string host = host_name();
  // A new file, never an existing one: a resumed generation's file sits beside the torn one.
  for (int n = 0; n < 1000; ++n) {
    path_ = dir / event_file_name(seconds, host, static_cast<int>(::getpid()), n);
    if (!fs::exists(path_, ec)) break;
  }
  errno = 0;
  out_.open(path_, std::ios::binary | std::ios::trunc);
  if (!out_) {
    fail("creating");
    return false;
  }
#if CREST_WITH_PROTOBUF
  write_record(tensorboard_codec::file_version_event(unix_time_now(), kFileVersion));
#endif
  flush();
  return is_open();
}

void EventWriter::write_record(const std::string& data) {
  if (!is_open()) return;
  const std::string record = tfrecord_frame(data);
  errno = 0;
  out_.write(record.data(), static_cast<std::streamsize>(record.size()));
  if (!out_) fail("writing");
}

void EventWriter::add_scalar(const std::string& tag, double value, std::int64_t step) {
  if (!is_open() || std::isnan(value)) return;
#if CREST_WITH_PROTOBUF
  write_record(
      tensorboard_codec::scalar_event(unix_time_now(), step, tag, static_cast<float>(value)));
#endif
}

void EventWriter::flush() {
  if (!is_open()) return;
  errno = 0;
  out_.flush();
  if (!out_) fail("writing");
}

std::vector<std::string> class_tags(const std::vector<std::string>& class_names) {
  std::vector<std::string> tags;
  std::set<std::string> taken;
  for (std::size_t c = 0; c < class_names.size(); ++c) {
    std::string tag = tensorboard_tag_part(class_names[c]);
    // Two names that sanitise alike ("a b", "a_b") keep apart by their class index.
    if (!taken.insert(tag).second) {
      tag += "_" + std::to_string(c);
      taken.insert(tag);
    }
    tags.push_back(tag);
  }
  return tags;
}

void add_metrics_scalars(EventWriter& writer, const MetricsLine& line,
                         const std::vector<std::string>& class_names) {
  if (!writer.is_open()) return;
  const std::int64_t step = line.step;
  writer.add_scalar("train/loss", line.loss, step);
  writer.add_scalar("train/loss_x", line.loss_x, step);
  writer.add_scalar("train/loss_u", line.loss_u, step);
  writer.add_scalar("train/mask_rate", line.mask_rate, step);
  writer.add_scalar("train/pseudo_label_acc", line.pseudo_label_acc, step);
  writer.add_scalar("train/lr", line.lr, step);
  writer.add_scalar("test/acc_raw", line.acc_raw, step);
  writer.add_scalar("test/acc_ema", line.acc_ema, step);
  writer.add_scalar("test/acc_raw_logit_adjusted", line.acc_raw_la, step);
  writer.add_scalar("test/acc_ema_logit_adjusted", line.acc_ema_la, step);
  writer.add_scalar("test/mean_recall_ema", line.mean_recall_ema, step);
  const std::vector<std::string> tags = class_tags(class_names);
  for (std::size_t c = 0; c < line.per_class_recall_ema.size() && c < tags.size(); ++c) {
    writer.add_scalar("recall_ema/" + tags[c], line.per_class_recall_ema[c], step);
  }
  writer.flush();
}

void add_generation_scalars(EventWriter& writer, const GenerationRow& row,
                            const SelectionRecord* selection, std::int64_t step) {
  if (!writer.is_open()) return;
  writer.add_scalar("generation/accuracy", row.accuracy, step);
  writer.add_scalar("generation/mean_recall", row.mean_recall, step);
  writer.add_scalar("generation/mean_precision", row.mean_precision, step);
  writer.add_scalar("generation/minority_recall", row.minority_recall, step);
  writer.add_scalar("generation/majority_recall", row.majority_recall, step);
  writer.add_scalar("generation/labeled", static_cast<double>(row.labeled), step);
  if (selection != nullptr) {
    const SelectionRecord& s = *selection;
    const std::vector<std::string> tags = class_tags(s.names);
    for (std::size_t c = 0; c < tags.size(); ++c) {
      if (c < s.selected.size()) {
        writer.add_scalar("selection/selected/" + tags[c], static_cast<double>(s.selected[c]),
                          step);
      }
      if (c < s.predicted.size()) {
        writer.add_scalar("selection/predicted/" + tags[c], static_cast<double>(s.predicted[c]),
                          step);
      }
    }
    writer.add_scalar("selection/selected_total", static_cast<double>(s.selected_total), step);
    if (s.truth_known) writer.add_scalar("selection/precision", s.precision_total, step);
  }
  writer.flush();
}

}  // namespace crest
