// TensorBoard event files (RUN/tb/gen_K/events.out.tfevents.*, tensorboard_dir in
// io/run_files.h): scalars written alongside
// metrics.jsonl so that `tensorboard --logdir RUN/tb` charts a run. The files are derived:
// metrics.jsonl, selection.json and generation.json stay the record, so a failed write warns once
// and stops TensorBoard output for the run, never the training.
//
// Format (TensorFlow's TFRecord of Event protos, proto/tensorboard_event.proto): each record is
//   uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)
// (little-endian), the data a serialized tensorflow.Event. The first record of a file holds
// file_version "brain.Event:2"; every scalar is one Event{wall_time, step, summary{value{tag,
// simple_value}}}. Writing needs Protobuf at build time (CREST_WITH_PROTOBUF); the framing and
// CRC32C below do not.
//
// Tags (docs/run-folder.md, "TensorBoard"), step = the generation's training step (metrics.jsonl's
// "step"):
//   train/loss, train/loss_x, train/loss_u, train/mask_rate, train/pseudo_label_acc, train/lr
//   test/acc_raw, test/acc_ema, test/acc_raw_logit_adjusted, test/acc_ema_logit_adjusted,
//   test/mean_recall_ema, recall_ema/<class>                          at every evaluation
//   generation/accuracy, generation/mean_recall, generation/mean_precision,
//   generation/minority_recall, generation/majority_recall, generation/labeled,
//   selection/selected/<class>, selection/predicted/<class>, selection/selected_total,
//   selection/precision                                  once per generation, at its last step
// <class> is the class name as one tag component (tensorboard_tag_part, util/text_escape.h: every
// character outside [A-Za-z0-9_.-] becomes '_'; a name that then equals an earlier class's gets
// "_<index>" appended), so a name never adds a tag level or an odd character.
// Unknown or undefined values (NaN: pseudo-label accuracy or selection precision without hidden
// labels, the recall of a class without test images) are not written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace crest {

struct MetricsLine;
struct GenerationRow;
struct SelectionRecord;

// Whether this build writes event files (it was built with Protobuf).
bool tensorboard_supported();

// CRC32C (Castagnoli, reflected polynomial 0x82F63B78, table-driven) of `size` bytes, continuing
// from `crc` (0 to start). CRC32C("123456789") = 0xE3069283.
std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t crc = 0);

// TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8, of crc32c(data).
std::uint32_t masked_crc32c(const void* data, std::size_t size);

// One TFRecord: the 8-byte little-endian length of `data`, its masked CRC, `data`, and the
// masked CRC of `data`: 16 + data.size() bytes.
std::string tfrecord_frame(const std::string& data);

// "events.out.tfevents.<unix seconds>.<hostname>.<pid>.<n>", TensorBoard's naming.
std::string event_file_name(std::int64_t unix_seconds, const std::string& hostname, int pid, int n);

// Appends scalars to a new event file. Every method is a no-op once writing failed or when not
// open; failures are logged as one warning and never thrown.
class EventWriter {
 public:
  EventWriter() = default;
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;
  ~EventWriter();  // flushes

  // Creates `dir` and a NEW event file in it (never appends to an existing one: after a resume a
  // generation gets a second file, and TensorBoard merges them), holding the file_version
  // record. Returns whether it is open; without Protobuf support, or when the file cannot be
  // created, warns and returns false.
  bool open(const std::filesystem::path& dir);

  // One Event with one Summary.Value{tag, simple_value = float(value)} at `step`; skipped when
  // `value` is NaN.
  void add_scalar(const std::string& tag, double value, std::int64_t step);

  // Pushes what was written to the file (called after each evaluation).
  void flush();

  bool is_open() const { return out_.is_open() && !failed_; }
  // Whether a write failed (the caller stops TensorBoard output for the rest of the run).
  bool failed() const { return failed_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void write_record(const std::string& data);
  void fail(const std::string& what);

  std::filesystem::path path_;
  std::ofstream out_;
  bool failed_ = false;
};

// The tag component of each class name (see <class> above), in class order.
std::vector<std::string> class_tags(const std::vector<std::string>& class_names);

// The scalars of one evaluation (train/*, test/*, recall_ema/<class>) at line.step.
void add_metrics_scalars(EventWriter& writer, const MetricsLine& line,
                         const std::vector<std::string>& class_names);

// The generation's test figures (generation/*) and, when `selection` is not null, its selection
// (selection/*), at `step` (the generation's last step).
void add_generation_scalars(EventWriter& writer, const GenerationRow& row,
                            const SelectionRecord* selection, std::int64_t step);

}  // namespace crest
