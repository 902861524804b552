#include "crest/io/pretrain_files.h"

#include <nlohmann/json.hpp>
#include <tuple>

#include "crest/io/file.h"
#include "crest/io/json_text.h"
#include "crest/util/error.h"
#include "json_fields.h"

namespace crest {

namespace fs = std::filesystem;

using io_detail::json_member;
using io_detail::number_or_nan;

void append_pretrain_line(const fs::path& file, const PretrainLine& l) {
  const nlohmann::json j = {{"step", l.step},
                            {"epoch", l.epoch},
                            {"lr", l.lr},
                            {"loss", io_detail::number_or_null(l.loss)},
                            {"train_rotation_acc", l.train_rotation_accuracy},
                            {"test_rotation_acc", l.test_rotation_accuracy},
                            {"steps_per_sec", l.steps_per_sec}};
  append_line(file, json_text(j));
}

std::vector<PretrainLine> truncate_pretrain_metrics(const fs::path& file, std::int64_t step) {
  std::vector<PretrainLine> kept;
  for (const auto& [j, number] : io_detail::truncate_step_lines(
           file, step, "Move the pre-training folder away and start it again")) {
    const fs::path where(file.string() + ":" + std::to_string(number));
    PretrainLine l;
    std::tie(l.step, l.epoch) = io_detail::step_and_epoch(j, where);
    l.lr = number_or_nan(j, "lr");
    l.loss = number_or_nan(j, "loss");
    l.train_rotation_accuracy = number_or_nan(j, "train_rotation_acc");
    l.test_rotation_accuracy = number_or_nan(j, "test_rotation_acc");
    l.steps_per_sec = number_or_nan(j, "steps_per_sec");
    io_detail::check_ratio(l.train_rotation_accuracy, "'train_rotation_acc'", where);
    io_detail::check_ratio(l.test_rotation_accuracy, "'test_rotation_acc'", where);
    kept.push_back(l);
  }
  return kept;
}

namespace {

constexpr auto kRecordMembers = std::make_tuple(
    json_member("status", &PretrainRecord::status), json_member("steps", &PretrainRecord::steps),
    json_member("total_steps", &PretrainRecord::total_steps),
    json_member("images", &PretrainRecord::images),
    json_member("test_rotation_accuracy", &PretrainRecord::test_rotation_accuracy),
    json_member("backbone_fingerprint", &PretrainRecord::backbone_fingerprint),
    json_member("seconds", &PretrainRecord::seconds));

}  // namespace

void write_pretrain_record(const fs::path& file, const PretrainRecord& record) {
  io_detail::write_members_file(file, {{"format", "crest-pretrain"}}, record, kRecordMembers);
}

PretrainRecord read_pretrain_record(const fs::path& file) {
  PretrainRecord r;
  io_detail::read_members_file(file, r, kRecordMembers);
  if (r.status != "running" && r.status != "done") {
    throw DataError(file.string() + ": 'status' must be running or done, got '" + r.status + "'");
  }
  io_detail::check_count(r.steps, "'steps'", file);
  io_detail::check_count(r.total_steps, "'total_steps'", file);
  io_detail::check_count(r.images, "'images'", file);
  io_detail::check_ratio(r.test_rotation_accuracy, "'test_rotation_accuracy'", file);
  return r;
}

}  // namespace crest
