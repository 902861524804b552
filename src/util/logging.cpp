#include "crest/util/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <string>

namespace crest {

namespace {

// %* : the message with every control character but the line break and tab shown as \xNN, so no
// user string (a class or file name) can send terminal escapes or erase a line; the callers make
// user strings visible_text (util/text_escape.h), line breaks included, where they embed them.
class VisibleMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    for (const char c : msg.payload) {
      const auto byte = static_cast<unsigned char>(c);
      if ((byte < 0x20 && c != '\n' && c != '\t') || byte == 0x7F) {
        char hex[8];
        std::snprintf(hex, sizeof(hex), "\\x%02X", byte);
        dest.append(hex, hex + 4);
      } else {
        dest.push_back(c);
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<VisibleMessage>();
  }
};

std::unique_ptr<spdlog::formatter> visible_formatter(const std::string& pattern) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<VisibleMessage>('*').set_pattern(pattern);
  return formatter;
}

}  // namespace

void setup_logging(Verbosity verbosity) {
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  console->set_formatter(visible_formatter("[%H:%M:%S] %^%l%$ %*"));
  switch (verbosity) {
    case Verbosity::kQuiet:
      console->set_level(spdlog::level::warn);
      break;
    case Verbosity::kNormal:
      console->set_level(spdlog::level::info);
      break;
    case Verbosity::kVerbose:
      console->set_level(spdlog::level::debug);
      break;
  }
  auto logger = std::make_shared<spdlog::logger>("crest", console);
  logger->set_level(spdlog::level::debug);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

void add_log_file(const std::filesystem::path& file) {
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
  auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(file.string(), false);
  sink->set_formatter(visible_formatter("[%Y-%m-%d %H:%M:%S.%e] [%l] %*"));
  sink->set_level(spdlog::level::debug);
  spdlog::default_logger()->sinks().push_back(sink);
}

void log_to_files(const std::string& message) {
  const auto logger = spdlog::default_logger();
  const spdlog::details::log_msg msg(spdlog::source_loc{}, logger->name(), spdlog::level::info,
                                     message);
  for (const auto& sink : logger->sinks()) {
    if (dynamic_cast<spdlog::sinks::basic_file_sink_mt*>(sink.get()) == nullptr) continue;
    if (!sink->should_log(msg.level)) continue;
    sink->log(msg);
    sink->flush();
  }
}

}  // namespace crest
