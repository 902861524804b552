// What `crest pretrain` leaves in its folder besides the checkpoint and the backbone:
// metrics.jsonl, one PretrainLine per epoch, and pretrain.json, the PretrainRecord (written
// when the pre-training starts, with status "running", and again at the end, "done").
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace crest {

struct PretrainLine {
  std::int64_t step = 0;
  std::int64_t epoch = 0;
  double lr = 0.0;
  double loss = 0.0;                     // mean rotation cross-entropy since the previous line
  double train_rotation_accuracy = 0.0;  // on the augmented training batches, same window
  double test_rotation_accuracy = 0.0;   // every test image in all four rotations
  double steps_per_sec = 0.0;
};

void append_pretrain_line(const std::filesystem::path& file, const PretrainLine& line);
// Keeps the lines up to `step` (a resume redoes the later ones) and returns them; DataError
// naming FILE:LINE for a line crest did not write (io_detail::truncate_step_lines).
std::vector<PretrainLine> truncate_pretrain_metrics(const std::filesystem::path& file,
                                                    std::int64_t step);

struct PretrainRecord {
  std::string status = "running";  // running | done
  std::int64_t steps = 0;          // done (at "done": all)
  std::int64_t total_steps = 0;
  std::int64_t images = 0;  // training images the rotations are drawn from
  double test_rotation_accuracy = 0.0;
  std::string backbone_fingerprint;  // at "done": of backbone.pt (models/wrn_weights.h)
  double seconds = 0.0;
};

void write_pretrain_record(const std::filesystem::path& file, const PretrainRecord& record);
// DataError naming the file when it is not valid JSON, lacks a field or has a bad value.
PretrainRecord read_pretrain_record(const std::filesystem::path& file);

}  // namespace crest
