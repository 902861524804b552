// Image-folder datasets: ROOT/train/<class>/* and ROOT/test/<class>/*, classes in sorted
// order (the label is the position of the folder name), files in sorted order. Decoded with
// OpenCV; without it (CREST_WITH_OPENCV off) reading throws a DataError saying how to get it.
#pragma once

#include <filesystem>

#include "crest/data/dataset.h"

namespace crest {

// True when this build can decode image files.
bool folder_datasets_available();

// Reads the folder dataset; every image must be image_size x image_size with 1 or 3 channels
// (grey is expanded to RGB). Errors name the file: missing root, no class folders, an empty
// class folder, train and test class folders that differ, an undecodable file, a wrong size.
DatasetPair read_image_folder(const std::filesystem::path& root, int image_size = 32);

}  // namespace crest
