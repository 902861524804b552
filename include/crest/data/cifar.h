// Readers and writers for the official CIFAR binary layouts.
//
// CIFAR-10: data_batch_1.bin .. data_batch_5.bin and test_batch.bin, records of
// 1 label byte + 3072 pixel bytes (1024 red, 1024 green, 1024 blue, row-major 32x32);
// class names from batches.meta.txt when present.
// CIFAR-100: train.bin and test.bin, records of 1 coarse + 1 fine label byte + 3072 pixel
// bytes; crest uses the fine labels; names from fine_label_names.txt when present.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "crest/data/dataset.h"

namespace crest {

constexpr int kCifarImageBytes = 3 * 32 * 32;

// Reads one CIFAR-10-layout file (label byte + 3072 bytes per record). Errors (DataError)
// name the file: missing, size not a whole number of records, label >= num_classes.
Dataset read_cifar10_file(const std::filesystem::path& file, int num_classes = 10);

// Reads the whole CIFAR-10 folder. A missing folder or file points to
// scripts/download_cifar.sh. torchvision's python layout (cifar_pickle.h) is read too: `root`
// holding data_batch_1 (no .bin), or its parent holding cifar-10-batches-py/.
DatasetPair read_cifar10(const std::filesystem::path& root);

// Reads one CIFAR-100-layout file (coarse + fine label bytes + 3072 bytes per record).
Dataset read_cifar100_file(const std::filesystem::path& file);

// Reads the whole CIFAR-100 folder (train.bin, test.bin), or torchvision's python layout:
// `root` holding train (no .bin), or its parent holding cifar-100-python/.
DatasetPair read_cifar100(const std::filesystem::path& root);

// Writes `dataset` (uint8 [N, 3, 32, 32]) in the CIFAR-10 record layout.
void write_cifar10_file(const std::filesystem::path& file, const Dataset& dataset);

// Writes a CIFAR-10-layout folder: the training set spread over data_batch_1..5.bin (as
// equal as possible, in order), test_batch.bin and batches.meta.txt with the class names.
void write_cifar10_folder(const std::filesystem::path& root, const DatasetPair& data);

// Writes `dataset` in the CIFAR-100 record layout (coarse label written as fine / 5).
void write_cifar100_file(const std::filesystem::path& file, const Dataset& dataset);

}  // namespace crest
