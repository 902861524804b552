// The run's resident data (selftrain/run_data.h) under data.protocol acr: the unlabeled stream
// of a generation is the whole LT set, the reference's unlabeled set, and marks the split's
// labeled images (train_split's -2) whatever the generation's labeled set holds; the selection
// pool (unlabeled_only) never holds a labeled image. Other protocols mark nothing.
#include "crest/selftrain/run_data.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

namespace crest {
namespace {

DataConfig synthetic(SplitProtocol protocol, std::int64_t n1, std::int64_t m1, double gamma_u) {
  DataConfig data;
  data.dataset = DatasetKind::kSynthetic;
  data.protocol = protocol;
  data.synthetic.classes = 3;
  data.synthetic.train_per_class = 30;
  data.synthetic.test_per_class = 4;
  data.num_labeled_head = n1;
  data.num_unlabeled_head = m1;
  data.imbalance_ratio_labeled = 4;
  data.imbalance_ratio_unlabeled = gamma_u;
  return data;
}

std::vector<std::int64_t> true_positions(const at::Tensor& marks) {
  const at::Tensor where = marks.nonzero().view(-1).contiguous();
  return {where.data_ptr<std::int64_t>(), where.data_ptr<std::int64_t>() + where.numel()};
}

TEST(RunDataTest, AcrStreamMarksExactlyTheSplitsLabeledImages) {
  for (const auto& data :
       {synthetic(SplitProtocol::kAcr, 10, 12, 3), synthetic(SplitProtocol::kAcr, 16, 8, -2),
        synthetic(SplitProtocol::kAcr, 5, 20, 1)}) {
    const RunData run = make_run_data(prepare_data(data), at::kCPU);
    ASSERT_TRUE(run.unlabeled_includes_labeled);
    std::vector<std::int64_t> targets;
    for (std::int64_t p : run.labeled_positions) {
      targets.push_back(run.lt_labels[static_cast<std::size_t>(p)]);
    }
    const TrainingData gen0 = generation_data(run, run.labeled_positions, targets);
    ASSERT_TRUE(gen0.unlabeled_is_labeled.defined());
    EXPECT_EQ(gen0.unlabeled_is_labeled.scalar_type(), at::kBool);
    EXPECT_EQ(gen0.unlabeled_index.numel(), static_cast<std::int64_t>(run.lt.size()));
    EXPECT_EQ(true_positions(gen0.unlabeled_is_labeled), run.labeled_positions);
    // The pool of the selection and the labeled set: disjoint, together the LT set.
    std::set<std::int64_t> all(run.labeled_positions.begin(), run.labeled_positions.end());
    for (std::int64_t p : run.unlabeled_only) EXPECT_TRUE(all.insert(p).second) << p;
    EXPECT_EQ(all.size(), run.lt.size());
    // A later generation's labeled set adds pseudo-labels; the marks stay the split's.
    std::vector<std::int64_t> positions = run.labeled_positions;
    positions.insert(positions.end(), run.unlabeled_only.begin(), run.unlabeled_only.begin() + 3);
    targets.insert(targets.end(), {0, 1, 2});
    const TrainingData gen1 = generation_data(run, positions, targets);
    EXPECT_EQ(true_positions(gen1.unlabeled_is_labeled), run.labeled_positions);
  }
}

TEST(RunDataTest, OtherProtocolsMarkNothing) {
  for (SplitProtocol protocol : {SplitProtocol::kDarp, SplitProtocol::kCrest}) {
    DataConfig data = synthetic(protocol, 10, 12, 3);
    data.imbalance_ratio = 3;
    const RunData run = make_run_data(prepare_data(data), at::kCPU);
    EXPECT_FALSE(run.unlabeled_includes_labeled);
    std::vector<std::int64_t> targets;
    for (std::int64_t p : run.labeled_positions) {
      targets.push_back(run.lt_labels[static_cast<std::size_t>(p)]);
    }
    EXPECT_FALSE(
        generation_data(run, run.labeled_positions, targets).unlabeled_is_labeled.defined());
  }
}

}  // namespace
}  // namespace crest
