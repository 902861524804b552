// Helpers shared by the unit tests.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <system_error>
#include <vector>

#include "crest/io/file.h"
#include "crest/util/error.h"

namespace crest {

// Runs `fn`, which must throw `Error` whose message contains every one of `needles`.
template <typename Error, typename Fn>
void expect_error(Fn&& fn, const std::vector<std::string>& needles) {
  try {
    fn();
    ADD_FAILURE() << "expected an exception, nothing was thrown";
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const auto& needle : needles) {
      EXPECT_NE(message.find(needle), std::string::npos)
          << "message lacks '" << needle << "':\n  " << message;
    }
  }
}

template <typename Fn>
void expect_data_error(Fn&& fn, const std::vector<std::string>& needles) {
  expect_error<DataError>(std::forward<Fn>(fn), needles);
}

template <typename Fn>
void expect_input_error(Fn&& fn, const std::vector<std::string>& needles) {
  expect_error<InputError>(std::forward<Fn>(fn), needles);
}

template <typename Fn>
void expect_config_error(Fn&& fn, const std::vector<std::string>& needles) {
  expect_error<ConfigError>(std::forward<Fn>(fn), needles);
}

// Writes `j` with `edit` applied to `file`, and expects `read` to throw a DataError naming the
// file and `needle`, never a raw json.exception (a tampered JSON file of a run).
inline void expect_refused(const std::filesystem::path& file, nlohmann::json j,
                           const std::function<void(nlohmann::json&)>& edit,
                           const std::function<void()>& read, const std::string& needle) {
  edit(j);
  write_file_atomic(file, j.dump());
  expect_data_error(read, {file.string(), needle});
  try {
    read();
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()).find("json.exception"), std::string::npos) << e.what();
  }
}

// A fixture with a fresh temporary folder `dir_` per test, removed afterwards.
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("crest-" + std::string(info->test_suite_name()) + "-" + std::to_string(::getpid()) +
            "-" + info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::filesystem::path dir_;
};

}  // namespace crest
