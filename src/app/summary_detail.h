// Private to `crest summarize` (src/app/summarize.cpp reads and groups the runs,
// src/app/summary_tables.cpp writes the tables): what both halves share.
#pragma once

namespace crest::summary_detail {

// The beta of a group of data.protocol as_is runs, which use the labeled set as given (printed
// "as is").
constexpr double kAsIsBeta = -1.0;

}  // namespace crest::summary_detail
