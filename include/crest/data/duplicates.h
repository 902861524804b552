// Exact duplicate images across the sets a run keeps apart. A test image copied into unlabeled/
// (or data.unlabeled_root), a validation image in train/, a labeled image again among the
// unlabeled ones: each leaks what one set should not know into another. Compared are the pixels
// the model sees: each image's uint8 [C, H, W] tensor after decoding and fitting to
// data.image_size (so a PNG copy of a JPEG's pixels, or another file name, is the same image),
// hashed and then compared byte for byte. Near duplicates (resized, recompressed, shifted) are
// not exact duplicates and are not found.
//
// Measured (docs/reliability.md "#28 kind 3"): CIFAR-10 (the 50,000 training and 10,000 test
// images) has no exact duplicate between train and test or inside train, so the standard runs
// pass the default data.duplicates: refuse. Cost: one hash over every image's bytes, in
// parallel (0.03 s for CIFAR-10's 60,000 images, 184 MB, on 2 idle cores).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crest/data/dataset.h"

namespace crest {

// One set of images a run keeps apart: rows `rows` of `dataset`, named `name` ("test", "val",
// "labeled", "unlabeled") and, for its images without a file, `index_name` ("test index",
// "train index") before the row.
struct ImageSet {
  std::string name;
  const Dataset* dataset = nullptr;
  std::vector<std::int64_t> rows;
  std::string index_name;
};

// An image of a later set (`set`, its row `row`) whose pixels equal those of an image of an
// earlier set (`earlier_set`, `earlier_row`), sets indexed as given.
struct Duplicate {
  std::size_t earlier_set = 0;
  std::int64_t earlier_row = 0;
  std::size_t set = 0;
  std::int64_t row = 0;
};

// Every image of a set that equals an image of an earlier set (each such image once, paired with
// the first equal image in the earliest set), in order of set and row. Images within one set are
// not compared with each other. The images of all sets must have one shape.
std::vector<Duplicate> find_duplicates(const std::vector<ImageSet>& sets);

// How an image is named in messages: its file (relative to data.root), or "INDEX_NAME ROW".
std::string image_name(const ImageSet& set, std::int64_t row);

// The duplicates for people: the total, then per pair of sets the count and up to
// `examples` pairs "A = B".
std::string describe_duplicates(const std::vector<ImageSet>& sets,
                                const std::vector<Duplicate>& duplicates, std::size_t examples);

}  // namespace crest
