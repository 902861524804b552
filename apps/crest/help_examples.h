// The example command lines that end each subcommand's --help (tests/cli/test_cli_polish.sh
// parses every one of them, and runs the cheap ones).
#pragma once

#include <CLI/CLI.hpp>

namespace crest_cli {

// Sets the footer of every subcommand of `app` (and of `data`'s) to its "Examples:" lines.
void add_help_examples(CLI::App& app);

}  // namespace crest_cli
